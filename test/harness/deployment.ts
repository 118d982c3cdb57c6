// A whole vmmeet deployment in a local sandbox: the coordinator (`vmmeet serve`, TLS) and one real agent
// process per node of the spec, each VM a temporary root with the rcctl, pfctl (and for the VMM host vmctl,
// vmd, sysctl) test doubles and the jicofo/jvb/prosody/nginx SIMULATORS as its services. Agents enroll with
// join tokens, as on OpenBSD. Used by the end-to-end tests and by `npm run demo`.
//
// This file is the Deployment a test drives and the one import for the harness; the steps live beside it:
// vmmeet-cli.ts (the vmmeet command, the spec), coordinator.ts (`vmmeet serve`), agents.ts (the agents),
// vm-roots.ts (the simulated VMs' roots), verdicts.ts (waiting for a verdict), processes.ts (output, stop).
import { type ChildProcess, execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { StatusReport } from "@vmmeet/coordinator";
import { adminCall } from "@vmmeet/coordinator";
import { killDoubleProcesses, runRcctl } from "../doubles/rcctl/index.js";
import { waitFor } from "../helpers/wait.js";
import { type NodeAgentSettings, type NodeSandbox, startAgent } from "./agents.js";
import { agentsUrl, spawnCoordinator } from "./coordinator.js";
import { pipeLines, stopProcess } from "./processes.js";
import { type Verdict, waitForVerdict } from "./verdicts.js";
import { makeNodeRoot, prepareNodeVm, RCCTL_CALLS } from "./vm-roots.js";
import {
  initSpec,
  joinArgs,
  readSpecNodes,
  runVmmeet,
  type SpecNode,
  type VmmeetResult,
} from "./vmmeet-cli.js";

const run = promisify(execFile);

export { AGENT, type NodeAgentSettings, type NodeSandbox } from "./agents.js";
export { pipeLines, stopProcess } from "./processes.js";
export { describeStatus, type Verdict, waitForVerdict } from "./verdicts.js";
export { makeNodeRoot, prepareHost, RCCTL_CALLS } from "./vm-roots.js";
export {
  initSpec,
  joinArgs,
  readSpecNodes,
  runVmmeet,
  type SpecNode,
  VMMEET,
  type VmmeetResult,
} from "./vmmeet-cli.js";

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
    private readonly options: DeploymentOptions,
  ) {
    this.netDir = path.join(dir, "net");
    this.specFile = path.join(dir, "vmmeet.yaml");
    this.stateDir = path.join(dir, ".vmmeet");
  }

  /** Init, serve, enroll and start one agent per node; does not push. */
  static async start(options: DeploymentOptions = {}): Promise<Deployment> {
    const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), "vmmeet-sandbox-")));
    const d = new Deployment(dir, options);
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
    await initSpec(this.dir, this.options.editSpec);
  }

  async #serve(port = 0): Promise<void> {
    const proc = spawnCoordinator({
      dir: this.dir,
      stateDir: this.stateDir,
      port,
      serveArgs: this.options.serveArgs,
    });
    this.coordinator = proc;
    pipeLines(proc, "coordinator", this.coordinatorOutput, this.options.onOutput);
    this.coordinatorUrl = await agentsUrl(proc, this.coordinatorOutput);
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
    const extra = await prepareNodeVm({
      dir: this.dir,
      netDir: this.netDir,
      node: n,
      root,
      rcctl,
      vms: async () => (await this.#specNodes()).filter((x) => x.role !== "host").map((x) => x.name),
    });
    const join = await joinArgs(this.dir, n.name);
    sandbox.own = await this.options.perNode?.(n.name, this.coordinatorUrl);
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
    startAgent(n, {
      coordinatorUrl: this.coordinatorUrl,
      args,
      agentArgs: this.options.agentArgs,
      onOutput: this.options.onOutput,
    });
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
