// The VMM host as a node, end to end: the real agent process on a sandboxed host (rcctl, pfctl, vmctl, vmd
// and sysctl test doubles; vmd itself runs as a daemon of the rcctl double) under the real coordinator
// daemon, and the jitsi simulators for xmpp, jicofo and jvb. The other VMs speak to the coordinator
// through scripted agents; jicofo's reports the bridges its simulator's log shows in the brewery, so the
// rollout's brewery gate waits for the real (simulated) brewery.
//
// Adding a jvb node to the spec: after `vmmeet vm create jvb2` (explicit) and a push, the host's pf.conf
// gains the bridge's rdr-to and UDP port, vm.conf gains the VM, the host's agent starts it (vmctl double),
// the VM "boots" (its own real agent, started here once vmd runs it), gets its desired state from the
// coordinator, starts its jvb, and the new bridge joins jicofo's brewery; only then does the push pass.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import {
  adminCall,
  CoordinatorDaemon,
  loadOrCreateMaterial,
  parseSpecText,
  renderDeployment,
  runCli,
} from "@vmmeet/coordinator";
import type { ComponentHealth, NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { ProsodyActions } from "../packages/agent/src/actions/prosody.js";
import { execRunner } from "../packages/agent/src/actions/runner.js";
import { loadedRules, makePfctl } from "./doubles/pfctl/index.js";
import { killDoubleProcesses, makeRcctl, writeRcScript } from "./doubles/rcctl/index.js";
import { makeSysctl, sysctlHistory, sysctlValues } from "./doubles/sysctl/index.js";
import { makeVmctl, vmmState } from "./doubles/vmctl/index.js";
import { makeVmd, writeVmdRcScript } from "./doubles/vmd/index.js";
import { fixturesDir } from "./fixtures/material.js";
import { type CapturedChild, spawnAgent, useCleanups } from "./helpers/processes.js";
import { healthy, ScriptedAgent } from "./helpers/scripted-agent.js";
import { waitFor } from "./helpers/wait.js";
import {
  installSimulatedVm,
  type SimulatedVm,
  simulatedPort,
  startService,
  writeRenderedFiles,
} from "./simulators/index.js";

const BREWERY = "jvbbrewery@internal.auth.jts.fips.de";
const JVB2 = "  - { name: jvb2, role: jvb, address: 100.64.5.3, jvb: { udpPort: 10001 } }\n";

const cleanups = useCleanups(afterAll);

function startAgent(args: string[]): CapturedChild {
  return spawnAgent([...args, "--lenient-accounts", "--log-level", "debug"], { cleanups });
}

/**
 * The bridges in the brewery as jicofo's log tells it (added minus removed), like the agent's tracker, with
 * when each was first seen joining (the coordinator's gate wants a bridge a push restarted to join again).
 */
const joinedSeen = new Map<string, number>();
function brewery(log: string): { bridges: string[]; bridgesSince: Record<string, string> } {
  const in_ = new Set<string>();
  let n = 0;
  for (const line of log.split("\n")) {
    const m = / (Added|Removed) brewery instance: (\S+)$/.exec(line);
    n += 1;
    if (!m?.[2]?.startsWith(`${BREWERY}/`)) continue;
    const nick = m[2].slice(BREWERY.length + 1);
    if (m[1] === "Added") {
      in_.add(nick);
      if (!joinedSeen.has(`${n}:${nick}`)) joinedSeen.set(`${n}:${nick}`, Date.now());
    } else in_.delete(nick);
  }
  const since: Record<string, string> = {};
  for (const [key, at] of joinedSeen) {
    const nick = key.slice(key.indexOf(":") + 1);
    if (in_.has(nick) && at > Date.parse(since[nick] ?? "1970-01-01T00:00:00Z"))
      since[nick] = new Date(at).toISOString();
  }
  return { bridges: [...in_].sort(), bridgesSince: since };
}

describe("the VMM host's agent", () => {
  it("applies vm.conf, pf.conf and sysctl.conf, starts the VMs, and a jvb added to the spec joins the brewery", async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), "vmmeet-host-"));
    cleanups.push(() => (process.env.KEEP_SIM ? undefined : rm(base, { recursive: true, force: true })));
    const netDir = path.join(base, "net");
    const state = path.join(base, "state");
    const paper = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
    const specA = paper.replace("release: 7648", "release: 9646");
    const specB = `${specA}${JVB2}`;
    const specFile = path.join(base, "vmmeet.yaml");
    await writeFile(specFile, specA);
    const parsed = parseSpecText(specA, "vmmeet.yaml");
    if (!parsed.ok) throw new Error("fixture spec invalid");
    const material = await loadOrCreateMaterial(state, parsed.spec);
    const rendered = renderDeployment({ spec: parsed.spec, secrets: material.secrets, pki: material.pki });

    // The VMM host: doubles for every program the agent runs, vmd as an rc.d daemon, the pf.conf and
    // the rules it booted with.
    const host = path.join(base, "vmm");
    await mkdir(path.join(host, "etc"), { recursive: true });
    const tools = {
      rcctl: await makeRcctl(host),
      pfctl: await makePfctl(host),
      vmctl: await makeVmctl(host),
      vmd: await makeVmd(host),
      sysctl: await makeSysctl(host),
    };
    await writeVmdRcScript(host);
    cleanups.push(() => killDoubleProcesses(host));
    const bootRules = "set skip on lo\npass\n";
    await writeFile(path.join(host, "etc/pf.conf"), bootRules, { mode: 0o600 });
    expect((await execRunner().run(tools.pfctl, ["-f", path.join(host, "etc/pf.conf")])).code).toBe(0);

    // The admin makes the disk images, explicitly (the template is installed by hand, then copied).
    const cli = async (...args: string[]) => {
      const out: string[] = [];
      const code = await runCli(args, {
        out: (s: string) => out.push(s),
        err: (s: string) => out.push(s),
        cwd: base,
        env: {},
      });
      return { code, out: out.join("") };
    };
    for (const vm of ["web", "xmpp", "jicofo", "jvb"]) {
      const r = await cli("vm", "create", vm, specFile, "--root", host, "--vmctl", tools.vmctl);
      expect(r, r.out).toMatchObject({ code: 0 });
    }

    // The simulated VMs xmpp, jicofo, jvb run on the files rendered for them.
    const vms = {} as Record<"xmpp" | "jicofo" | "jvb", SimulatedVm>;
    for (const role of ["xmpp", "jicofo", "jvb"] as const) {
      const root = path.join(base, role);
      await writeRenderedFiles(root, rendered[role] as NodeDesired);
      vms[role] = await installSimulatedVm(root, role, { netDir, backoffMaxMs: 500 });
      cleanups.push(() => killDoubleProcesses(root));
    }
    const xmpp = rendered.xmpp as NodeDesired;
    const prosody = new ProsodyActions({
      prosodyctl: vms.xmpp.prosodyctl as string,
      root: vms.xmpp.root,
      runner: execRunner(),
    });
    const actions = { users: {}, roster: {} };
    for (const a of xmpp.actions)
      if (a.kind === "prosody-user") await prosody.ensureUser(a, actions, Buffer.from("salt"));
      else if (a.kind === "prosody-roster-subscribe") await prosody.ensureRoster(a, actions);
    const flags = (node: string, svc: string) => rendered[node]?.services.find((s) => s.name === svc)?.flags;
    await startService(vms.xmpp, flags("xmpp", "prosody"));
    await waitFor(() => simulatedPort(netDir, "100.64.2.3", 5222), {
      what: "prosody's c2s port",
      timeoutMs: 20_000,
    });
    await startService(vms.jicofo, flags("jicofo", "jicofo"));
    await startService(vms.jvb, flags("jvb", "jvb"));
    const jicofoLog = () => {
      const f = path.join(vms.jicofo.root, "var/log/jicofo");
      return existsSync(f) ? readFileSync(f, "utf8") : "";
    };
    await waitFor(() => brewery(jicofoLog()).bridges.includes("jvb"), {
      what: "jvb in the brewery",
      timeoutMs: 30_000,
    });

    // The coordinator, the host's agent, scripted agents for the VMs.
    const daemon = new CoordinatorDaemon({
      stateDir: state,
      listen: { host: "127.0.0.1", port: 0 },
      logger: pino({ level: "silent" }),
      heartbeatMs: 500,
      applyTimeoutMs: 60_000,
      insecure: true,
    });
    await daemon.start();
    cleanups.push(() => daemon.stop());
    const url = `ws://127.0.0.1:${daemon.port}/agent`;
    const hostState = path.join(base, "vmm-state");
    const hostAgent = startAgent([
      ...["--node", "vmm", "--coordinator", url, "--state-dir", hostState, "--root", host],
      ...["--rcctl", tools.rcctl, "--pfctl", tools.pfctl, "--vmctl", tools.vmctl, "--vmd", tools.vmd],
      ...["--sysctl", tools.sysctl],
    ]);
    const health = (d: NodeDesired): ComponentHealth[] =>
      d.role === "jicofo"
        ? [healthy("jicofo", brewery(jicofoLog()))]
        : d.role === "xmpp"
          ? [healthy("prosody")]
          : d.role === "web"
            ? [healthy("nginx")]
            : [];
    const scripted = new Map<string, ScriptedAgent>();
    for (const n of ["web", "xmpp", "jicofo", "jvb"]) {
      const a = new ScriptedAgent(url, n, { health });
      await a.connect();
      cleanups.push(() => a.close());
      scripted.set(n, a);
    }
    // jicofo's agent reports its component's health as its log changes.
    const reporter = setInterval(() => scripted.get("jicofo")?.report(), 200);
    cleanups.push(() => clearInterval(reporter));
    await waitFor(() => daemon.core.fleet.connected("vmm"), {
      what: "host agent connected",
      timeoutMs: 20_000,
    });

    const socket = path.join(state, "admin.sock");
    const push = async (text: string) => {
      const res = await adminCall(
        socket,
        "push",
        { specText: text, file: "vmmeet.yaml", timeoutMs: 90_000 },
        "t",
      );
      if ("accepted" in res) throw new Error("a push without noWait answered before its rollout ended");
      return res;
    };
    const status = () => adminCall(socket, "status", {}, "tester");
    const hostReport = async () => (await status()).nodes.find((n) => n.node === "vmm");

    // --- Generation 1: the paper's four VMs.
    const first = await push(specA);
    expect(first.ok, `${first.message}\n${hostAgent.output().slice(-6000)}`).toBe(true);
    // vm.conf took effect (vmd started with it), its four VMs run, the rules and the forwarding are in force.
    const vmm1 = await vmmState(host);
    expect(vmm1.config.map((c) => c.name)).toEqual(["web", "xmpp", "jicofo", "jvb"]);
    expect(Object.entries(vmm1.vms).map(([n, v]) => `${n}:${v.state}`)).toEqual([
      "web:running",
      "xmpp:running",
      "jicofo:running",
      "jvb:running",
    ]);
    const rules1 = await loadedRules(host);
    expect(rules1).toBe(await readFile(path.join(host, "etc/pf.conf"), "utf8"));
    expect(rules1).toMatch(/^pass in on egress proto udp to any port 10000 rdr-to \$jvb$/m);
    expect(rules1).toMatch(
      /^pass in proto \{ udp tcp \} from \$all_vms to any port domain rdr-to \$dns_resolver$/m,
    );
    expect((await sysctlValues(host))?.["net.inet.ip.forwarding"]).toBe("1");
    expect(await sysctlHistory(host)).toEqual(["net.inet.ip.forwarding=1"]);
    expect(await readFile(path.join(host, "etc/myname"), "utf8")).toBe("vmm\n");
    expect(await readFile(path.join(host, "etc/hosts"), "utf8")).toMatch(/^100\.64\.4\.3\s+jvb$/m);
    await waitFor(
      async () =>
        (await hostReport())?.events.find(
          (e) => e.kind === "pf-confirmed" && e.message.includes("generation 1"),
        ),
      { what: "host pf confirmed" },
    );
    const report1 = await waitFor(
      async () => {
        const r = await hostReport();
        return r?.vms?.length === 4 && r;
      },
      { what: "VMs in the host's status" },
    );
    expect(report1.vms?.map((v) => `${v.name}:${v.state}:${v.wanted}`)).toEqual([
      "web:running:true",
      "xmpp:running:true",
      "jicofo:running:true",
      "jvb:running:true",
    ]);

    // --- Generation 2: a second bridge. Its image first (explicit): a copy of the template's, made while
    // the template VM is stopped (the paper's procedure); the host's agent starts web again with the push.
    await writeFile(specFile, specB);
    const refused = await cli("vm", "create", "jvb2", specFile, "--root", host, "--vmctl", tools.vmctl);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/the template VM web is running; stop it first/);
    expect((await execRunner().run(tools.vmctl, ["stop", "web"])).code).toBe(0);
    const created = await cli("vm", "create", "jvb2", specFile, "--root", host, "--vmctl", tools.vmctl);
    expect(created, created.out).toMatchObject({ code: 0 });
    const second = push(specB);

    // The host's agent starts jvb2; the VM boots: its agent (the image has it, and jvb installed) comes up.
    await waitFor(async () => (await vmmState(host)).vms.jvb2?.state === "running", {
      what: "jvb2 started by the host's agent",
      timeoutMs: 60_000,
    });
    const jvb2Root = path.join(base, "jvb2");
    await mkdir(path.join(jvb2Root, "etc"), { recursive: true });
    const jvb2 = await installSimulatedVm(jvb2Root, "jvb", { netDir, backoffMaxMs: 500 });
    cleanups.push(() => killDoubleProcesses(jvb2Root));
    const sleeper = path.join(base, "sleeper.mjs");
    await writeFile(sleeper, 'process.on("SIGHUP", () => {});\nsetInterval(() => {}, 1000);\n');
    await writeRcScript(jvb2Root, "syslogd", {
      daemon: `${process.execPath} ${sleeper} syslogd`,
      timeout: 5,
    });
    const jvb2Agent = startAgent([
      ...["--node", "jvb2", "--coordinator", url, "--state-dir", path.join(base, "jvb2-state")],
      ...["--root", jvb2Root, "--rcctl", jvb2.rcctl, "--pfctl", await makePfctl(jvb2Root)],
    ]);

    const outcome = await second;
    expect(
      outcome.ok,
      `${outcome.message}\n--- host\n${hostAgent.output().slice(-4000)}\n--- jvb2\n${jvb2Agent.output().slice(-4000)}`,
    ).toBe(true);
    // The new bridge is in the simulated brewery: jicofo's simulator logged it joining.
    expect(jicofoLog()).toContain(`Added brewery instance: ${BREWERY}/jvb2`);
    expect(brewery(jicofoLog()).bridges).toEqual(["jvb", "jvb2"]);
    // The host: its pf.conf gained jvb2's rdr-to and UDP port (and its NAT), vm.conf the VM.
    const rules2 = await loadedRules(host);
    expect(rules2).toMatch(/^pass in on egress proto udp to any port 10001 rdr-to \$jvb2$/m);
    expect(rules2).toMatch(
      /^match out on egress inet proto udp from \$jvb2 port 10001 nat-to \(egress\) static-port$/m,
    );
    expect(rules2).toMatch(/^jvb2 = "100\.64\.5\.3"$/m);
    const vmConf = await readFile(path.join(host, "etc/vm.conf"), "utf8");
    expect(vmConf).toMatch(
      /^vm "web" instance "jvb2" \{\n\tmemory 4G\n\tdisk "\/home\/vmm\/jvb2\.qcow2" format qcow2\n\}$/m,
    );
    expect((await vmmState(host)).config.map((c) => c.name)).toContain("jvb2");
    expect((await vmmState(host)).vms.web?.state).toBe("running");
    expect(await readFile(path.join(host, "etc/hosts"), "utf8")).toMatch(/^100\.64\.5\.3\s+jvb2$/m);
    expect(hostAgent.output()).toMatch(/"vm":"jvb2".*"msg":"VM started"/);
    // jvb2's own files came from the coordinator through its agent: its pf.conf is loaded and confirmed.
    expect(await readFile(path.join(jvb2Root, "etc/myname"), "utf8")).toBe("jvb2\n");
    // The coordinator confirms pf after the apply result, so the agent's pf-confirmed event can trail the
    // push's outcome (the web stage no longer gives it time: jvb2 may be the last node applied).
    const st = await waitFor(
      async () => {
        const s = await status();
        return s.nodes.find((n) => n.node === "jvb2")?.events.some((e) => e.kind === "pf-confirmed")
          ? s
          : null;
      },
      { what: "jvb2's pf confirmed" },
    );
    expect(st.nodes.find((n) => n.node === "jvb2")?.events.map((e) => e.kind)).toContain("pf-confirmed");
    const vmm2 = st.nodes.find((n) => n.node === "vmm");
    expect(vmm2?.vms?.find((v) => v.name === "jvb2")).toMatchObject({ state: "running", wanted: true });
    expect(vmm2?.events.some((e) => e.kind === "pf-confirmed" && e.message.includes("generation 2"))).toBe(
      true,
    );
    const text = (await cli("status", "--state", state)).out;
    expect(text).toMatch(/^ {2}vm jvb2 +running \(id 5, 4\.0G\)$/m);
  });
});
