// `npm run demo`: the paper's deployment, live, in a local sandbox. A coordinator (`vmmeet serve`, TLS) and one
// real agent per VM (web, xmpp, jicofo, jvb and the VMM host), each VM a temporary root where the rcctl,
// pfctl and vmctl TEST DOUBLES stand in for OpenBSD and the prosody/jicofo/jvb/nginx SIMULATORS stand in for
// the Jitsi components (test/harness/deployment.ts). The agents enroll with join tokens, the spec is pushed,
// `vmmeet status` is followed until the deployment is conference-ready; then the demo breaks two things
// (kills the jvb, edits jicofo.conf by hand) and shows the agents repairing them.
//
//   npm run demo              interactive: keeps running with a live status until Ctrl-C, then cleans up
//   npm run demo -- --once    headless: exits 0 only when conference-ready was reached and both repairs seen
//   npm run demo -- --clean   removes what a demo killed with SIGKILL left (every run does that first)
//
// Ctrl-C in a terminal sends SIGINT to the whole foreground process group: npm, tsx, this demo and the
// coordinator and agents it spawned get it at once, and npm and tsx relay it once more. The demo therefore
// handles every SIGINT and SIGTERM (a second one must not kill it halfway through its cleanup), and the
// cleanup does not rely on its children still answering: it stops them, then sweeps every process that
// names the sandbox (demo/sweep.ts), including the simulated services, which run in sessions of their own.
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { StatusReport } from "@vmmeet/coordinator";
import { formatStatus } from "../packages/coordinator/dist/cli/commands/status.js";
import { doubleProcesses } from "../test/doubles/rcctl/index.js";
import { Deployment } from "../test/harness/deployment.js";
import { waitFor } from "../test/helpers/wait.js";
import { PID_FILE, SANDBOX_PREFIX, sweep, sweepLeftovers } from "./sweep.js";

const once = process.argv.includes("--once");
const out = (s: string) => process.stdout.write(s);
const step = (s: string) => out(`\n\x1b[1m== ${s}\x1b[0m\n`);

async function main(): Promise<number> {
  for (const left of await sweepLeftovers())
    out(`removed ${left.dir}, left by an earlier demo (${left.killed} processes stopped)\n`);
  if (process.argv.includes("--clean")) return 0;
  const dir = await mkdtemp(path.join(os.tmpdir(), SANDBOX_PREFIX));
  await writeFile(path.join(dir, PID_FILE), `${process.pid}\n`);
  let d: Deployment | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= (async () => {
      out("\nstopping the agents, the coordinator and every simulated service...\n");
      // Ctrl-C reached the coordinator and the agents too: stop() waits for them (5 s at most), the sweep
      // kills whatever is left.
      await Promise.race([d?.stop().catch(() => {}), delay(5000)]);
      await sweep(dir);
      out(`removed ${dir}\n`);
    })();
    return cleaning;
  };
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const)
    process.on(signal, () => {
      void cleanup().then(
        () => process.exit(code),
        (err: unknown) => {
          process.stderr.write(`demo: ${(err as Error).message}\n`);
          process.exit(1);
        },
      );
    });
  step("starting a sandbox: coordinator + 5 agents (enrolling with join tokens)");
  out(`sandbox: ${dir}\n`);
  try {
    d = await Deployment.start({
      dir,
      agentArgs: ["--heal-interval", "5", "--restart-backoff", "2"],
      serveArgs: ["--http", "127.0.0.1:0"],
    });
  } catch (err) {
    if (!cleaning) await cleanup();
    throw err;
  }
  try {
    out(`coordinator: ${d.coordinatorUrl}\nstatus page: ${d.statusPageUrl}\n`);
    out((await d.vmmeet("agents")).stdout);

    step("vmmeet push (prosody first, then jicofo and the bridges and, beside them, web)");
    const push = await d.push(120);
    out(push.stdout);
    if (push.code !== 0) {
      out(push.stderr);
      return 1;
    }

    step("vmmeet status, until conference-ready");
    const ready = await watchUntil(d, (s) => s.verdict.verdict === "conference-ready", 90_000);
    if (!ready) return 1;

    step("breaking things: kill -9 the jvb on its VM");
    const jvb = d.nodes.get("jvb")!;
    const since = Date.now();
    for (const p of doubleProcesses(jvb.root).filter(
      (x) => x.kind === "daemon" && /jvb-simulator/.test(x.cmdline),
    )) {
      process.kill(p.pid, "SIGKILL");
      out(`killed jvb (pid ${p.pid})\n`);
    }
    const jvbRepair = await waitEvent(d, "jvb", since, /repair-service/);

    step("breaking things: edit /etc/jicofo/jicofo.conf by hand on the jicofo VM");
    const file = path.join(d.nodes.get("jicofo")!.root, "etc/jicofo/jicofo.conf");
    const since2 = Date.now();
    await writeFile(file, (await readFile(file, "utf8")).replace("use-tls = true", "use-tls = false"));
    out(`changed use-tls = true to false in ${file}\n`);
    const fileRepair = await waitEvent(d, "jicofo", since2, /repair-file|repair-service/);

    step("vmmeet events (the audit log: pushes, repairs)");
    out((await d.vmmeet("events", "--limit", "12")).stdout);
    const again = await watchUntil(d, (s) => s.verdict.verdict === "conference-ready", 90_000);
    const ok = ready && again && jvbRepair && fileRepair;
    step(ok ? "conference-ready again; both repairs seen" : "the demo did not see what it expected");
    out(`
Where things are:
  ${d.specFile}              the spec
  ${d.stateDir}/             the coordinator's state: generations, audit.log, secrets and CA (0700)
  ${path.join(d.dir, "vms")}/NODE/          each VM's root: etc/..., var/log/jicofo, var/log/daemon
  ${path.join(d.dir, "agents")}/NODE/       each agent's state (last applied state, enrollment)
The CLI, from the checkout: npx vmmeet status --state ${d.stateDir}
  after editing the spec: npx vmmeet plan ${d.specFile} --state ${d.stateDir}, then push the same way
`);
    if (once) return ok ? 0 : 1;
    out("Live status below; Ctrl-C stops everything and removes the sandbox.\n");
    await watchUntil(d, () => false, Number.POSITIVE_INFINITY);
    return 0;
  } catch (err) {
    // A signal's cleanup stops the coordinator under the live status: that is no error to report.
    if (cleaning) return 0;
    out(`demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    if (once && !cleaning) await cleanup();
  }
}

/** Redraws the status whenever it changes, until the condition holds (true) or the time is up (false). */
async function watchUntil(
  d: Deployment,
  cond: (s: StatusReport) => boolean,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    const s = await d.status();
    const text = formatStatus(s);
    const key = text.replace(/\d+s ago|for \d+s|\d+m ago/g, "");
    if (key !== last) {
      last = key;
      out(`${once ? "" : "\x1b[2J\x1b[H"}${new Date().toISOString()}  vmmeet status\n${text}`);
    }
    if (cond(s)) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

async function waitEvent(d: Deployment, node: string, since: number, kind: RegExp): Promise<boolean> {
  try {
    const e = await waitFor(
      async () =>
        (await d.status()).nodes
          .find((n) => n.node === node)
          ?.events.find((x) => kind.test(x.kind) && Date.parse(x.at) >= since - 1000),
      { what: `a ${kind.source} event from ${node}`, timeoutMs: 60_000, intervalMs: 250 },
    );
    out(`${node}: ${e.kind}: ${e.message}\n`);
    return true;
  } catch (err) {
    out(`${(err as Error).message}\n`);
    return false;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  },
);
