// A deployment on one machine for the benchmarks: the coordinator daemon (in this process, wss:// with the
// deployment CA and enrolled agents, as shipped) and real agent processes (the bundled vmmeet-agent.mjs),
// one per node, each on its own fake VM root whose services are sleepers (lib/sleeper.mjs), managed by the
// rcctl(8) test double (test/doubles/rcctl) or by lib/tool-stub.sh (see prepareNode).
import { readFileSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import pino from "pino";
import { tsImport } from "tsx/esm/api";
import { pkg, REPO } from "./packages.mjs";
import { onInterrupt, startProcess, waitFor } from "./proc.mjs";

export { REPO };
/** What ships to the VMs: the self-contained bundle, not dist/main.js with node_modules beside it. */
export const agentBundle = () => pkg("agent/dist/vmmeet-agent.mjs");
export const SLEEPER = path.join(REPO, "bench/lib/sleeper.mjs");
const TOOL_STUB = path.join(REPO, "bench/lib/tool-stub.sh");
const PROSODYCTL_SIMULATOR = path.join(REPO, "test/simulators/prosodyctl-simulator.mjs");
export const PAPER_SPEC = path.join(REPO, "test/fixtures/paper-7648.yaml");

export const coordinatorLib = () => import(pkg("coordinator/dist/index.js"));
/** The rcctl test double's helpers (TypeScript, loaded through tsx). */
export const rcctlDouble = () => tsImport(path.join(REPO, "test/doubles/rcctl/index.ts"), import.meta.url);

/** The services of each role, with the loopback ports their health probes need (render/*.ts probes). */
const SERVICES = {
  host: [{ name: "vmd" }],
  web: [{ name: "nginx", ports: [80, 443] }, { name: "syslogd" }],
  xmpp: [{ name: "prosody", ports: [5222, 5280] }, { name: "syslogd" }],
  // net/jitsi's rc.d scripts for jicofo and jvb have rc_reload=NO.
  jicofo: [{ name: "jicofo", http: 8888, reload: false }, { name: "syslogd" }],
  // No listener for jvb: two bridges on one loopback would fight over 8080, and the rollout gates jvb
  // nodes on their services running, not on jvb's probe.
  jvb: [{ name: "jvb", reload: false }, { name: "syslogd" }],
};

/** The paper's spec plus a second bridge: the push benchmark's topology. */
export async function paperSpecText({
  extraJvbs = 1,
  jvbMaxMemory = "3G",
  jicofoMaxMemory = "3G",
  prejoin = true,
} = {}) {
  let text = await readFile(PAPER_SPEC, "utf8");
  // The edits must land: a spec that silently stays the same would make every push a no-op.
  const edit = (line, replacement) => {
    if (!text.includes(line)) throw new Error(`${PAPER_SPEC} no longer has the line ${JSON.stringify(line)}`);
    text = text.replace(line, replacement);
  };
  edit(
    "  - { name: jicofo, role: jicofo, address: 100.64.3.3 }",
    `  - { name: jicofo, role: jicofo, address: 100.64.3.3, jicofo: { maxMemory: ${jicofoMaxMemory} } }`,
  );
  edit(
    "  - { name: jvb, role: jvb, address: 100.64.4.3 }",
    `  - { name: jvb, role: jvb, address: 100.64.4.3, jvb: { maxMemory: ${jvbMaxMemory} } }`,
  );
  for (let i = 0; i < extraJvbs; i++)
    text += `  - { name: jvb${i + 2}, role: jvb, address: 100.64.${5 + i}.3, jvb: { udpPort: ${10001 + i}, maxMemory: ${jvbMaxMemory} } }\n`;
  if (!prejoin) text += "web:\n  prejoin: false\n";
  return text;
}

/**
 * Copies lib/tool-stub.sh as ROOT/bench-bin/NAME for each name (rcctl, pfctl, vmctl, vmd, sysctl) and
 * returns {name: path}.
 */
export async function installStubs(root, names) {
  const bin = path.join(root, "bench-bin");
  await mkdir(bin, { recursive: true });
  const out = {};
  for (const n of names) {
    out[n] = path.join(bin, n);
    await copyFile(TOOL_STUB, out[n]);
  }
  return out;
}

/** The programs besides rcctl the agent runs on each node: pf everywhere, vmd/vmctl/sysctl on the host. */
export const stubsFor = (role) => (role === "host" ? ["pfctl", "vmctl", "vmd", "sysctl"] : ["pfctl"]);

/**
 * A fake VM root for one node: prosodyctl (the simulator) for xmpp, tool-stub.sh for pfctl (and vmctl, vmd,
 * sysctl on the host), and its role's services (sleepers), managed by one of:
 *   rcctl: "double"  the rcctl test double (test/doubles/rcctl): rc.d scripts, real starts and stops, its
 *                    rc.subr emulation; a Node program, so every call costs a Node start-up (70-100 ms here)
 *   rcctl: "stub"    tool-stub.sh as rcctl (about 2 ms a call, like the ksh original is cheap): the sleepers
 *                    are started here once and run throughout; "restart" and "check" succeed at once, so a
 *                    service starts in no time (what the push benchmark's target asks for)
 */
export async function prepareNode(dir, name, role, { rcctl: mode = "double" } = {}) {
  const base = path.join(dir, name);
  const root = path.join(base, "root");
  const state = path.join(base, "state");
  await mkdir(root, { recursive: true });
  const tools = await installStubs(root, stubsFor(role));
  const node = { name, role, base, root, state, tools, log: path.join(base, "agent.log"), sleepers: [] };
  if (mode === "stub") {
    node.rcctl = (await installStubs(root, ["rcctl"])).rcctl;
    for (const s of SERVICES[role] ?? []) {
      node.sleepers.push(
        startProcess(process.execPath, sleeperArgs(name, s), { logFile: path.join(base, `${s.name}.log`) }),
      );
    }
  } else {
    const { makeRcctl, writeRcScript, killDoubleProcesses } = await rcctlDouble();
    node.rcctl = await makeRcctl(root);
    // Sleepers run in sessions of their own: an interrupted benchmark must still remove them.
    onInterrupt(() => killDoubleProcesses(root).catch(() => undefined));
    for (const s of SERVICES[role] ?? []) {
      const daemon = [process.execPath, ...sleeperArgs(name, s)].join(" ");
      await writeRcScript(root, s.name, { daemon, timeout: 5, reload: s.reload ?? true });
    }
  }
  if (role === "xmpp") {
    node.prosodyctl = path.join(root, "usr/local/bin/prosodyctl");
    await mkdir(path.dirname(node.prosodyctl), { recursive: true });
    await writeFile(
      node.prosodyctl,
      `#!/bin/sh\nexec '${process.execPath}' '${PROSODYCTL_SIMULATOR}' --root '${root}' "$@"\n`,
      { mode: 0o755 },
    );
  }
  return node;
}

function sleeperArgs(node, s) {
  const args = [SLEEPER, `${node}-${s.name}`];
  if (s.ports) args.push("--ports", s.ports.join(","));
  if (s.http) args.push("--http", String(s.http));
  return args;
}

export const silentLogger = () => pino({ level: "silent" });

/** The coordinator daemon in this process: wss:// on 127.0.0.1 (TLS and enrollment, not --insecure). */
export async function startCoordinator({ stateDir, port = 0, heartbeatMs, insecure = false }) {
  const { CoordinatorDaemon } = await coordinatorLib();
  const daemon = new CoordinatorDaemon({
    stateDir,
    listen: { host: "127.0.0.1", port },
    logger: silentLogger(),
    ...(heartbeatMs ? { heartbeatMs } : {}),
    ...(insecure ? { insecure: true } : {}),
  });
  await daemon.start();
  return daemon;
}

/** Creates the deployment's secrets and CA in the coordinator's state directory (vmmeet init/render does). */
export async function createMaterial(stateDir, specText) {
  const { parseSpecText, loadOrCreateMaterial } = await coordinatorLib();
  const parsed = parseSpecText(specText, "bench.yaml");
  if (!parsed.ok) throw new Error(`bench spec invalid: ${JSON.stringify(parsed.problems)}`);
  await loadOrCreateMaterial(stateDir, parsed.spec, { logger: silentLogger() });
}

/** Every node's desired state for a spec, with the secrets and PKI of the coordinator's state directory. */
export async function renderSpec(stateDir, specText) {
  const { parseSpecText, loadOrCreateMaterial, renderDeployment } = await coordinatorLib();
  const parsed = parseSpecText(specText, "bench.yaml");
  if (!parsed.ok) throw new Error(`bench spec invalid: ${JSON.stringify(parsed.problems)}`);
  const m = await loadOrCreateMaterial(stateDir, parsed.spec, { logger: silentLogger() });
  return renderDeployment({ spec: parsed.spec, secrets: m.secrets, pki: m.pki });
}

export const agentUrl = (daemon) => `wss://127.0.0.1:${daemon.port}/agent`;

/** `vmmeet agents token NODE`, then `vmmeet-agent --join ... --enroll-only`, as an operator would. */
export async function enrollAgent(daemon, node) {
  const { adminCall } = await coordinatorLib();
  const t = await adminCall(daemon.adminSocket, "agent-token", { node: node.name }, "bench");
  const p = startProcess(
    process.execPath,
    [
      agentBundle(),
      "--node",
      node.name,
      "--coordinator",
      agentUrl(daemon),
      "--state-dir",
      node.state,
      "--join",
      t.token,
      "--ca-hash",
      t.caHash,
      "--enroll-only",
    ],
    { logFile: node.log },
  );
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`enrollment of ${node.name} failed (exit ${code}); see ${node.log}`);
}

const RC_SCRIPT = path.join(REPO, "rc.d/vmmeet_agent");

/**
 * The node flags of rc.d/vmmeet_agent's daemon= line (V8 heap and compiler settings): the agent's memory
 * depends on them, so the benchmarks start it with exactly these.
 */
export function agentNodeFlags() {
  const m = /^daemon="\S+\/node((?: --\S+)*) \S+\/vmmeet-agent\.mjs"$/m.exec(readFileSync(RC_SCRIPT, "utf8"));
  if (!m) throw new Error(`${RC_SCRIPT}: no daemon="/.../node [--FLAG ...] /.../vmmeet-agent.mjs" line`);
  return m[1].split(" ").filter(Boolean);
}

/** The shipped agent on a fake VM root, connected to the coordinator, started as rc.d/vmmeet_agent does. */
export function startAgent(daemon, node, extra = []) {
  const args = [
    ...agentNodeFlags(),
    agentBundle(),
    "--node",
    node.name,
    "--coordinator",
    agentUrl(daemon),
    "--state-dir",
    node.state,
    "--root",
    node.root,
    "--rcctl",
    node.rcctl,
    "--lenient-accounts",
    ...(node.prosodyctl ? ["--prosodyctl", node.prosodyctl] : []),
    ...Object.entries(node.tools ?? {}).flatMap(([tool, file]) => [`--${tool}`, file]),
    ...extra,
  ];
  return startProcess(process.execPath, args, { logFile: node.log });
}

export async function waitConnected(daemon, names, timeoutMs = 60_000) {
  await waitFor(
    `agents ${names.join(", ")} connected`,
    () => names.every((n) => daemon.core.fleet.connected(n)),
    { timeoutMs },
  );
}

/** Stops agents, then the services: those the rcctl double started for their roots, or the stub's sleepers. */
export async function stopNodes(nodes, agents) {
  const { killDoubleProcesses } = await rcctlDouble();
  await Promise.all(agents.map((a) => a.stop()));
  for (const n of nodes) {
    await Promise.all((n.sleepers ?? []).map((p) => p.stop()));
    await killDoubleProcesses(n.root).catch(() => undefined);
  }
}
