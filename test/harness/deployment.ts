// A whole vmmeet deployment in a local sandbox: the coordinator (`vmmeet serve`, TLS) and one real agent
// process per node of the spec, each VM a temporary root with the rcctl, pfctl (and for the VMM host vmctl,
// vmd, sysctl) test doubles and the jicofo/jvb/prosody/nginx SIMULATORS as its services. Agents enroll with
// join tokens, as on OpenBSD. Used by the end-to-end tests and by `npm run demo`.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { StatusReport } from "@vmmeet/coordinator";
import { adminCall } from "@vmmeet/coordinator";
import { makePfctl } from "../doubles/pfctl/index.js";
import { killDoubleProcesses, makeRcctl, runRcctl, writeRcScript } from "../doubles/rcctl/index.js";
import { makeSysctl } from "../doubles/sysctl/index.js";
import { makeVmctl } from "../doubles/vmctl/index.js";
import { makeVmd, writeVmdRcScript } from "../doubles/vmd/index.js";
import { waitFor } from "../helpers/wait.js";
import { installSimulatedVm, type SimRole } from "../simulators/index.js";
import { repoRoot } from "../validators/paths.js";

const run = promisify(execFile);
export const VMMEET = path.join(repoRoot(), "packages/coordinator/dist/cli/main.js");
export const AGENT = path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs");

export interface DeploymentOptions {
  /** Where the sandbox lives (default: a new directory under the system's temp dir). */
  dir?: string;
  /** Edits of the spec `vmmeet init` writes (the paper's topology) before anything starts. */
  editSpec?: (text: string) => string;
  /** Extra agent arguments (e.g. shorter heal intervals). */
  agentArgs?: string[];
  /** Extra `vmmeet serve` arguments. */
  serveArgs?: string[];
  /** Receives every output line of every process, prefixed by its name. */
  onOutput?: (line: string) => void;
  /**
   * One node's own agent settings, asked once when its VM is made: extra arguments, environment (the
   * rcctl double hands VMMEET_VM_CLOCK_OFFSET_MS to the services), another coordinator URL. (A test that
   * puts a proxy between an agent and the coordinator sets NodeSandbox.own.coordinator after enrollment
   * and restarts the agent.)
   */
  perNode?: (name: string, coordinatorUrl: string) => NodeAgentSettings | Promise<NodeAgentSettings>;
}

export interface NodeAgentSettings {
  args?: string[];
  env?: Record<string, string>;
  coordinator?: string;
}

export interface NodeSandbox {
  name: string;
  role: SimRole | "host" | "turn";
  root: string;
  state: string;
  rcctl: string;
  address: string | null;
  agent: ChildProcess | null;
  output: string[];
  /** The agent's arguments besides the common ones (kept to restart it). */
  args: string[];
  /** DeploymentOptions.perNode's settings for this node. */
  own?: NodeAgentSettings;
}

export class Deployment {
  readonly nodes = new Map<string, NodeSandbox>();
  coordinator: ChildProcess | null = null;
  coordinatorUrl = "";
  readonly coordinatorOutput: string[] = [];
  readonly netDir: string;
  readonly specFile: string;
  readonly stateDir: string;
  #stopped = false;

  private constructor(
    readonly dir: string,
    private readonly o: DeploymentOptions,
  ) {
    this.netDir = path.join(dir, "net");
    this.specFile = path.join(dir, "vmmeet.yaml");
    this.stateDir = path.join(dir, ".vmmeet");
  }

  /** Init, serve, enroll and start one agent per node; does not push. */
  static async start(o: DeploymentOptions = {}): Promise<Deployment> {
    const dir = o.dir ?? (await mkdtemp(path.join(os.tmpdir(), "vmmeet-sandbox-")));
    const d = new Deployment(dir, o);
    try {
      await d.#init();
      await d.#serve();
      await d.#startAgents();
    } catch (err) {
      await d.stop();
      throw err;
    }
    return d;
  }

  /** The status page's address, when `vmmeet serve` was given --http (it prints it when it starts). */
  get statusPageUrl(): string | null {
    const all = this.coordinatorOutput.join("\n");
    const found = [...all.matchAll(/status page (http:\/\/127\.0\.0\.1:\d+\/)/g)].at(-1);
    return found?.[1] ?? null;
  }

  vmmeet(...args: string[]): Promise<VmmeetResult> {
    return runVmmeet(this.dir, args);
  }

  async #init(): Promise<void> {
    await mkdir(this.netDir, { recursive: true });
    await initSpec(this.dir, this.o.editSpec);
  }

  #pipe(proc: ChildProcess, name: string, sink: string[]): void {
    pipeLines(proc, name, sink, this.o.onOutput);
  }

  async #serve(port = 0): Promise<void> {
    const proc = spawn(
      process.execPath,
      [
        VMMEET,
        "serve",
        "--state",
        this.stateDir,
        "--listen",
        `127.0.0.1:${port}`,
        "--heartbeat",
        "2",
        ...(this.o.serveArgs ?? []),
      ],
      {
        cwd: this.dir,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    this.coordinator = proc;
    this.#pipe(proc, "coordinator", this.coordinatorOutput);
    const m = await waitFor(
      () => {
        if (proc.exitCode !== null)
          throw new Error(`vmmeet serve exited: ${this.coordinatorOutput.join("\n")}`);
        return /agents on (wss?):\/\/127\.0\.0\.1:(\d+)\/agent/.exec(this.coordinatorOutput.join("\n"));
      },
      { what: "the coordinator listening", timeoutMs: 30_000 },
    );
    this.coordinatorUrl = `${m[1]}://127.0.0.1:${m[2]}/agent`;
  }

  /** Nodes in the spec order of the rendered deployment: the host first, then the VMs. */
  async #specNodes(): Promise<SpecNode<NodeSandbox["role"]>[]> {
    return (await readSpecNodes<NodeSandbox["role"]>(this.specFile)).nodes;
  }

  async #startAgents(): Promise<void> {
    for (const n of await this.#specNodes()) await this.#startNode(n);
    await waitFor(async () => (await this.status()).nodes.every((n) => n.connected), {
      what: "every agent connected",
      timeoutMs: 60_000,
    });
  }

  /** A node's VM root (doubles, simulated services), a join token and its agent, started. */
  async #startNode(n: SpecNode<NodeSandbox["role"]>): Promise<NodeSandbox> {
    const { root, rcctl } = await makeNodeRoot(this.dir, n.name);
    const sandbox: NodeSandbox = {
      name: n.name,
      role: n.role,
      root,
      state: path.join(this.dir, "agents", n.name),
      rcctl,
      address: n.address,
      agent: null,
      output: [],
      args: [],
    };
    const extra: string[] = ["--pfctl", await makePfctl(root)];
    if (n.role === "host") {
      const vms = (await this.#specNodes()).filter((x) => x.role !== "host").map((x) => x.name);
      extra.push(...(await prepareHost(this.dir, root, rcctl, vms)));
    } else if (n.role === "turn") {
      // coturn is not simulated: an idle stand-in holds its rc.d name (the turn node has no probe and no
      // log rule; the agent only writes turnserver.conf and drives the service).
      await writeRcScript(root, "turnserver", {
        daemon: `${process.execPath} ${path.join(repoRoot(), "test/harness/idle.mjs")} turnserver`,
        timeout: 5,
      });
    } else {
      if (n.role === "web") {
        // tls.mode files: the admin puts the site's certificate there (the nginx simulator does no TLS).
        for (const [file, what] of [
          ["etc/ssl/jitsi.fullchain.pem", "certificate"],
          ["etc/ssl/private/jitsi.key", "key"],
        ] as const) {
          await mkdir(path.dirname(path.join(root, file)), { recursive: true });
          await writeFile(
            path.join(root, file),
            `placeholder ${what} of the sandbox (the nginx simulator does no TLS)\n`,
          );
        }
      }
      const vm = await installSimulatedVm(root, n.role, {
        netDir: this.netDir,
        rcctl,
        backoffMaxMs: 500,
        addresses: n.address ? [n.address] : [],
      });
      if (vm.prosodyctl) extra.push("--prosodyctl", vm.prosodyctl);
      if (n.address) extra.push("--port-map-dir", path.join(this.netDir, n.address));
    }
    const join = await joinArgs(this.dir, n.name);
    sandbox.own = await this.o.perNode?.(n.name, this.coordinatorUrl);
    this.nodes.set(n.name, sandbox);
    sandbox.args = extra;
    this.#startAgent(sandbox, [...join, ...extra]);
    return sandbox;
  }

  /**
   * A node added to the spec on day two, as an admin brings up its VM: `vmmeet vm create` on the host (the
   * disk image vm.conf will name), then the VM's agent enrolled with a join token. Call it once the push
   * that adds the node is accepted (the coordinator enrolls only nodes of the spec in force).
   */
  async addNode(name: string): Promise<NodeSandbox> {
    const n = (await this.#specNodes()).find((x) => x.name === name);
    if (!n) throw new Error(`${name} is not in ${this.specFile}`);
    const host = [...this.nodes.values()].find((x) => x.role === "host");
    const vmctl = host?.args[host.args.indexOf("--vmctl") + 1];
    if (!host || !vmctl) throw new Error("no host node with a vmctl double");
    // The new image is a copy of the template VM's (the spec's first node), made while the template is
    // stopped, as `vmmeet vm create` insists: on a real host that stops the template VM for the copy. The
    // vmctl double only records the VM's state, so its services go on here.
    const template = (await this.#specNodes()).find((x) => x.role !== "host")?.name ?? "";
    const vm = (...args: string[]) => run(vmctl, args, { env: { ...process.env } });
    await vm("stop", template);
    try {
      const made = await runVmmeet(this.dir, ["vm", "create", name, "--vmctl", vmctl, "--root", host.root]);
      if (made.code !== 0) throw new Error(`vmmeet vm create ${name}: ${made.stderr}`);
    } finally {
      await vm("start", template);
    }
    return this.#startNode(n);
  }

  /** A node removed from the spec: its VM goes away (its agent and every process it ran stop). */
  async removeNode(name: string): Promise<void> {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    await stopProcess(n.agent);
    await killDoubleProcesses(n.root);
    this.nodes.delete(name);
  }

  #startAgent(n: NodeSandbox, args: string[]): void {
    const proc = spawn(
      process.execPath,
      [
        AGENT,
        "--node",
        n.name,
        "--coordinator",
        n.own?.coordinator ?? this.coordinatorUrl,
        "--state-dir",
        n.state,
        "--root",
        n.root,
        "--rcctl",
        n.rcctl,
        "--lenient-accounts",
        ...args,
        ...(this.o.agentArgs ?? []),
        ...(n.own?.args ?? []),
      ],
      { stdio: ["ignore", "pipe", "pipe"], ...(n.own?.env ? { env: { ...process.env, ...n.own.env } } : {}) },
    );
    n.agent = proc;
    this.#pipe(proc, n.name, n.output);
  }

  /**
   * Stops the coordinator (SIGKILL: no chance to save anything) and starts it again on the same port, so the
   * agents' --coordinator URL stays right.
   */
  async restartCoordinator(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const port = Number(new URL(this.coordinatorUrl.replace(/^wss?:/, "http:")).port);
    const old = this.coordinator;
    await new Promise<void>((resolve) => {
      if (!old || old.exitCode !== null || old.signalCode !== null) return resolve();
      old.once("exit", () => resolve());
      old.kill(signal);
    });
    this.coordinatorOutput.splice(0);
    await this.#serve(port);
  }

  /** Restarts a node's agent (after enrollment: no token needed any more). */
  async restartAgent(name: string): Promise<void> {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    await stopProcess(n.agent);
    this.#startAgent(n, n.args);
  }

  /**
   * Ends the grace period of the jicofo and jvb services without waiting it out (90 s each): their agents
   * are stopped, the bridges restarted behind their back (rcctl, as an admin would; with no agent watching,
   * no healer races the restart), and the agents started again. A new agent knows of no recent (re)start of
   * a service it did not start itself, and reads the log lines written while it was away from its saved
   * offsets, so jicofo's agent learns the brewery from the bridges' joins. Returns once every such node is
   * connected, reports no component "starting" and jicofo has seen every bridge join after the restart.
   */
  async leaveGracePeriods(): Promise<void> {
    const nodes = [...this.nodes.values()].filter((n) => n.role === "jicofo" || n.role === "jvb");
    const bridges = nodes.filter((n) => n.role === "jvb");
    await Promise.all(nodes.map((n) => stopProcess(n.agent)));
    const restartedAt = Date.now();
    for (const b of bridges) {
      const r = await runRcctl(b.rcctl, ["restart", "jvb"]);
      if (r.code !== 0) throw new Error(`rcctl restart jvb on ${b.name}: ${r.stdout}${r.stderr}`);
    }
    for (const n of nodes) this.#startAgent(n, n.args);
    await waitFor(
      async () => {
        const st = await this.status();
        const jicofo = st.nodes.flatMap((n) => n.health).find((h) => h.component === "jicofo");
        return bridges.every((b) => Date.parse(jicofo?.bridgesSince?.[b.name] ?? "") >= restartedAt - 1000);
      },
      {
        what: `jicofo seeing ${bridges.map((b) => b.name).join(", ")} join its brewery again`,
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    await this.#waitReporting(nodes.map((n) => n.name));
  }

  async #waitReporting(names: readonly string[]): Promise<void> {
    await waitFor(
      async () => {
        const st = await this.status();
        return names.every((name) => {
          const n = st.nodes.find((x) => x.node === name);
          return (
            n?.connected === true &&
            n.health.length > 0 &&
            n.health.every((h) => h.state !== "starting" && h.state !== "unknown")
          );
        });
      },
      { what: `${names.join(", ")} reporting outside a grace period`, timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  async status(): Promise<StatusReport> {
    return adminCall(path.join(this.stateDir, "admin.sock"), "status", {}, "sandbox");
  }

  async push(timeoutS = 120): Promise<{ code: number; stdout: string; stderr: string }> {
    return this.vmmeet("push", "--timeout", String(timeoutS));
  }

  /** `vmmeet push` that must succeed, then the deployment conference-ready. */
  async pushReady(timeoutMs = 60_000): Promise<void> {
    const res = await this.push(120);
    if (res.code !== 0) throw new Error(`the push failed:\n${res.stdout}${res.stderr}`);
    await this.waitVerdict("conference-ready", timeoutMs);
  }

  waitVerdict(verdict: Verdict, timeoutMs = 60_000): Promise<StatusReport> {
    return waitForVerdict(() => this.status(), verdict, timeoutMs);
  }

  /** The rcctl calls made on a node so far (arguments joined by blanks), oldest first. */
  async rcctlCalls(node: string): Promise<string[]> {
    const n = this.nodes.get(node);
    if (!n) throw new Error(`no node ${node}`);
    const text = await readFile(path.join(n.root, RCCTL_CALLS), "utf8").catch(() => "");
    return text.split("\n").filter((l) => l !== "");
  }

  rcctl(node: string, ...args: string[]) {
    const n = this.nodes.get(node);
    if (!n) throw new Error(`no node ${node}`);
    return runRcctl(n.rcctl, args);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all([...this.nodes.values()].map((n) => stopProcess(n.agent)));
    await stopProcess(this.coordinator);
    for (const n of this.nodes.values()) await killDoubleProcesses(n.root);
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function stopProcess(p: ChildProcess | null): Promise<void> {
  return new Promise((resolve) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill("SIGKILL"), 15_000);
    p.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    p.kill("SIGTERM");
  });
}

export interface VmmeetResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `vmmeet ARGS` run in `dir`; a failure is a result with its exit code, not an exception. */
export function runVmmeet(dir: string, args: string[]): Promise<VmmeetResult> {
  return run(process.execPath, [VMMEET, ...args], { cwd: dir, maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

/**
 * `vmmeet init` in `dir` (the paper's topology), the site certificate given as files (no acme-client here:
 * the web VM gets placeholders or a throw-away pair), `edit` applied, and the result validated.
 */
export async function initSpec(dir: string, edit?: (spec: string) => string): Promise<void> {
  const init = await runVmmeet(dir, ["init", "--dir", dir]);
  if (init.code !== 0) throw new Error(`vmmeet init failed: ${init.stderr}`);
  const specFile = path.join(dir, "vmmeet.yaml");
  let spec = (await readFile(specFile, "utf8")).replace(
    /^tls:\n {2}mode: acme\n/m,
    "tls:\n  mode: files\n  certificate: /etc/ssl/jitsi.fullchain.pem\n  key: /etc/ssl/private/jitsi.key\n",
  );
  if (edit) spec = edit(spec);
  await writeFile(specFile, spec);
  const valid = await runVmmeet(dir, ["validate"]);
  if (valid.code !== 0) throw new Error(`the spec is invalid:\n${valid.stderr}`);
}

/** Splits a process's output into lines: the last 5000 kept in `sink`, each passed on prefixed by `name`. */
export function pipeLines(
  proc: ChildProcess,
  name: string,
  sink: string[],
  onOutput?: (line: string) => void,
): void {
  let rest = "";
  const onData = (chunk: Buffer) => {
    rest += chunk.toString();
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      sink.push(line);
      if (sink.length > 5000) sink.splice(0, sink.length - 5000);
      onOutput?.(`${name}: ${line}`);
    }
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
}

export interface SpecNode<R extends string = string> {
  name: string;
  role: R;
  /** null for the host. */
  address: string | null;
}

/** The spec's domain and its nodes: the host first, then the VMs in spec order. */
export async function readSpecNodes<R extends string = string>(
  specFile: string,
): Promise<{ domain: string; nodes: SpecNode<R>[] }> {
  const { parse } = await import("yaml");
  const spec = parse(await readFile(specFile, "utf8")) as {
    domain: string;
    host?: { name?: string };
    nodes: { name: string; role: string; address: string }[];
  };
  return {
    domain: spec.domain,
    nodes: [
      { name: spec.host?.name ?? "vmm", role: "host" as R, address: null },
      ...spec.nodes.map((n) => ({ name: n.name, role: n.role as R, address: n.address })),
    ],
  };
}

/** Where the rcctl wrapper of makeNodeRoot records every call: one line of arguments per call. */
export const RCCTL_CALLS = "var/run/rcctl-calls.log";

/**
 * A node's root (DIR/vms/NAME) with the rcctl double and an idle syslogd. The rcctl returned records each
 * call's arguments in ROOT/RCCTL_CALLS before running the double, so tests can tell which services a push
 * restarted or reloaded.
 */
export async function makeNodeRoot(dir: string, name: string): Promise<{ root: string; rcctl: string }> {
  const root = path.join(dir, "vms", name);
  await mkdir(root, { recursive: true });
  const double = await makeRcctl(root);
  const rcctl = path.join(root, "usr/sbin/rcctl-recorded");
  await mkdir(path.join(root, "var/run"), { recursive: true });
  await writeFile(
    rcctl,
    `#!/bin/sh
# records the call, then runs the rcctl test double
printf '%s\\n' "$*" >> '${path.join(root, RCCTL_CALLS)}'
exec '${double}' "$@"
`,
    { mode: 0o755 },
  );
  // syslogd exists on every OpenBSD system; the agent reloads it after adding a program block.
  await writeRcScript(root, "syslogd", {
    daemon: `${process.execPath} ${path.join(repoRoot(), "test/harness/idle.mjs")} syslogd`,
    timeout: 5,
  });
  return { root, rcctl };
}

/**
 * The VMM host's vmctl, vmd and sysctl doubles and the paper's VM setup, done before vmmeet drives the host:
 * disk images (the template's, then copies) and vmd running with an empty vm.conf (rcctl enable vmd; rcctl
 * start vmd). Returns the agent arguments naming the doubles.
 */
export async function prepareHost(
  dir: string,
  root: string,
  rcctl: string,
  vms: string[],
): Promise<string[]> {
  const vmctl = await makeVmctl(root);
  const args = ["--vmctl", vmctl, "--vmd", await makeVmd(root), "--sysctl", await makeSysctl(root)];
  for (const vm of vms) {
    const made = await runVmmeet(dir, ["vm", "create", vm, "--vmctl", vmctl, "--root", root]);
    if (made.code !== 0) throw new Error(`vmmeet vm create ${vm}: ${made.stderr}`);
  }
  await mkdir(path.join(root, "etc"), { recursive: true });
  await writeFile(path.join(root, "etc/vm.conf"), "# vm.conf before vmmeet's first push\n");
  await writeVmdRcScript(root);
  for (const args of [
    ["enable", "vmd"],
    ["start", "vmd"],
  ]) {
    const r = await runRcctl(rcctl, args);
    if (r.code !== 0) throw new Error(`rcctl ${args.join(" ")} on the host: ${r.stdout}${r.stderr}`);
  }
  return args;
}

/** A fresh join token for `name`: the agent arguments that enroll it. */
export async function joinArgs(dir: string, name: string): Promise<string[]> {
  const token = await runVmmeet(dir, ["agents", "token", name, "--json"]);
  if (token.code !== 0) throw new Error(`vmmeet agents token ${name}: ${token.stderr}`);
  const t = JSON.parse(token.stdout) as { token: string; caHash: string };
  return ["--join", t.token, "--ca-hash", t.caHash];
}

export type Verdict = "conference-ready" | "degraded" | "down";

/** Waits for a verdict; on timeout says where the deployment stands (reasons, each component). */
export async function waitForVerdict(
  status: () => Promise<StatusReport>,
  verdict: Verdict,
  timeoutMs: number,
): Promise<StatusReport> {
  let last: StatusReport | null = null;
  try {
    return await waitFor(
      async () => {
        last = await status();
        return last.verdict.verdict === verdict ? last : undefined;
      },
      { what: `verdict ${verdict}`, timeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describeStatus(last)}`);
  }
}

/** One line per node: generation and each component's state with its explanation. */
export function describeStatus(s: StatusReport | null): string {
  if (!s) return "no status";
  return `${s.verdict.verdict}: ${s.verdict.reasons.join("; ")}\n${s.nodes
    .map(
      (n) =>
        `  ${n.node} gen ${n.generation.applied}/${n.generation.desired} ${n.health
          .map((h) => `${h.component}=${h.state} (${h.explain})`)
          .join(", ")}`,
    )
    .join("\n")}`;
}
