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
// This composes the harness's pieces instead of extending Deployment, whose steps are private; the
// simulated sandbox (Deployment) is unchanged.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import type { StatusReport } from "../../packages/coordinator/dist/index.js";
import { adminCall } from "../../packages/coordinator/dist/index.js";
import { makePfctl } from "../doubles/pfctl/index.js";
import { killDoubleProcesses, makeRcctl, runRcctl, writeRcScript } from "../doubles/rcctl/index.js";
import { makeSysctl } from "../doubles/sysctl/index.js";
import { makeVmctl } from "../doubles/vmctl/index.js";
import { makeVmd, writeVmdRcScript } from "../doubles/vmd/index.js";
import { AGENT, stopProcess, VMMEET } from "../harness/deployment.js";
import { waitFor } from "../helpers/wait.js";
import { repoRoot } from "../validators/paths.js";
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

const run = promisify(execFile);

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

  async vmmeet(...args: string[]): Promise<RunResult> {
    return run(process.execPath, [VMMEET, ...args], { cwd: this.dir, maxBuffer: 16 << 20 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );
  }

  async #init(): Promise<void> {
    const init = await this.vmmeet("init", "--dir", this.dir);
    if (init.code !== 0) throw new Error(`vmmeet init failed: ${init.stderr}`);
    // No acme-client here: the site certificate is given as files (a throw-away pair on the web VM).
    const spec = (await readFile(this.specFile, "utf8")).replace(
      /^tls:\n {2}mode: acme\n/m,
      "tls:\n  mode: files\n  certificate: /etc/ssl/jitsi.fullchain.pem\n  key: /etc/ssl/private/jitsi.key\n",
    );
    if (!/^ {2}coordinatorPort: 7443\b/m.test(spec))
      throw new Error("the spec's host.coordinatorPort is not 7443");
    await writeFile(this.specFile, spec);
    const valid = await this.vmmeet("validate");
    if (valid.code !== 0) throw new Error(`the spec is invalid:\n${valid.stderr}`);
  }

  async #specNodes(): Promise<{ name: string; role: RealNode["role"]; address: string | null }[]> {
    const { parse } = await import("yaml");
    const spec = parse(await readFile(this.specFile, "utf8")) as {
      domain: string;
      host?: { name?: string };
      nodes: { name: string; role: string; address: string }[];
    };
    this.domain = spec.domain;
    for (const n of spec.nodes) {
      if (!["web", "xmpp", "jicofo", "jvb"].includes(n.role))
        throw new Error(`role ${n.role} is not supported here`);
    }
    return [
      { name: spec.host?.name ?? "vmm", role: "host", address: null },
      ...spec.nodes.map((n) => ({ name: n.name, role: n.role as VmRole, address: n.address })),
    ];
  }

  async #network(): Promise<void> {
    const vms = (await this.#specNodes()).filter((n) => n.address !== null) as {
      name: string;
      address: string;
    }[];
    this.topology = await Topology.create(`vmt-${randomBytes(3).toString("hex")}`, vms);
  }

  #pipe(proc: ChildProcess, name: string, sink: string[]): void {
    let rest = "";
    const onData = (chunk: Buffer) => {
      rest += chunk.toString();
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        sink.push(line);
        if (sink.length > 5000) sink.splice(0, sink.length - 5000);
        this.o.onOutput?.(`${name}: ${line}`);
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
  }

  #spawn(argv: string[], name: string, sink: string[]): ChildProcess {
    const [cmd, ...args] = argv;
    const proc = spawn(cmd as string, args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    this.#pipe(proc, name, sink);
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
      "the coordinator listening",
      () => {
        if (proc.exitCode !== null)
          throw new Error(`vmmeet serve exited: ${this.coordinatorOutput.join("\n")}`);
        return /agents on wss:\/\/0\.0\.0\.0:7443\/agent/.test(this.coordinatorOutput.join("\n"));
      },
      { timeoutMs: 30_000 },
    );
  }

  async #startAgents(): Promise<void> {
    const topo = this.topology as Topology;
    const specNodes = await this.#specNodes();
    for (const n of specNodes) {
      const root = path.join(this.dir, "vms", n.name);
      await mkdir(root, { recursive: true });
      const rcctl = await makeRcctl(root);
      // syslogd exists on every OpenBSD system; the agent reloads it after adding a program block.
      await writeRcScript(root, "syslogd", {
        daemon: `${process.execPath} ${path.join(repoRoot(), "test/harness/idle.mjs")} syslogd`,
        timeout: 5,
      });
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
        const vmctl = await makeVmctl(root);
        extra.push("--vmctl", vmctl, "--vmd", await makeVmd(root), "--sysctl", await makeSysctl(root));
        // The paper's VM setup before vmmeet drives the host: disk images, vmd running with an empty vm.conf.
        for (const vm of specNodes.filter((x) => x.role !== "host")) {
          const made = await this.vmmeet("vm", "create", vm.name, "--vmctl", vmctl, "--root", root);
          if (made.code !== 0) throw new Error(`vmmeet vm create ${vm.name}: ${made.stderr}`);
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
      const token = await this.vmmeet("agents", "token", n.name, "--json");
      if (token.code !== 0) throw new Error(`vmmeet agents token ${n.name}: ${token.stderr}`);
      const t = JSON.parse(token.stdout) as { token: string; caHash: string };
      node.argv = [...argv, ...extra, ...(this.o.agentArgs ?? [])];
      this.nodes.set(n.name, node);
      node.agent = this.#spawn([...node.argv, "--join", t.token, "--ca-hash", t.caHash], n.name, node.output);
    }
    await waitFor(
      "every agent connected",
      async () => (await this.status()).nodes.every((x) => x.connected),
      {
        timeoutMs: 60_000,
        intervalMs: 100,
      },
    ).catch((e: Error) => {
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
    return (await adminCall(path.join(this.stateDir, "admin.sock"), "status", {}, "real")) as StatusReport;
  }

  push(timeoutS = 120): Promise<RunResult> {
    return this.vmmeet("push", "--timeout", String(timeoutS));
  }

  /** Waits for a verdict; on timeout says where the deployment stands (reasons, each component). */
  async waitVerdict(
    verdict: "conference-ready" | "degraded" | "down",
    timeoutMs = 60_000,
  ): Promise<StatusReport> {
    let last: StatusReport | null = null;
    try {
      return await waitFor(
        `verdict ${verdict}`,
        async () => {
          last = await this.status();
          return last.verdict.verdict === verdict ? last : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${describeStatus(last)}`);
    }
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
