// Day two: what a push of a prosody-restarting change costs, against restarting prosody by hand.
// The worker (lib/restart-child.mjs) runs the sandbox deployment of the end-to-end tests (real coordinator
// and agents, the rcctl double, the simulators) and alternates, `rounds` times:
//   push     toggle xmppWebsocket and `vmmeet push` (prosody restart, nginx reload; jicofo and the bridge
//            reconnect by themselves): from the push's start until conference-ready again
//   restart  `rcctl restart prosody` on the xmpp VM: from the command's start until conference-ready again
// "Conference-ready again" = the verdict, and prosody saw focus and the bridge log in, and jicofo the bridge
// join its brewery, after the start. Target: the push adds at most 2 s to the plain restart (p50 and p99).
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
  log(`restart: ${pushes} pushes of a prosody-restarting change and ${pushes} plain prosody restarts`);
  const { push, restart, phases } = await runChild(pushes);
  const p = summary(push);
  const r = summary(restart);
  const s = (ms) => round(ms / 1000, 3);
  // Where a push spends its time: per phase (lib/restart-child.mjs), the median over the pushes of ms since
  // the push's start, in the order they happen.
  const names = [...new Set(phases.flatMap((x) => Object.keys(x).filter((k) => typeof x[k] === "number")))];
  const phaseMs = Object.fromEntries(
    names
      .map((n) => [n, median(phases.map((x) => x[n]).filter((v) => v !== undefined))])
      .sort((a, b) => a[1] - b[1]),
  );
  const details = { pushMs: push, restartMs: restart, push: p, restart: r, phaseMs, phases };
  const figures = ["p50", "p99"].map((q) =>
    figure({
      id: `restart.push.${q}`,
      name: `push of a prosody-restarting change until conference-ready again: ${q}`,
      value: s(p[q]),
      unit: "s",
      reference: { name: `rcctl restart prosody until conference-ready, ${q}`, value: s(r[q]), unit: "s" },
      target: {
        on: "value",
        op: "<=",
        limit: s(r[q]) + 2,
        text: "at most 2 s more than the plain restart",
      },
      details: q === "p50" ? details : undefined,
    }),
  );
  log(
    `restart: push phases (median ms since its start): ${Object.entries(phaseMs)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  );
  log(`restart: push p50 ${s(p.p50)} s p99 ${s(p.p99)} s; plain restart p50 ${s(r.p50)} s p99 ${s(r.p99)} s`);
  log(
    `restart: the push adds ${figures
      .map(
        (f) =>
          `${round(f.value - f.reference.value, 2)} s at ${f.id.split(".").pop()} (${f.pass ? "ok" : "MISSED"})`,
      )
      .join(", ")}; target at most 2 s`,
  );
  return { figures, notes: [] };
}
