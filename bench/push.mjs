// Push latency: the coordinator daemon (in this process, wss:// with enrolled agents) and one real agent
// process (the bundle) per node of the paper's topology plus a second bridge: vmm (the VMM host), web,
// xmpp, jicofo, jvb, jvb2. Services are sleepers (lib/sleeper.mjs: they start at once and hold the ports
// the health probes check); pfctl (and vmctl, vmd, sysctl on the host) are lib/tool-stub.sh. Two runs:
//   rcctl stub    rcctl is lib/tool-stub.sh (1 ms a call) and the sleepers run throughout: no service start
//                 time, what the target asks for. The push.p50/p99 figures.
//   rcctl double  every VM root is run by the rcctl test double (test/doubles/rcctl), which really stops and
//                 starts the sleepers; it is a Node program, so each of its calls costs a Node start-up.
//                 The push.double.* figures, with the time spent inside rcctl calls.
//
// One push = `vmmeet push` through the admin socket until its outcome: render, store, then the staged
// rollout (host, xmpp, jicofo + bridges, web), each stage applied by its agents and waiting for its health
// gate (nodes whose state does not change are applied aside). The pushes alternate two specs (the bridges'
// maxMemory and the web's prejoin), so every push rewrites jvb.in.sh on both bridges (a jvb restart each)
// and config.js on web. Sleepers write no logs, so when jicofo's gate waits for its brewery this benchmark
// appends jicofo's "Added brewery instance" lines for every bridge to /var/log/jicofo, as jicofo does once
// the bridges join.
//
// Reference: the round trip of a no-op admin call (status). Also measured, to explain the figure: the time
// before the first stage, each stage's apply and gate (medians), the CPU each agent and this process spent
// per push, and with the double the rcctl time on the critical path.
import { execFile } from "node:child_process";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  coordinatorLib,
  createMaterial,
  enrollAgent,
  paperSpecText,
  prepareNode,
  startAgent,
  startCoordinator,
  stopNodes,
  waitConnected,
} from "./lib/deployment.mjs";
import { figure } from "./lib/figure.mjs";
import { cpuOf } from "./lib/proc.mjs";
import { percentile, round, summary } from "./lib/stats.mjs";

const TOPOLOGY = [
  ["vmm", "host"],
  ["web", "web"],
  ["xmpp", "xmpp"],
  ["jicofo", "jicofo"],
  ["jvb", "jvb"],
  ["jvb2", "jvb"],
];
const BRIDGES = ["jvb", "jvb2"];

/** Wraps the rcctl double's wrapper to log each call's start and end (ns) for the attribution figures. */
async function timedRcctl(node) {
  const file = path.join(node.base, "rcctl-times.log");
  const wrapper = path.join(node.root, "bench-bin/rcctl-timed");
  await writeFile(
    wrapper,
    `#!/bin/sh\ns=$(date +%s%N)\n'${node.rcctl}' "$@"\nrc=$?\necho "$s $(date +%s%N)" >>'${file}'\nexit $rc\n`,
    { mode: 0o755 },
  );
  return { ...node, rcctl: wrapper, rcctlTimes: file };
}

/** One call of a tool as the agent makes it (exit status ignored: only its cost is wanted). */
const runTool = (file, args) => new Promise((resolve) => execFile(file, args, () => resolve()));

/** rcctl calls per node as [start, end] in ms since the epoch. */
async function rcctlTimes(nodes) {
  const out = new Map();
  for (const n of nodes) {
    const text = await readFile(n.rcctlTimes, "utf8").catch(() => "");
    const calls = [];
    for (const line of text.split("\n")) {
      const [s, e] = line.split(" ").map((x) => Number(x) / 1e6);
      if (Number.isFinite(s) && Number.isFinite(e)) calls.push([s, e]);
    }
    out.set(n.name, calls);
  }
  return out;
}

/** Time inside rcctl calls of one node within [from, to] (its calls are serialized by the agent). */
function rcctlWithin(calls, from, to) {
  let ms = 0;
  let count = 0;
  for (const [s, e] of calls ?? []) {
    const a = Math.max(s, from);
    const b = Math.min(e, to);
    if (b > a) {
      ms += b - a;
      count++;
    }
  }
  return { ms, count };
}

/** Jicofo's log lines when a bridge joins its brewery (corpus.jsonl, release 7648 and later layout). */
function breweryLines(domain) {
  const ts = new Date().toISOString().replace("T", " ").replace("Z", "");
  return BRIDGES.flatMap((b) => [
    `Jicofo ${ts} INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.addInstance#341: Added brewery instance: jvbbrewery@internal.auth.${domain}/${b}`,
    `Jicofo ${ts} INFO: [35] BridgeSelector.addJvbAddress#99: Added new videobridge: Bridge[jid=jvbbrewery@internal.auth.${domain}/${b}, version=2.3.160, relayId=null, region=null, correctedStress=0.0]`,
    `Jicofo ${ts} INFO: [36] JvbDoctor.bridgeAdded#134: Scheduled health-check task for: Bridge[jid=jvbbrewery@internal.auth.${domain}/${b}, version=2.3.160, relayId=null, region=null, correctedStress=0.0]`,
  ]).join("\n");
}

/** One deployment, its first rollout, then `pushes` measured pushes; rcctl is "stub" or "double". */
async function measure({ mode, pushes, log, keep }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), `vmmeet-bench-push-${mode}-`));
  const state = path.join(dir, "coordinator");
  let daemon = null;
  const nodes = [];
  const agents = [];
  try {
    const specs = [
      await paperSpecText({ jvbMaxMemory: "3G", prejoin: true }),
      await paperSpecText({ jvbMaxMemory: "2G", prejoin: false }),
    ];
    await createMaterial(state, specs[0]);
    daemon = await startCoordinator({ stateDir: state });
    const { adminCall } = await coordinatorLib();
    log(`push (rcctl ${mode}): enrolling and starting 6 agents`);
    for (const [name, role] of TOPOLOGY) {
      const node = await prepareNode(dir, name, role, { rcctl: mode });
      // The timing wrapper costs three process starts per call: only where it explains the figure.
      nodes.push(mode === "double" ? await timedRcctl(node) : node);
    }
    await Promise.all(nodes.map((n) => enrollAgent(daemon, n)));
    for (const n of nodes) agents.push(startAgent(daemon, n));
    await waitConnected(
      daemon,
      TOPOLOGY.map(([n]) => n),
    );

    const jicofo = nodes.find((n) => n.name === "jicofo");
    let events = [];
    const now = () => performance.timeOrigin + performance.now();
    daemon.core.on("push", (e) => {
      events.push({ ...e, t: now() });
      if (e.kind === "node" && e.node === "jicofo" && /bridges in jicofo's brewery/.test(e.message))
        appendFile(path.join(jicofo.root, "var/log/jicofo"), `${breweryLines("jts.fips.de")}\n`).catch(
          () => {},
        );
    });
    const push = (text, timeoutMs = 60_000) =>
      adminCall(daemon.adminSocket, "push", { specText: text, file: "bench.yaml", timeoutMs }, "bench");

    // The first push starts every service, registers prosody's users and writes every file: run it until
    // it succeeds, outside the measurement. The measured pushes then alternate, starting with the other spec.
    log(`push (rcctl ${mode}): first rollout (not measured)`);
    const warm = [];
    for (;;) {
      const r = await push(specs[0], 180_000);
      warm.push(r.ok ? "ok" : r.message.slice(0, 200));
      if (r.ok) break;
      if (warm.length >= 5) throw new Error(`the first rollout keeps failing: ${warm.join(" | ")}`);
    }

    log(`push (rcctl ${mode}): references`);
    const noop = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await adminCall(daemon.adminSocket, "status", {}, "bench");
      noop.push(performance.now() - t);
    }
    const checks = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await runTool(nodes[0].rcctl, ["check", "vmd"]);
      checks.push(performance.now() - t);
    }

    log(`push (rcctl ${mode}): ${pushes} pushes`);
    // CPU of each agent (and of what it ran: rcctl, pfctl...) and of this process (the coordinator and the
    // benchmark's driver) over the measured pushes: on a 2-core machine a push cannot be faster than the
    // CPU it takes, spread over both cores.
    const cpuBefore = agents.map((a) => cpuOf(a.pid));
    const ownBefore = process.cpuUsage();
    const runs = [];
    for (let i = 0; i < pushes; i++) {
      events = [];
      const t0 = now();
      const r = await push(specs[(i + 1) % 2]);
      const t1 = now();
      const times = mode === "double" ? await rcctlTimes(nodes) : new Map();
      // Per stage: from its start to the last of its nodes' first event after "applying" (the apply
      // phase), and the longest time one of its nodes spent inside rcctl meanwhile (the critical path).
      // Stages may run side by side (the web stage beside the bridges'): a node's events belong to the
      // stage that names it ("stage NAME: node, node"), and a stage ends with its nodes' last gate event.
      const stages = [];
      const stageOf = new Map();
      for (const e of events) {
        if (e.kind === "stage") {
          const stage = {
            name: e.stage,
            start: e.t,
            end: null,
            done: null,
            nodes: new Set(),
            applying: new Set(),
          };
          for (const n of e.message.replace(/^[^:]*: /, "").split(", ")) stageOf.set(n, stage);
          stages.push(stage);
        } else if (e.kind === "node" && stageOf.has(e.node)) {
          const stage = stageOf.get(e.node);
          if (e.phase === "applying") {
            stage.nodes.add(e.node);
            stage.applying.add(e.node);
          } else if (stage.applying.delete(e.node)) stage.end = Math.max(stage.end ?? e.t, e.t);
          if (e.phase === "healthy" || e.phase === "failed") stage.done = Math.max(stage.done ?? e.t, e.t);
        }
      }
      let applyMs = 0;
      const perStage = {};
      // Before the first stage: render, store, audit (the coordinator's own work).
      const preparedMs = stages.length ? stages[0].start - t0 : t1 - t0;
      let rcctlPathMs = 0;
      let rcctlCount = 0;
      let rcctlSumMs = 0;
      for (const [i2, st] of stages.entries()) {
        const until = st.done ?? stages[i2 + 1]?.start ?? t1;
        if (st.end !== null) applyMs += st.end - st.start;
        perStage[st.name] = { apply: (st.end ?? until) - st.start, gate: until - (st.end ?? until) };
        let longest = 0;
        for (const n of st.nodes) {
          const w = rcctlWithin(times.get(n), st.start, until);
          longest = Math.max(longest, w.ms);
        }
        rcctlPathMs += longest;
      }
      for (const calls of times.values()) {
        const w = rcctlWithin(calls, t0, t1);
        rcctlCount += w.count;
        rcctlSumMs += w.ms;
      }
      const restarted = events
        .filter((e) => e.kind === "node" && e.phase === "restarting")
        .map((e) => e.node)
        .sort()
        .join(",");
      runs.push({
        perStage,
        preparedMs,
        restarted,
        ok: r.ok,
        ms: t1 - t0,
        applyMs,
        rcctlPathMs,
        rcctlCount,
        rcctlSumMs,
        message: r.message,
      });
    }
    const perPush = (seconds) => round((seconds * 1000) / pushes, 1);
    const agentCpuMsPerPush = Object.fromEntries(
      agents.map((a, i) => {
        const [b, e] = [cpuBefore[i], cpuOf(a.pid)];
        const cpu =
          b && e ? { self: perPush(e.self - b.self), children: perPush(e.children - b.children) } : null;
        return [nodes[i].name, cpu];
      }),
    );
    const own = process.cpuUsage(ownBefore);
    const ok = runs.filter((x) => x.ok);
    const failed = runs.filter((x) => !x.ok);
    const details = {
      rcctl: mode === "double" ? "test/doubles/rcctl (Node)" : "bench/lib/tool-stub.sh (sh)",
      agents: TOPOLOGY.map(([n]) => n),
      pushes,
      failed: failed.length,
      ...(failed.length ? { failures: failed.slice(0, 3).map((f) => f.message) } : {}),
      pushMs: summary(ok.map((x) => round(x.ms, 1))),
      applyPhaseMs: summary(ok.map((x) => round(x.applyMs, 1))),
      gateAndRestMs: summary(ok.map((x) => round(x.ms - x.applyMs, 1))),
      // Medians per stage: apply (stage start -> last apply result), gate (-> next stage or the end).
      beforeFirstStageMs: round(
        percentile(
          ok.map((x) => x.preparedMs),
          50,
        ),
        1,
      ),
      stagesMedianMs: Object.fromEntries(
        Object.keys(ok[0]?.perStage ?? {}).map((k) => [
          k,
          {
            apply: round(
              percentile(
                ok.map((x) => x.perStage[k]?.apply ?? 0),
                50,
              ),
              1,
            ),
            gate: round(
              percentile(
                ok.map((x) => x.perStage[k]?.gate ?? 0),
                50,
              ),
              1,
            ),
          },
        ]),
      ),
      ...(mode === "double"
        ? {
            rcctlCallsPerPush: round(ok.reduce((a, x) => a + x.rcctlCount, 0) / Math.max(1, ok.length), 1),
            rcctlMsPerPushAllNodes: round(
              ok.reduce((a, x) => a + x.rcctlSumMs, 0) / Math.max(1, ok.length),
              0,
            ),
            rcctlMsOnCriticalPath: summary(ok.map((x) => round(x.rcctlPathMs, 1))),
            pushWithoutRcctlMs: summary(ok.map((x) => round(x.ms - x.rcctlPathMs, 1))),
          }
        : {}),
      rcctlCheckMs: summary(checks.map((x) => round(x, 1))),
      // ms of CPU per push: each agent itself and its children (rcctl and the other tools it ran), and
      // this process (the coordinator daemon and the benchmark's driver).
      agentCpuMsPerPush,
      coordinatorAndDriverCpuMsPerPush: perPush((own.user + own.system) / 1e6),
      // Each push must change something: the bridges restart every time.
      restartedPerPush: (() => {
        const m = new Map();
        for (const x of runs) m.set(x.restarted || "(none)", (m.get(x.restarted || "(none)") ?? 0) + 1);
        return [...m].map(([nodes, n]) => `${nodes}: ${n} pushes`);
      })(),
      change: "A/B: jvb maxMemory 3G/2G (jvb.in.sh, jvb restarts on both bridges), web prejoin (config.js)",
      warmup: warm,
    };
    return { ms: failed.length === 0 ? ok.map((x) => x.ms) : null, noopP50: percentile(noop, 50), details };
  } finally {
    await stopNodes(nodes, agents).catch(() => undefined);
    await daemon?.stop();
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}

export async function run({ pushes = 50, log = () => {}, keep = false }) {
  // The target's figure first (no service start time: the stub), then the same with the rcctl test double.
  const stub = await measure({ mode: "stub", pushes, log, keep });
  const double = await measure({ mode: "double", pushes, log, keep });
  const ref = (r) => ({ name: "no-op admin call round trip (p50)", value: r.noopP50, unit: "ms" });
  const value = (r, p) => (r.ms ? percentile(r.ms, p) : Number.POSITIVE_INFINITY);
  const name = (what, p) => `push to 6 agents until all applied and gated, ${what}: p${p} of ${pushes}`;
  return {
    figures: [
      figure({
        id: "push.p50",
        name: name("rcctl stub", 50),
        value: value(stub, 50),
        unit: "ms",
        reference: ref(stub),
        details: stub.details,
      }),
      figure({
        id: "push.p99",
        name: name("rcctl stub", 99),
        value: value(stub, 99),
        unit: "ms",
        reference: ref(stub),
        target: { op: "<=", limit: 250, text: "p99 at most 250 ms" },
      }),
      figure({
        id: "push.double.p50",
        name: name("rcctl test double", 50),
        value: value(double, 50),
        unit: "ms",
        reference: ref(double),
        details: double.details,
      }),
      figure({
        id: "push.double.p99",
        name: name("rcctl test double", 99),
        value: value(double, 99),
        unit: "ms",
        reference: ref(double),
      }),
    ],
    notes: [
      "push: the host node (vmm) has an agent too (the rollout's first stage), so 6 agent processes run",
      "push: the target is measured with rcctl = tool-stub.sh (services start in no time); the rcctl test double (a Node program per call) is shown beside it",
    ],
  };
}
