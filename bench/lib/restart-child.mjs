// The restart benchmark's worker (run with `node --import tsx`, it loads the TypeScript sandbox harness):
// a whole sandbox deployment (test/harness/deployment.ts: coordinator, one agent per node, the rcctl double,
// the prosody/jicofo/jvb/nginx simulators) pushed once, conference-ready and past jicofo's and the bridge's
// start grace periods, then `rounds` pairs of two samples:
//   push      toggle xmppWebsocket in the spec and `vmmeet push` (prosody restarts, nginx reloads; jicofo
//             and the bridge reconnect): from the push's start until status says conference-ready
//   restart   `rcctl restart prosody` on the xmpp VM, as an admin would: from the command's start until
//             status says conference-ready again
// Common random numbers: how long jicofo is away after prosody's restart depends on smack's reconnect
// delay, 2 to 14 s drawn once per connection (test/simulators/lib.mjs RECONNECT; 0.2 to 1.4 s at the
// sandbox's time scale). Before each sample jicofo is restarted with the pair's seed (VMMEET_SIM_SEED,
// test/simulators/random.mjs), behind its agent's back as an admin would (the agent stopped meanwhile, so
// no grace period starts), so both samples of pair i wait the same delay and the pairs cover the delays a
// jicofo may draw. Pairs alternate which side goes first. Each push runs with --json: the coordinator's
// events carry their times, which give where a push spends its time (phases, ms from the push's start: the
// CLI's start-up until "accepted", each stage's start, each node's applied/gated/healthy, the rollout's
// end, and conference-ready seen by the status poll). Each sample keeps what the wait was on (`waitedOn`)
// and what jicofo's log says of its reconnection (`jicofo`). Prints one JSON line.
//
//   node --import tsx bench/lib/restart-child.mjs [--rounds N] [--seed N]   (--seed: the first pair's seed)
import { open, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { Deployment, stopProcess } from "../../test/harness/deployment.ts";
import { SIM_SEED_ENV } from "../../test/simulators/random.mjs";

const { values } = parseArgs({ options: { rounds: { type: "string" }, seed: { type: "string" } } });
const rounds = Number(values.rounds ?? 20);
const firstSeed = Number(values.seed ?? Math.floor(Math.random() * 0xffff0000));
if (!Number.isInteger(firstSeed) || firstSeed < 0 || firstSeed + rounds > 0xffffffff)
  throw new Error(`--seed ${values.seed}: not an integer from 0 to ${0xffffffff - rounds}`);
const PROSODY_LOGINS = ["c2s-authenticated-focus", "c2s-authenticated-jvb"];

/**
 * Polls status until conference-ready after a restart: every agent connected, the verdict, and since
 * `since` prosody has seen `logins` (focus and the bridge log in again) and jicofo the bridge join its
 * brewery (a status from before the restart would say conference-ready at once). Returns when it was
 * first seen (ms), and what it waited on before.
 */
async function readyAt(d, since, logins = PROSODY_LOGINS) {
  const deadline = Date.now() + 180_000;
  const after = (at) => Date.parse(at ?? "") >= since;
  const waitedOn = [];
  for (;;) {
    const st = await d.status();
    const health = st.nodes.flatMap((n) => n.health);
    const prosody = health.find((h) => h.component === "prosody");
    const jicofo = health.find((h) => h.component === "jicofo");
    const back =
      logins.every((name) => after(prosody?.signals.find((s) => s.signal === name)?.at)) &&
      after(jicofo?.bridgesSince?.jvb);
    const connected = st.nodes.every((n) => n.connected);
    if (back && connected && st.verdict.verdict === "conference-ready") return { at: Date.now(), waitedOn };
    // What held it back, once per distinct reason (kept in the details, to explain a slow sample).
    const why = !connected
      ? `not connected: ${st.nodes
          .filter((n) => !n.connected)
          .map((n) => n.node)
          .join(", ")}`
      : !back
        ? `not back: ${logins
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

/**
 * What jicofo's log says since `offset` (bytes of its log file): the countdown each reconnection cycle
 * started with (smack's delay before the attempt, in simulated seconds), how many attempts failed, and how
 * often jicofo started. Returns the new offset too.
 */
async function jicofoReconnects(file, offset) {
  const f = await open(file, "r");
  try {
    const { size } = await f.stat();
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await f.read(buf, 0, buf.length, offset);
    const countdowns = [];
    let failed = 0;
    let starts = 0;
    let prev = 0;
    for (const line of buf.toString("utf8").split("\n")) {
      const m = /XMPP reconnecting in: (\d+) seconds\./.exec(line);
      if (m) {
        const n = Number(m[1]);
        // A countdown starts where a number is not one below the previous one.
        if (n !== prev - 1 && !(n === 0 && prev === 0)) countdowns.push(n + 1);
        prev = n;
      } else if (line.includes("XMPP reconnection failed")) failed++;
      else if (line.includes("Starting Jicofo")) starts++;
    }
    return { offset: size, countdowns, failed, starts };
  } finally {
    await f.close();
  }
}

// Every process the sandbox starts inherits the seed: even a jicofo its agent's healer restarts draws the
// pair's delay again.
process.env[SIM_SEED_ENV] = String(firstSeed);
const d = await Deployment.start({ agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"] });
try {
  const first = await d.push(120);
  if (first.code !== 0) throw new Error(`the first push failed:\n${first.stdout}`);
  await d.waitVerdict("conference-ready", 60_000);
  // The first push started jicofo and the bridge: inside their 90 s grace period a problem reads
  // "starting" and the verdict waits for the period's end, which no sample should measure.
  await d.leaveGracePeriods();
  const jicofo = d.nodes.get("jicofo");
  if (!jicofo) throw new Error("the sandbox has no jicofo node");
  const jicofoLog = path.join(jicofo.root, "var/log/jicofo");
  let logAt = (await jicofoReconnects(jicofoLog, 0)).offset;
  const samples = { push: [], restart: [] };
  const phases = [];
  let websocket = false;
  /**
   * jicofo restarted with `seed` (a new connection: smack draws its delay from the seed), its agent
   * stopped meanwhile as Deployment.leaveGracePeriods does, then back: focus logged in and the bridge in
   * its brewery again, conference-ready.
   */
  const reseedJicofo = async (seed) => {
    await stopProcess(jicofo.agent);
    process.env[SIM_SEED_ENV] = String(seed);
    const t = Date.now();
    const rc = await d.rcctl("jicofo", "restart", "jicofo");
    if (rc.code !== 0) throw new Error(`rcctl restart jicofo: ${rc.stdout}${rc.stderr}`);
    await d.restartAgent("jicofo");
    await readyAt(d, t, ["c2s-authenticated-focus"]);
  };
  /** One push of the toggled xmppWebsocket, timed until conference-ready again. */
  const pushOnce = async (i) => {
    websocket = !websocket;
    const text = await readFile(d.specFile, "utf8");
    await writeFile(d.specFile, text.replace(/^xmppWebsocket: \w+/m, `xmppWebsocket: ${websocket}`));
    const t = Date.now();
    const r = await d.vmmeet("push", "--timeout", "300", "--json");
    if (r.code !== 0) throw new Error(`push ${i + 1} failed:\n${r.stdout}`);
    const ready = await readyAt(d, t);
    phases.push({ ...pushPhases(r.stdout, t), ready: ready.at - t });
    return { ms: ready.at - t, waitedOn: ready.waitedOn };
  };
  /** One `rcctl restart prosody` on the xmpp VM, timed until conference-ready again. */
  const restartOnce = async () => {
    const t = Date.now();
    const rc = await d.rcctl("xmpp", "restart", "prosody");
    if (rc.code !== 0) throw new Error(`rcctl restart prosody: ${rc.stdout}${rc.stderr}`);
    const ready = await readyAt(d, t);
    return { ms: ready.at - t, waitedOn: ready.waitedOn };
  };
  for (let i = 0; i < rounds; i++) {
    const seed = firstSeed + i;
    // Interleaved, and each side first in every other pair, so that neither always follows the other.
    for (const side of i % 2 === 0 ? ["push", "restart"] : ["restart", "push"]) {
      await reseedJicofo(seed);
      logAt = (await jicofoReconnects(jicofoLog, logAt)).offset;
      const sample = side === "push" ? await pushOnce(i) : await restartOnce();
      const seen = await jicofoReconnects(jicofoLog, logAt);
      logAt = seen.offset;
      const { countdowns, failed, starts } = seen;
      samples[side].push({ ...sample, seed, jicofo: { countdowns, failed, starts } });
    }
  }
  process.stdout.write(`${JSON.stringify({ firstSeed, samples, phases })}\n`);
} finally {
  await d.remove();
}
