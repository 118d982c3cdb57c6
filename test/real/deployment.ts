// The paper's deployment with Debian's REAL prosody and nginx: like test/harness/deployment.ts (the
// coordinator, `vmmeet serve` with TLS, and one real agent process per node enrolled with a join token;
// rcctl/pfctl doubles; the VMM host's vmctl/vmd/sysctl doubles), but every VM is a network namespace with
// its paper address 100.64.N.3 behind a VMM host namespace (netns.ts), and every VM's agent runs in the
// VM's mount namespace (vm.ts) so that
//  * on xmpp, `rcctl start prosody` runs Debian's prosody from the RENDERED /etc/prosody/prosody.cfg.lua and
//    the agent's prosody-user actions run Debian's prosodyctl;
//  * on web, `rcctl start nginx` runs Debian's nginx from the rendered /etc/nginx/nginx.conf with a
//    throw-away certificate, proxying /http-bind to prosody at 100.64.2.3:5280 over the VM network;
//  * on jicofo and jvb, the services are real XMPP clients standing in for the Java programs
//    (jitsi-client.mjs), logging in to the real prosody with the rendered passwords and truststores.
// The coordinator and the host's agent run in the VMM host's namespace; agents reach `vmmeet serve` at
// their gateway 100.64.N.2:7443, as the paper's VMs reach the host (host.coordinatorPort). The test talks
// to the coordinator through its admin socket (a file: namespaces do not matter) and runs its own
// clients in the host's namespace (runOnHost).
//
// This composes the harness's steps (test/harness/deployment.ts: init, node roots, the host's VM setup,
// enrollment, output lines, verdicts) with its own network, coordinator and agent command lines.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { StatusReport } from "@vmmeet/coordinator";
import { adminCall } from "@vmmeet/coordinator";
import { makePfctl } from "../doubles/pfctl/index.js";
import { killDoubleProcesses, runRcctl } from "../doubles/rcctl/index.js";
import {
  AGENT,
  initSpec,
  joinArgs,
  makeNodeRoot,
  pipeLines,
  prepareHost,
  readSpecNodes,
  runVmmeet,
  type SpecNode,
  stopProcess,
  type Verdict,
  VMMEET,
  waitForVerdict,
} from "../harness/deployment.js";
import { waitFor } from "../helpers/wait.js";
import { inNs, Topology } from "./netns.js";
import {
  installJitsiStandIn,
  installRealNginx,
  installRealProsody,
  inVm,
  PROSODYCTL_PATH,
  prosodyctlWrapper,
  requireRealPrograms,
  type VmRole,
  writeAccounts,
  writeEnterScript,
} from "./vm.js";

export { describeStatus } from "../harness/deployment.js";

/** host.coordinatorPort of the spec `vmmeet init` writes: where the VMs reach `vmmeet serve`. */
const COORDINATOR_PORT = 7443;

export interface RealDeploymentOptions {
  /** Extra agent arguments (e.g. shorter heal intervals). */
  agentArgs?: string[];
  /** Receives every output line of every process, prefixed by its name. */
  onOutput?: (line: string) => void;
}

export interface RealNode {
  name: string;
  role: VmRole | "host";
  root: string;
  state: string;
  rcctl: string;
  /** The VM's address (null for the host). */
  address: string | null;
  /** Its network namespace. */
  ns: string;
  /** VMs: the script that builds its mount namespace (vm.ts). */
  enter: string | null;
  agent: ChildProcess | null;
  output: string[];
  /** The agent's argv after enrollment (to restart it). */
  argv: string[];
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class RealDeployment {
  readonly nodes = new Map<string, RealNode>();
  coordinator: ChildProcess | null = null;
  readonly coordinatorOutput: string[] = [];
  readonly specFile: string;
  readonly stateDir: string;
  topology: Topology | null = null;
  /** The domain of the spec (jts.fips.de). */
  domain = "";
  /** The web VM's throw-away site certificate (PEM), for clients that go through nginx. */
  siteCertificate = "";
  #stopped = false;

  private constructor(
    readonly dir: string,
    private readonly o: RealDeploymentOptions,
  ) {
    this.specFile = path.join(dir, "vmmeet.yaml");
    this.stateDir = path.join(dir, ".vmmeet");
  }

  /** Checks the real programs, inits the spec, builds the network, serves, enrolls the agents; no push. */
  static async start(o: RealDeploymentOptions = {}): Promise<RealDeployment> {
    requireRealPrograms();
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-real-"));
    // A VM's /etc/hosts is a symlink into it (vm.ts), read also by daemons that dropped root (prosody as
    // _prosody): traversable, not listable.
    await chmod(dir, 0o711);
    const d = new RealDeployment(dir, o);
    try {
      await d.#init();
      await d.#network();
      await d.#serve();
      await d.#startAgents();
    } catch (err) {
      await d.remove().catch(() => undefined);
      throw err;
    }
    return d;
  }

  vmmeet(...args: string[]): Promise<RunResult> {
    return runVmmeet(this.dir, args);
  }

  async #init(): Promise<void> {
    await initSpec(this.dir, (spec) => {
      if (!/^ {2}coordinatorPort: 7443\b/m.test(spec))
        throw new Error("the spec's host.coordinatorPort is not 7443");
      // From 9646 on prosody.cfg.lua follows jitsi-meet's template: anonymous logins through jitsi's
      // jitsi-anonymous provider and conference rooms only jicofo may create (restrict_room_creation).
      // Debian packages no jitsi-prosody-plugins and jicofo is a stand-in here, so the xmpp VM gets the
      // prosody configuration of the plugins before 9646 (the paper's, prosody's own modules), jicofo and
      // the bridges the init default's. The template is checked with prosodyctl and the module lookup in
      // test/render-releases.test.ts.
      const release = /^ {2}release: (\d+)$/m.exec(spec)?.[1];
      if (release === undefined) throw new Error("the spec has no jitsi.release line");
      return spec.replace(
        /^ {2}release: \d+$/m,
        `  release: { jicofo: ${release}, jvb: ${release}, web: ${release}, plugins: 8319 }`,
      );
    });
  }

  async #specNodes(): Promise<SpecNode<RealNode["role"]>[]> {
    const { domain, nodes } = await readSpecNodes<RealNode["role"]>(this.specFile);
    this.domain = domain;
    for (const n of nodes) {
      if (!["host", "web", "xmpp", "jicofo", "jvb"].includes(n.role))
        throw new Error(`role ${n.role} is not supported here`);
    }
    return nodes;
  }

  async #network(): Promise<void> {
    const vms = (await this.#specNodes()).filter((n) => n.address !== null) as {
      name: string;
      address: string;
    }[];
    this.topology = await Topology.create(`vmt-${randomBytes(3).toString("hex")}`, vms);
  }

  #spawn(argv: string[], name: string, sink: string[]): ChildProcess {
    const [cmd, ...args] = argv;
    const proc = spawn(cmd as string, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    pipeLines(proc, name, sink, this.o.onOutput);
    return proc;
  }

  async #serve(): Promise<void> {
    const topo = this.topology as Topology;
    // 0.0.0.0: the server certificate then names every address of the host namespace (each 100.64.N.2).
    const proc = this.#spawn(
      inNs(topo.hostNs, [
        process.execPath,
        VMMEET,
        "serve",
        "--state",
        this.stateDir,
        "--listen",
        `0.0.0.0:${COORDINATOR_PORT}`,
        "--heartbeat",
        "2",
      ]),
      "coordinator",
      this.coordinatorOutput,
    );
    this.coordinator = proc;
    await waitFor(
      () => {
        if (proc.exitCode !== null)
          throw new Error(`vmmeet serve exited: ${this.coordinatorOutput.join("\n")}`);
        return /agents on wss:\/\/0\.0\.0\.0:7443\/agent/.test(this.coordinatorOutput.join("\n"));
      },
      { what: "the coordinator listening", timeoutMs: 30_000 },
    );
  }

  async #startAgents(): Promise<void> {
    const topo = this.topology as Topology;
    const specNodes = await this.#specNodes();
    for (const n of specNodes) {
      const { root, rcctl } = await makeNodeRoot(this.dir, n.name);
      const node: RealNode = {
        name: n.name,
        role: n.role,
        root,
        state: path.join(this.dir, "agents", n.name),
        rcctl,
        address: n.address,
        ns: n.role === "host" ? topo.hostNs : topo.vm(n.name).ns,
        enter: null,
        agent: null,
        output: [],
        argv: [],
      };
      const common = ["--node", n.name, "--state-dir", node.state, "--root", root, "--rcctl", rcctl];
      const extra = ["--pfctl", await makePfctl(root)];
      let argv: string[];
      if (n.role === "host") {
        extra.push(
          ...(await prepareHost(
            this.dir,
            root,
            rcctl,
            specNodes.filter((x) => x.role !== "host").map((x) => x.name),
          )),
        );
        // No real program reads the host's files: OpenBSD's accounts map to root (as in the sandbox).
        argv = inNs(topo.hostNs, [
          process.execPath,
          AGENT,
          ...common,
          "--coordinator",
          `wss://127.0.0.1:${COORDINATOR_PORT}/agent`,
          "--lenient-accounts",
        ]);
      } else {
        const role = n.role;
        const ids = await writeAccounts(root);
        if (role === "xmpp") extra.push("--prosodyctl", await installRealProsody(root, ids));
        else if (role === "web") this.siteCertificate = await installRealNginx(root, this.domain);
        else await installJitsiStandIn(root, role);
        node.enter = await writeEnterScript({ dir: this.dir, name: n.name, role, root });
        argv = inVm(node.ns, node.enter, [
          process.execPath,
          AGENT,
          ...common,
          "--coordinator",
          `wss://${topo.vm(n.name).gateway}:${COORDINATOR_PORT}/agent`,
        ]);
      }
      const join = await joinArgs(this.dir, n.name);
      node.argv = [...argv, ...extra, ...(this.o.agentArgs ?? [])];
      this.nodes.set(n.name, node);
      node.agent = this.#spawn([...node.argv, ...join], n.name, node.output);
    }
    await waitFor(async () => (await this.status()).nodes.every((x) => x.connected), {
      what: "every agent connected",
      timeoutMs: 60_000,
      intervalMs: 100,
    }).catch((e: Error) => {
      throw new Error(
        `${e.message}\n${[...this.nodes.values()].map((x) => `${x.name}: ${x.output.slice(-5).join("\n  ")}`).join("\n")}`,
      );
    });
  }

  node(name: string): RealNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Restarts a node's agent (enrolled: no token needed any more). */
  async restartAgent(name: string): Promise<void> {
    const n = this.node(name);
    await stopProcess(n.agent);
    n.agent = this.#spawn(n.argv, n.name, n.output);
  }

  /**
   * Replaces the xmpp VM's prosodyctl with one whose `register` does nothing (faulty) or puts the real one
   * back.
   */
  async setProsodyctl({ faulty }: { faulty: boolean }): Promise<void> {
    const xmpp = [...this.nodes.values()].find((n) => n.role === "xmpp");
    if (!xmpp) throw new Error("no xmpp node");
    await writeFile(path.join(xmpp.root, PROSODYCTL_PATH), prosodyctlWrapper({ faulty }), { mode: 0o755 });
  }

  /**
   * Runs a program in the VMM host's namespace (from there every VM address is reachable, routed as on the
   * VMM host), with `input` on its stdin (how secrets are handed over: never in argv or logs).
   */
  runOnHost(
    argv: string[],
    {
      input = "",
      env = process.env,
      timeoutMs = 60_000,
    }: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
  ): Promise<RunResult> {
    const [cmd, ...args] = inNs((this.topology as Topology).hostNs, argv);
    return new Promise((resolve, reject) => {
      const child = spawn(cmd as string, args, { env, stdio: ["pipe", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        stdout += s;
      });
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        stderr += s;
      });
      child.once("error", reject);
      child.once("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(input);
    });
  }

  async status(): Promise<StatusReport> {
    return adminCall(path.join(this.stateDir, "admin.sock"), "status", {}, "real");
  }

  push(timeoutS = 120): Promise<RunResult> {
    return this.vmmeet("push", "--timeout", String(timeoutS));
  }

  /** Waits for a verdict; on timeout says where the deployment stands (reasons, each component). */
  waitVerdict(verdict: Verdict, timeoutMs = 60_000): Promise<StatusReport> {
    return waitForVerdict(() => this.status(), verdict, timeoutMs);
  }

  rcctl(node: string, ...args: string[]) {
    return runRcctl(this.node(node).rcctl, args);
  }

  /** Stops every process this deployment started and removes its namespaces (mounts die with them). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.all([...this.nodes.values()].map((n) => stopProcess(n.agent)));
    await stopProcess(this.coordinator);
    for (const n of this.nodes.values()) await killDoubleProcesses(n.root).catch(() => undefined);
    // Whatever outlived the above (an nginx master whose supervisor was killed) dies with its namespace.
    await this.topology?.destroy();
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
