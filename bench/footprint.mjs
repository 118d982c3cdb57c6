// Agent footprint: the shipped agent (packages/agent/dist/vmmeet-agent.mjs, the bundle) as the jicofo
// node, enrolled and connected over wss:// to the coordinator daemon (in this process), holding the paper's
// rendered jicofo state, tailing its logs (/var/log/jicofo, /var/log/daemon) and sampling host metrics.
// Reference: a bare `node -e 'setInterval(()=>{},1e3)'` measured over the same window.
//
//   1. idle: after the first apply and a short settle, `idleMinutes` of nothing but heartbeats, probes and
//      metrics; CPU (utime+stime from /proc/PID/stat) over the window, VmRSS (median of its last minute).
//   2. growth: `applies` desired states sent through the coordinator's fleet.request (alternating two
//      renderings, so each apply rewrites jicofo.in.sh and restarts jicofo), then `lines` log lines appended
//      in chunks to /var/log/jicofo as fast as the agent reads them; RSS growth over the idle RSS, after a
//      15 s settle, also in quick mode (median of the samples of its last 5 s).
// rcctl and pfctl are lib/tool-stub.sh (see there why not the Node test doubles).
import { appendFile, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  createMaterial,
  enrollAgent,
  installStubs,
  paperSpecText,
  renderSpec,
  startAgent,
  startCoordinator,
  waitConnected,
} from "./lib/deployment.mjs";
import { figure } from "./lib/figure.mjs";
import { lineSource, linesText } from "./lib/logs.mjs";
import { cpuOf, cpuPercent, MB, memoryOf, rssSampler, startBareNode, waitFor } from "./lib/proc.mjs";
import { median, round } from "./lib/stats.mjs";

/** Seconds between the end of the log burst and the growth figure's 5 s of samples, in every mode. */
const AFTER_BURST_SETTLE_S = 15;

async function tailedOffset(stateDir, file) {
  try {
    const data = JSON.parse(await readFile(path.join(stateDir, "log-offsets.json"), "utf8"));
    const entries = data.files ?? data;
    const e = entries[file] ?? Object.entries(entries).find(([k]) => k.endsWith(file))?.[1];
    return typeof e?.offset === "number" ? e.offset : 0;
  } catch {
    return 0;
  }
}

export async function run({
  idleMinutes = 10,
  settleSeconds = 20,
  applies = 1000,
  lines = 1_000_000,
  log = () => {},
  keep = false,
}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bench-footprint-"));
  const state = path.join(dir, "coordinator");
  let daemon = null;
  let agent = null;
  let bare = null;
  try {
    const specA = await paperSpecText({ jicofoMaxMemory: "3G" });
    const specB = await paperSpecText({ jicofoMaxMemory: "2G" });
    await createMaterial(state, specA);
    const desired = [(await renderSpec(state, specA)).jicofo, (await renderSpec(state, specB)).jicofo];
    daemon = await startCoordinator({ stateDir: state });

    const base = path.join(dir, "jicofo");
    const root = path.join(base, "root");
    const { rcctl, pfctl } = await installStubs(root, ["rcctl", "pfctl"]);
    const node = {
      name: "jicofo",
      role: "jicofo",
      root,
      state: path.join(base, "state"),
      rcctl,
      tools: { pfctl },
      log: path.join(base, "agent.log"),
    };
    await enrollAgent(daemon, node);
    agent = startAgent(daemon, node);
    await waitConnected(daemon, ["jicofo"]);

    let generation = 0;
    const apply = async (d) => {
      generation += 1;
      const g = generation;
      const reply = await daemon.core.fleet.request(
        "jicofo",
        { type: "desired", generation: g, desired: d },
        60_000,
      );
      if (reply.type !== "apply-result" || !reply.ok)
        throw new Error(`apply of generation ${g} failed: ${reply.error ?? reply.type}`);
    };
    await apply(desired[0]);
    const tailed = path.join(node.root, "var/log/jicofo");
    await waitFor("jicofo's log file", () => stat(tailed).then(() => true));

    log(`footprint: settle ${settleSeconds} s, then idle for ${idleMinutes} min`);
    bare = startBareNode();
    await delay(settleSeconds * 1000);
    const samplerA = rssSampler(agent.pid, 1000);
    const samplerB = rssSampler(bare.pid, 1000);
    const a0 = cpuOf(agent.pid);
    const b0 = cpuOf(bare.pid);
    const t0 = performance.now();
    await delay(idleMinutes * 60_000);
    const seconds = (performance.now() - t0) / 1000;
    const a1 = cpuOf(agent.pid);
    const b1 = cpuOf(bare.pid);
    const idleA = samplerA.stop();
    const idleB = samplerB.stop();
    // The agent's RSS moves with its garbage collections (several MB within a minute): the median of the
    // last minute's samples (one per second), not whichever sample the window happened to end on.
    const lastMinute = (samples) => {
      const end = samples.at(-1)?.at ?? Date.now();
      return median(samples.filter((x) => x.at >= end - 60_000).map((x) => x.rss));
    };
    const agentRss = lastMinute(idleA);
    const idleSplit = memoryOf(agent.pid);
    const bareRss = lastMinute(idleB);
    const idleCpu = cpuPercent(a0, a1, seconds);
    const idleChildrenCpu = cpuPercent(a0, a1, seconds, "children");
    const bareCpu = cpuPercent(b0, b1, seconds);

    log(`footprint: ${applies} applies`);
    const sampler = rssSampler(agent.pid, 250);
    const tApplies = performance.now();
    // RSS every tenth of the way: a leak keeps climbing, a heap that found its size levels off.
    const curve = [];
    const every = Math.max(1, Math.round(applies / 10));
    for (let i = 0; i < applies; i++) {
      await apply(desired[(i + 1) % 2]);
      if ((i + 1) % every === 0) curve.push([`apply ${i + 1}`, round(memoryOf(agent.pid).rss / MB, 1)]);
    }
    const appliesSeconds = (performance.now() - tApplies) / 1000;
    const afterApplies = memoryOf(agent.pid).rss;

    log(`footprint: ${lines} log lines into /var/log/jicofo`);
    const source = lineSource({ components: ["jicofo"], seed: 11 });
    const chunk = Math.min(20_000, lines);
    const tLines = performance.now();
    let size = (await stat(tailed)).size;
    let pendingEnds = [];
    for (let done = 0; done < lines; done += chunk) {
      const text = linesText(source, Math.min(chunk, lines - done));
      // At most two chunks ahead of the agent: a steady backlog, never the whole file at once.
      if (pendingEnds.length >= 2) {
        const wait = pendingEnds.shift();
        await waitFor(
          "the agent to read the log",
          async () => (await tailedOffset(node.state, tailed)) >= wait,
          {
            timeoutMs: 120_000,
            intervalMs: 50,
          },
        );
      }
      await appendFile(tailed, text);
      size += Buffer.byteLength(text);
      pendingEnds.push(size);
      if ((done / chunk) % Math.max(1, Math.round(lines / chunk / 5)) === 0)
        curve.push([`line ${done + chunk}`, round(memoryOf(agent.pid).rss / MB, 1)]);
    }
    await waitFor(
      "the agent to read every line",
      async () => (await tailedOffset(node.state, tailed)) >= size,
      {
        timeoutMs: 180_000,
        intervalMs: 100,
      },
    );
    pendingEnds = [];
    const linesSeconds = (performance.now() - tLines) / 1000;
    // Not shortened in quick mode: the agent's HeapTrimmer (packages/agent/src/heap.ts) looks every 5 s
    // and collects once it finds a quiet 5 s, so 5 to 10 s after the burst; the median is of the last 5 s.
    // A 5 s settle measured the burst's garbage (+4 to 6 MB) instead of what the agent keeps.
    const settle = AFTER_BURST_SETTLE_S;
    await delay(settle * 1000);
    const samples = sampler.stop();
    const lastFive = samples.filter((s) => s.at >= Date.now() - 5000).map((s) => s.rss);
    const afterRss = median(lastFive.length > 0 ? lastFive : [memoryOf(agent.pid).rss]);
    const { hwm, ...afterSplit } = memoryOf(agent.pid);
    const growth = (afterRss - agentRss) / MB;

    const mb = (x) => round(x / MB, 1);
    return {
      figures: [
        figure({
          id: "footprint.idle-rss",
          name: `agent RSS after ${idleMinutes} min connected and idle (median of the last minute)`,
          value: agentRss / MB,
          unit: "MB",
          reference: { name: "bare node RSS", value: bareRss / MB, unit: "MB" },
          target: { on: "ratio", op: "<=", limit: 1.4, text: "at most 1.4x bare node" },
          details: {
            agentRssDuringIdleMB: {
              min: mb(Math.min(...idleA.map((s) => s.rss))),
              max: mb(Math.max(...idleA.map((s) => s.rss))),
            },
            bareRssDuringIdleMB: {
              min: mb(Math.min(...idleB.map((s) => s.rss))),
              max: mb(Math.max(...idleB.map((s) => s.rss))),
            },
            agent:
              "packages/agent/dist/vmmeet-agent.mjs (bundle), wss:// with an enrolled client certificate",
          },
        }),
        figure({
          id: "footprint.idle-cpu",
          name: `agent CPU over ${idleMinutes} min idle`,
          value: idleCpu,
          unit: "% of a core",
          reference: { name: "bare node CPU, same window", value: bareCpu, unit: "% of a core" },
          target: { op: "<", limit: 0.5, text: "below 0.5% of a core" },
          details: {
            windowSeconds: round(seconds, 1),
            childrenPercent: round(idleChildrenCpu, 3),
            childrenAre: "rcctl calls of the health probes (rcctl-stub.sh), not counted in the figure",
            heartbeatSeconds: 15,
          },
        }),
        figure({
          id: "footprint.rss-growth",
          name: `agent RSS growth over ${applies} applies and ${lines} log lines`,
          value: growth,
          unit: "MB",
          reference: { name: "agent RSS after the idle window", value: agentRss / MB, unit: "MB" },
          target: { op: "<", limit: 5, text: "below 5 MB" },
          details: {
            rssAfterAppliesMB: mb(afterApplies),
            rssAfterLinesMB: mb(afterRss),
            peakRssMB: mb(hwm),
            appliesSeconds: round(appliesSeconds, 1),
            appliesPerSecond: round(applies / appliesSeconds, 1),
            linesSeconds: round(linesSeconds, 1),
            linesPerSecond: Math.round(lines / linesSeconds),
            settleSeconds: settle,
            rssCurveMB: curve,
            // Where RSS is: anonymous memory (V8's heap, malloc, JIT code) against mapped files (node's
            // own text, which grows when a code path runs for the first time).
            anonMB: { idle: mb(idleSplit.anon), after: mb(afterSplit.anon) },
            fileMB: { idle: mb(idleSplit.file), after: mb(afterSplit.file) },
            // From 30% of the applies on: a leak keeps climbing after the heap has grown to its working
            // size, V8's heap sizing does not.
            growthAfterWarmupMB: curve.length > 2 ? round(afterRss / MB - curve[2][1], 1) : null,
          },
        }),
      ],
      notes: [],
    };
  } finally {
    await agent?.stop();
    await bare?.stop();
    await daemon?.stop();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}
