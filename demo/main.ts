// `npm run demo`: the paper's deployment, live, in a local sandbox. A coordinator (`vmmeet serve`, TLS) and one
// real agent per VM (web, xmpp, jicofo, jvb and the VMM host), each VM a temporary root where the rcctl,
// pfctl and vmctl TEST DOUBLES stand in for OpenBSD and the prosody/jicofo/jvb/nginx SIMULATORS stand in for
// the Jitsi components (test/harness/deployment.ts). The agents enroll with join tokens, the spec is pushed,
// `vmmeet status` is followed until the deployment is conference-ready; then the demo breaks two things
// (kills the jvb, edits jicofo.conf by hand) and shows the agents repairing them.
//
//   npm run demo              interactive: keeps running with a live status until Ctrl-C, then cleans up
//   npm run demo -- --once    headless: exits 0 only when conference-ready was reached and both repairs seen
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { formatStatus } from "../packages/coordinator/dist/cli/commands/status.js";
import type { StatusReport } from "../packages/coordinator/dist/index.js";
import { doubleProcesses } from "../test/doubles/rcctl/index.js";
import { Deployment } from "../test/harness/deployment.js";
import { waitFor } from "../test/helpers/wait.js";

const once = process.argv.includes("--once");
const out = (s: string) => process.stdout.write(s);
const step = (s: string) => out(`\n\x1b[1m== ${s}\x1b[0m\n`);

async function main(): Promise<number> {
  step("starting a sandbox: coordinator + 5 agents (enrolling with join tokens)");
  const d = await Deployment.start({
    agentArgs: ["--heal-interval", "5", "--restart-backoff", "2"],
    serveArgs: ["--http", "127.0.0.1:0"],
  });
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    out("\nstopping the agents, the coordinator and every simulated service...\n");
    await d.remove();
    out(`removed ${d.dir}\n`);
  };
  process.once("SIGINT", () => {
    void cleanup().then(() => process.exit(130));
  });
  process.once("SIGTERM", () => {
    void cleanup().then(() => process.exit(143));
  });
  try {
    out(`sandbox: ${d.dir}\ncoordinator: ${d.coordinatorUrl}\nstatus page: ${d.statusPageUrl}\n`);
    out((await d.vmmeet("agents")).stdout);

    step("vmmeet push (prosody first, then jicofo and the bridges, then web)");
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
  ${d.specFile}              the spec (edit it, then: cd ${d.dir} && vmmeet plan / vmmeet push)
  ${d.stateDir}/             the coordinator's state: generations, audit.log, secrets and CA (0700)
  ${path.join(d.dir, "vms")}/NODE/          each VM's root: etc/..., var/log/jicofo, var/log/daemon
  ${path.join(d.dir, "agents")}/NODE/       each agent's state (last applied state, enrollment)
The CLI: node ${path.relative(process.cwd(), path.resolve("packages/coordinator/dist/cli/main.js"))} status --state ${d.stateDir}
`);
    if (once) return ok ? 0 : 1;
    out("Live status below; Ctrl-C stops everything and removes the sandbox.\n");
    await watchUntil(d, () => false, Number.POSITIVE_INFINITY);
    return 0;
  } catch (err) {
    out(`demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    if (once) await cleanup();
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
      `a ${kind.source} event from ${node}`,
      async () =>
        (await d.status()).nodes
          .find((n) => n.node === node)
          ?.events.find((x) => kind.test(x.kind) && Date.parse(x.at) >= since - 1000),
      { timeoutMs: 60_000, intervalMs: 250 },
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
