// Day two: what a push of a prosody-restarting change costs, against restarting prosody by hand.
// The worker (lib/restart-child.mjs) runs the sandbox deployment of the end-to-end tests (real coordinator
// and agents, the rcctl double, the simulators) and makes `rounds` pairs of samples, interleaved:
//   push     toggle xmppWebsocket and `vmmeet push` (prosody restart, nginx reload; jicofo and the bridge
//            reconnect by themselves): from the push's start until conference-ready again
//   restart  `rcctl restart prosody` on the xmpp VM: from the command's start until conference-ready again
// "Conference-ready again" = the verdict, and prosody saw focus and the bridge log in, and jicofo the bridge
// join its brewery, after the start. Both samples of a pair run with the same jicofo reconnect delay (common
// random numbers: the simulators' seed, VMMEET_SIM_SEED), so their difference is the push's own cost.
// Target: the push adds at most 2 s to the plain restart: p50 and p99 of each side, and of the pairs'
// differences.
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { figure } from "./lib/figure.mjs";
import { median, round, summary } from "./lib/stats.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));

function runChild(rounds) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--import", "tsx", path.join(HERE, "lib/restart-child.mjs"), "--rounds", String(rounds)],
      { cwd: path.join(HERE, ".."), maxBuffer: 16 << 20, timeout: rounds * 120_000 + 300_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`restart worker: ${err.message}\n${stderr.slice(-2000)}`));
        const line = stdout.trim().split("\n").pop() ?? "";
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(
            new Error(`restart worker printed no result:\n${stdout.slice(-2000)}${stderr.slice(-2000)}`),
          );
        }
      },
    );
  });
}

export async function run({ pushes, log }) {
  log(`restart: ${pushes} pairs of a prosody-restarting push and a plain prosody restart`);
  const { firstSeed, samples, phases } = await runChild(pushes);
  const pushMs = samples.push.map((x) => x.ms);
  const restartMs = samples.restart.map((x) => x.ms);
  // Pair i: the same seed, so the same smack delay for jicofo on both sides.
  const diffMs = pushMs.map((ms, i) => ms - restartMs[i]);
  const p = summary(pushMs);
  const r = summary(restartMs);
  const dd = summary(diffMs);
  const s = (ms) => round(ms / 1000, 3);
  // Where a push spends its time: per phase (lib/restart-child.mjs), the median over the pushes of ms since
  // the push's start, in the order they happen.
  const names = [...new Set(phases.flatMap((x) => Object.keys(x).filter((k) => typeof x[k] === "number")))];
  const phaseMs = Object.fromEntries(
    names
      .map((n) => [n, median(phases.map((x) => x[n]).filter((v) => v !== undefined))])
      .sort((a, b) => a[1] - b[1]),
  );
  // smack's delay as jicofo's log showed it (simulated seconds; the first countdown of the sample).
  const delay = (x) => x.jicofo.countdowns[0] ?? null;
  const details = {
    firstSeed,
    pushMs,
    restartMs,
    diffMs,
    push: p,
    restart: r,
    diff: dd,
    jicofoDelaySeconds: { push: samples.push.map(delay), restart: samples.restart.map(delay) },
    samples,
    phaseMs,
    phases,
  };
  const target = (limit) => ({
    on: "value",
    op: "<=",
    limit,
    text: "at most 2 s more than the plain restart",
  });
  const figures = ["p50", "p99"].flatMap((q) => [
    figure({
      id: `restart.push.${q}`,
      name: `push of a prosody-restarting change until conference-ready again: ${q}`,
      value: s(p[q]),
      unit: "s",
      reference: { name: `rcctl restart prosody until conference-ready, ${q}`, value: s(r[q]), unit: "s" },
      target: target(s(r[q]) + 2),
      details: q === "p50" ? details : undefined,
    }),
    figure({
      id: `restart.paired.${q}`,
      name: `push minus the plain restart of its pair (same jicofo reconnect delay): ${q}`,
      value: s(dd[q]),
      unit: "s",
      reference: { name: `rcctl restart prosody until conference-ready, ${q}`, value: s(r[q]), unit: "s" },
      target: target(2),
    }),
  ]);
  log(
    `restart: push phases (median ms since its start): ${Object.entries(phaseMs)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  log(
    `restart: push p50 ${s(p.p50)} s p99 ${s(p.p99)} s; plain restart p50 ${s(r.p50)} s p99 ${s(r.p99)} s; ` +
      `paired difference p50 ${s(dd.p50)} s p99 ${s(dd.p99)} s (seeds ${firstSeed} to ${firstSeed + pushes - 1}); target at most 2 s`,
  );
  log(`restart: ${figures.map((f) => `${f.id} ${f.pass ? "ok" : "MISSED"}`).join(", ")}`);
  return { figures, notes: [] };
}
