// The restart benchmark's worker (run with `node --import tsx`, it loads the TypeScript sandbox harness):
// a whole sandbox deployment (test/harness/deployment.ts: coordinator, one agent per node, the rcctl double,
// the prosody/jicofo/jvb/nginx simulators) pushed once and conference-ready, then rounds of two runs each:
//   push      toggle xmppWebsocket in the spec and `vmmeet push` (prosody restarts, nginx reloads; jicofo
//             and the bridge reconnect): from the push's start until status says conference-ready
//   restart   `rcctl restart prosody` on the xmpp VM, as an admin would: from the command's start until
//             status says conference-ready again
// The two alternate, so that both see the same machine. Each push runs with --json: the coordinator's events
// carry their times, which give where a push spends its time (phases, ms from the push's start: the CLI's
// start-up until "accepted", each stage's start, each node's applied/gated/healthy, the rollout's end, and
// conference-ready seen by the status poll). Prints one JSON line with the samples (ms).
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { Deployment } from "../../test/harness/deployment.ts";

const { values } = parseArgs({ options: { rounds: { type: "string" } } });
const rounds = Number(values.rounds ?? 20);

/**
 * Polls status until conference-ready after prosody's restart: the verdict, and prosody has seen focus and
 * the bridge log in again and jicofo the bridge join again since `since` (a status from before the restart
 * would say conference-ready at once). Returns when it was first seen (ms), and what it waited on before.
 */
async function readyAt(d, since) {
  const deadline = Date.now() + 180_000;
  const after = (at) => Date.parse(at ?? "") >= since;
  const waitedOn = [];
  for (;;) {
    const st = await d.status();
    const health = st.nodes.flatMap((n) => n.health);
    const prosody = health.find((h) => h.component === "prosody");
    const jicofo = health.find((h) => h.component === "jicofo");
    const back =
      ["c2s-authenticated-focus", "c2s-authenticated-jvb"].every((name) =>
        after(prosody?.signals.find((s) => s.signal === name)?.at),
      ) && after(jicofo?.bridgesSince?.jvb);
    if (back && st.verdict.verdict === "conference-ready") return { at: Date.now(), waitedOn };
    // What held it back, once per distinct reason (kept in the details, to explain a slow sample).
    const why = !back
      ? `not back: ${["c2s-authenticated-focus", "c2s-authenticated-jvb"]
          .filter((name) => !after(prosody?.signals.find((s) => s.signal === name)?.at))
          .concat(after(jicofo?.bridgesSince?.jvb) ? [] : ["jvb in the brewery"])
          .join(", ")}`
      : `${st.verdict.verdict}: ${st.verdict.reasons.join("; ")}`;
    if (waitedOn.at(-1)?.why !== why) waitedOn.push({ ms: Date.now() - since, why });
    if (Date.now() > deadline)
      throw new Error(`not conference-ready within 180 s: ${st.verdict.reasons.join("; ")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The push's phases from its --json events, ms since `t0`: "accepted", "stage NAME" (its start), "NODE
 * PHASE" (the first event of each node's phase: applying, restarting, gating, healthy) and "done".
 */
function pushPhases(stdout, t0) {
  const out = {};
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line);
    if (!e.at) continue;
    const key =
      e.kind === "stage"
        ? `stage ${e.message.replace(/^stage ([^:]+):.*$/, "$1")}`
        : e.kind === "node"
          ? `${e.node} ${e.phase}`
          : e.kind;
    out[key] ??= Date.parse(e.at) - t0;
  }
  return out;
}

const d = await Deployment.start({ agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"] });
try {
  const first = await d.push(120);
  if (first.code !== 0) throw new Error(`the first push failed:\n${first.stdout}`);
  await d.waitVerdict("conference-ready", 60_000);
  const push = [];
  const restart = [];
  const phases = [];
  let websocket = false;
  for (let i = 0; i < rounds; i++) {
    websocket = !websocket;
    const text = await readFile(d.specFile, "utf8");
    await writeFile(d.specFile, text.replace(/^xmppWebsocket: \w+/m, `xmppWebsocket: ${websocket}`));
    let t = Date.now();
    const r = await d.vmmeet("push", "--timeout", "300", "--json");
    if (r.code !== 0) throw new Error(`push ${i + 1} failed:\n${r.stdout}`);
    const ready = await readyAt(d, t);
    push.push(ready.at - t);
    phases.push({ ...pushPhases(r.stdout, t), ready: ready.at - t, waitedOn: ready.waitedOn });
    t = Date.now();
    const rc = await d.rcctl("xmpp", "restart", "prosody");
    if (rc.code !== 0) throw new Error(`rcctl restart prosody: ${rc.stdout}${rc.stderr}`);
    restart.push((await readyAt(d, t)).at - t);
  }
  process.stdout.write(`${JSON.stringify({ push, restart, phases })}\n`);
} finally {
  await d.remove();
}
