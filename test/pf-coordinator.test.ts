// pf commit-confirm through the real coordinator daemon: the jvb VM runs the real agent process (pfctl and
// rcctl doubles), the other nodes are scripted agents, and the jvb agent reaches the coordinator through a
// proxy that plays the VM's network: while the rules pfctl holds as loaded do not pass tcp out to the
// coordinator's port (7443), every connection is dropped. A push that moves the port to 7444 in the spec
// (without moving the coordinator) therefore shuts the VM out: the push fails, the agent reverts after the
// spec's window (operations.pfConfirmSeconds, 5 s), comes back, catches up, and both the confirmation of the
// first push and the revert are events in `vmmeet status` and `vmmeet events`.
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { adminCall, CoordinatorDaemon, runCli } from "@vmmeet/coordinator";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadedRules, loadedRulesNow, makePfctl } from "./doubles/pfctl/index.js";
import { killDoubleProcesses, makeRcctl, writeRcScript } from "./doubles/rcctl/index.js";
import { fixturesDir } from "./fixtures/material.js";
import { materialTemplate } from "./helpers/material-template.js";
import { type CapturedChild, spawnAgent, useCleanups } from "./helpers/processes.js";
import { goodHealth, ScriptedAgent } from "./helpers/scripted-agent.js";
import { waitFor } from "./helpers/wait.js";

const logger = pino({ level: "silent" });
let template: string;
let specA = "";

beforeAll(async () => {
  const paper = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  specA = `${paper}operations:\n  pfConfirmSeconds: 5\n`;
  template = await materialTemplate(specA, "vmmeet-pfc-template-");
});
afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

const cleanups = useCleanups();

/** The VM's network as its pf rules shape it: connections die while `open()` says no. */
async function vmNetwork(target: number, open: () => boolean): Promise<number> {
  const links = new Set<net.Socket[]>();
  const server = net.createServer((client) => {
    if (!open()) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target, "127.0.0.1");
    const link = [client, upstream];
    links.add(link);
    const cut = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on("data", (d) => (open() ? upstream.write(d) : cut()));
    upstream.on("data", (d) => (open() ? client.write(d) : cut()));
    for (const s of link) {
      s.on("close", cut);
      s.on("error", cut);
    }
  });
  // Shut out also when nothing is sent: the link is dead the moment the rules say so.
  const timer = setInterval(() => {
    if (!open()) for (const l of [...links]) for (const s of l) s.destroy();
  }, 20);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        clearInterval(timer);
        for (const l of links) for (const s of l) s.destroy();
        server.close(() => r());
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function jvbVm(dir: string) {
  const root = path.join(dir, "jvb");
  const state = path.join(dir, "jvb-state");
  await mkdir(path.join(root, "etc"), { recursive: true });
  const rcctl = await makeRcctl(root);
  const pfctl = await makePfctl(root);
  const sleeper = path.join(dir, "sleeper.mjs");
  await writeFile(sleeper, 'process.on("SIGHUP", () => {});\nsetInterval(() => {}, 1000);\n');
  await writeRcScript(root, "jvb", { daemon: `${process.execPath} ${sleeper} jvb-sleeper`, timeout: 5 });
  await writeRcScript(root, "syslogd", { daemon: `${process.execPath} ${sleeper} syslogd`, timeout: 5 });
  cleanups.push(() => killDoubleProcesses(root));
  return { root, state, rcctl, pfctl };
}

function startAgent(vm: Awaited<ReturnType<typeof jvbVm>>, url: string): CapturedChild {
  return spawnAgent(
    [
      ...["--node", "jvb", "--coordinator", url, "--state-dir", vm.state, "--root", vm.root],
      ...["--rcctl", vm.rcctl, "--pfctl", vm.pfctl, "--lenient-accounts", "--log-level", "debug"],
    ],
    { cleanups },
  );
}

describe("pf commit-confirm with the coordinator", () => {
  it("confirms a push over the live link, and a VM the new rules shut out reverts them and says so", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-pfc-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const state = path.join(dir, "state");
    await cp(path.join(template, "state"), state, { recursive: true });
    const daemon = new CoordinatorDaemon({
      stateDir: state,
      listen: { host: "127.0.0.1", port: 0 },
      logger,
      heartbeatMs: 500,
      applyTimeoutMs: 30_000,
      insecure: true,
    });
    await daemon.start();
    cleanups.push(() => daemon.stop());
    const url = `ws://127.0.0.1:${daemon.port}/agent`;
    for (const n of ["vmm", "web", "xmpp", "jicofo"]) {
      const a = new ScriptedAgent(url, n, { health: goodHealth });
      await a.connect();
      cleanups.push(() => a.close());
    }

    const vm = await jvbVm(dir);
    // Open unless pfctl holds rules and none of them passes tcp out to port 7443. Read at each check, as
    // pf applies a ruleset the moment pfctl -f returns: a copy polled every few ms let the agent's answer
    // through the new rules on a loaded machine.
    const open = () => {
      const rules = loadedRulesNow(vm.root);
      return rules === null || /^pass out\b.*\bproto tcp\b.*\bport 7443\b/m.test(rules);
    };
    const port = await vmNetwork(daemon.port, open);
    const agent = startAgent(vm, `ws://127.0.0.1:${port}/agent`);
    await waitFor(() => daemon.core.fleet.connected("jvb"), { what: "jvb connected", timeoutMs: 20_000 });

    const socket = path.join(state, "admin.sock");
    const push = async (text: string) => {
      const res = await adminCall(
        socket,
        "push",
        { specText: text, file: "vmmeet.yaml", timeoutMs: 60_000 },
        "t",
      );
      if ("accepted" in res) throw new Error("a push without noWait answered before its rollout ended");
      return res;
    };
    const status = () => adminCall(socket, "status", {}, "tester");
    const jvbEvents = async () => (await status()).nodes.find((n) => n.node === "jvb")?.events ?? [];

    const first = await push(specA);
    expect(first.ok, `${first.message}\n${agent.output().slice(-4000)}`).toBe(true);
    const confirmed = await waitFor(async () => (await jvbEvents()).find((e) => e.kind === "pf-confirmed"), {
      what: "pf-confirmed in status",
    });
    expect(confirmed.message).toMatch(/confirmed \/etc\/pf\.conf of generation 1 within its 5 s window/);
    expect(await loadedRules(vm.root)).toMatch(/port 7443/);
    const pfConf1 = await readFile(path.join(vm.root, "etc/pf.conf"), "utf8");

    // The port moves in the spec, not on the coordinator: the jvb VM's new rules shut it out.
    const second = await push(specA.replace("  name: vmm\n", "  name: vmm\n  coordinatorPort: 7444\n"));
    expect(second.ok).toBe(false);
    expect(second.message).toMatch(/generation 2 failed: jvb/);
    expect(second.rolledBackTo).toBe(1);

    const reverted = await waitFor(async () => (await jvbEvents()).find((e) => e.kind === "pf-reverted"), {
      what: "pf-reverted in status",
      timeoutMs: 40_000,
    });
    expect(reverted.label).toBe("degraded");
    expect(reverted.message).toMatch(
      /no confirmation from the coordinator within 5 s of loading \/etc\/pf\.conf of generation 2 \(the coordinator link is (down|connecting) since .*restored and loaded the previous \/etc\/pf\.conf/,
    );
    expect(await loadedRules(vm.root)).toMatch(/port 7443/);
    expect(await readFile(path.join(vm.root, "etc/pf.conf"), "utf8")).toBe(pfConf1);
    // Back on the link, the node catches up with the generation in force (the rollback's).
    await waitFor(
      async () => (await status()).nodes.find((n) => n.node === "jvb")?.generation.applied === 3,
      { what: "jvb at generation 3", timeoutMs: 40_000 },
    );

    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const code = await runCli(args, { out: (s: string) => out.push(s), err: () => {}, cwd: dir, env: {} });
      expect(code).toBe(0);
      return out.join("");
    };
    const text = await cli("status", "--state", state);
    expect(text).toMatch(/^jvb .*gen 3$/m);
    expect(text).toMatch(/^ {2}event \d+s ago pf-reverted: no confirmation from the coordinator within 5 s/m);
    const events = await cli("events", "--state", state, "--limit", "200");
    expect(events).toMatch(/agent-pf-confirmed.*generation 1/);
    expect(events).toMatch(/agent-pf-reverted.*generation 2/);
  });
});
