// Fleet scale: many agents on one coordinator through the real protocol over wss:// with enrolled client
// certificates. The agents are the agent's own AgentTransport, packed several hundred to a process
// (lib/fleet-clients.mjs); the coordinator is the daemon in a process of its own (lib/coordinator-child.mjs).
//
// Figures:
//   - reconnect: after a coordinator restart (SIGTERM, a new process on the same port and state directory),
//     the time until every agent is connected again, spread by the agents' backoff jitter. Measured from the
//     old process's exit; reference: the coordinator's own restart time (exit -> listening).
//   - fan-out: one desired state to every agent at once through the core's fleet.request (the path each
//     rollout stage takes); p99 of the time until each agent's apply-result arrived. We do not push a spec
//     with N bridges through the rollout: its stages would add the render of N nodes and the brewery gate,
//     and the coordinator accepts any enrolled node before a spec is in force. Reference: the round trip
//     of one desired state to one agent.
//   - coordinator RSS: the highest VmRSS sampled during the whole benchmark (both processes); reference:
//     bare node.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { coordinatorLib, createMaterial, paperSpecText, REPO, renderSpec } from "./lib/deployment.mjs";
import { figure } from "./lib/figure.mjs";
import { forkChild } from "./lib/ipc.mjs";
import { MB, memoryOf, startBareNode } from "./lib/proc.mjs";
import { percentile, round, summary } from "./lib/stats.mjs";

const COORDINATOR = path.join(REPO, "bench/lib/coordinator-child.mjs");
const CLIENTS = path.join(REPO, "bench/lib/fleet-clients.mjs");

export async function run({ agents: n = 1000, processes = 4, fanouts = 3, log = () => {}, keep = false }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bench-fleet-"));
  const state = path.join(dir, "coordinator");
  const names = Array.from({ length: n }, (_, i) => `jvb${String(i + 1).padStart(4, "0")}`);
  const children = [];
  let coordinator = null;
  let sampler = null;
  const bare = startBareNode();
  try {
    // The CA (and the paper's secrets) in the state directory; the spec itself is never pushed.
    const specText = await paperSpecText({});
    await createMaterial(state, specText);
    const desired = (await renderSpec(state, specText)).jvb;
    const { adminCall } = await coordinatorLib();

    const startCoordinator = async (port) => {
      const c = forkChild(COORDINATOR, [state, String(port)]);
      const ready = await c.once("ready");
      return Object.assign(c, { port: ready.port, adminSocket: ready.adminSocket });
    };
    coordinator = await startCoordinator(0);
    const url = `wss://127.0.0.1:${coordinator.port}/agent`;

    // RSS of whichever coordinator process runs, sampled all along.
    let peak = { rss: 0, at: "" };
    let phase = "setup";
    const rssSamples = [];
    sampler = setInterval(() => {
      const m = coordinator ? memoryOf(coordinator.pid) : null;
      if (!m) return;
      rssSamples.push({ phase, rss: m.rss });
      if (m.rss > peak.rss) peak = { rss: m.rss, at: phase };
    }, 200);

    log(`fleet: ${n} join tokens`);
    const tokens = [];
    for (let i = 0; i < n; i += 25) {
      const batch = names.slice(i, i + 25);
      tokens.push(
        ...(await Promise.all(
          batch.map((node) => adminCall(coordinator.adminSocket, "agent-token", { node }, "bench")),
        )),
      );
    }
    const caHash = tokens[0].caHash;
    log(`fleet: enrolling ${n} agents in ${processes} processes`);
    for (let p = 0; p < processes; p++) {
      const c = forkChild(CLIENTS);
      await c.once("ready");
      children.push(c);
    }
    const share = (list, p) => list.filter((_, i) => i % processes === p);
    await Promise.all(
      children.map((c, p) =>
        c.call("enroll", {
          url,
          caHash,
          tokens: share(tokens, p).map((t) => ({ node: t.node, token: t.token })),
        }),
      ),
    );

    const connected = async () => (await coordinator.call("connected", { nodes: names })).count;
    /** Times (ms from `t0`) when the connected count first reached 50%, 99% and 100%. */
    const waitAll = async (t0, timeoutMs) => {
      const marks = {};
      for (;;) {
        const count = await connected().catch(() => 0);
        const t = performance.now() - t0;
        for (const [k, frac] of [
          ["p50", 0.5],
          ["p99", 0.99],
          ["all", 1],
        ])
          if (marks[k] === undefined && count >= Math.ceil(frac * n)) marks[k] = t;
        if (count >= n) return { ...marks, count };
        if (t > timeoutMs) return { ...marks, count };
        await delay(50);
      }
    };

    log(`fleet: connecting ${n} agents`);
    phase = "first connect";
    const t0 = performance.now();
    await Promise.all(children.map((c) => c.call("start", { url, desired })));
    const first = await waitAll(t0, 120_000);
    if (first.count < n) throw new Error(`only ${first.count} of ${n} agents connected within 120 s`);
    await delay(2000);
    phase = "connected";
    const steadyRss = memoryOf(coordinator.pid)?.rss ?? 0;

    log(`fleet: fan-out to ${n} agents (x${fanouts})`);
    phase = "fan-out";
    const one = [];
    for (let i = 0; i < 20; i++) {
      const r = await coordinator.call("fanout", {
        nodes: [names[i % n]],
        generation: 1 + i,
        desired,
        timeoutMs: 10_000,
      });
      if (r.ms[0] !== null) one.push(r.ms[0]);
    }
    const fan = [];
    for (let i = 0; i < fanouts; i++) {
      const r = await coordinator.call("fanout", {
        nodes: names,
        generation: 100 + i,
        desired,
        timeoutMs: 30_000,
      });
      const acked = r.ms.filter((x) => x !== null);
      fan.push({
        acked: acked.length,
        p50: percentile(acked, 50),
        p99: percentile(acked, 99),
        max: Math.max(...acked),
        errors: r.errors,
      });
      await delay(1000);
    }

    log("fleet: restarting the coordinator");
    phase = "restart";
    await coordinator.stop();
    const down = performance.now();
    coordinator = await startCoordinator(coordinator.port);
    const listening = performance.now() - down;
    const back = await waitAll(down, 120_000);
    phase = "reconnected";
    await delay(2000);
    const afterRss = memoryOf(coordinator.pid)?.rss ?? 0;
    const counts = await Promise.all(children.map((c) => c.call("count")));
    const bareRss = memoryOf(bare.pid)?.rss ?? 0;

    const byFanout = [...fan].sort((a, b) => a.p99 - b.p99);
    const median = byFanout[Math.floor((byFanout.length - 1) / 2)];
    const allAcked = fan.every((f) => f.acked === n);
    const oneP50 = percentile(one, 50);
    const tls = true;
    return {
      figures: [
        figure({
          id: "fleet.reconnect-all",
          name: `${n} agents back after a coordinator restart`,
          value: (back.all ?? Number.POSITIVE_INFINITY) / 1000,
          unit: "s",
          reference: { name: "coordinator restart (exit to listening)", value: listening / 1000, unit: "s" },
          target: { op: "<=", limit: 30, text: "all back within 30 s" },
          details: {
            agents: n,
            tls,
            connectedAtEnd: back.count,
            halfBackS: round((back.p50 ?? Number.NaN) / 1000, 2),
            p99BackS: round((back.p99 ?? Number.NaN) / 1000, 2),
            firstConnectAllS: round(first.all / 1000, 2),
            reconnectsCounted: counts.reduce((a, c) => a + c.reconnects, 0),
            backoff: "agent default: 500 ms doubling to 30 s, jitter 0.5 (packages/node/src/backoff.ts)",
          },
        }),
        figure({
          id: "fleet.fanout-p99",
          name: `one desired state to ${n} agents: p99 until acknowledged`,
          value: allAcked ? median.p99 : Number.POSITIVE_INFINITY,
          unit: "ms",
          reference: {
            name: "round trip of one desired state to one agent (p50)",
            value: oneP50,
            unit: "ms",
          },
          target: { op: "<=", limit: 3000, text: "push to all acknowledged within 3 s (p99)" },
          details: {
            path: "core.fleet.request to every node at once (not a rollout of an N-bridge spec)",
            payloadBytes: Buffer.byteLength(JSON.stringify(desired)),
            runs: fan.map((f) => ({
              acked: f.acked,
              p50: round(f.p50, 1),
              p99: round(f.p99, 1),
              max: round(f.max, 1),
              ...(f.errors.length ? { errors: f.errors } : {}),
            })),
            oneAgent: summary(one.map((x) => round(x, 2))),
          },
        }),
        figure({
          id: "fleet.coordinator-rss",
          name: `coordinator RSS with ${n} agents (peak)`,
          value: peak.rss / MB,
          unit: "MB",
          reference: { name: "bare node RSS", value: bareRss / MB, unit: "MB" },
          target: { op: "<=", limit: 300, text: "coordinator RSS at most 300 MB" },
          details: {
            peakDuring: peak.at,
            connectedSteadyMB: round(steadyRss / MB, 1),
            afterReconnectMB: round(afterRss / MB, 1),
            perAgentKB: round((steadyRss - bareRss) / n / 1024, 1),
          },
        }),
      ],
      notes: [
        `fleet: ${n} agents over wss:// with enrolled client certificates (tls: true), ${processes} client processes`,
      ],
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await Promise.all(children.map((c) => c.call("stop").catch(() => undefined)));
    await Promise.all(children.map((c) => c.stop()));
    await coordinator?.stop();
    await bare.stop();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}
