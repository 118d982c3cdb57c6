// The paper's network, made of Linux network namespaces (ip-netns(8), iproute2): one namespace for the VMM
// host and one per VM, each VM joined to the host by a veth pair that plays vmd's "local interface" (paper,
// section VI: VM N is 100.64.N.3, the host side 100.64.N.2; the VMs reach each other through the host,
// which forwards). Everything is created inside namespaces this module makes: the test machine's own
// interfaces, addresses and routes are never touched. The host side of each pair is made inside the host
// namespace and its peer is moved straight into the VM's, so no interface ever appears outside. (The one
// trace ip-netns(8) leaves is its own: the first `ip netns add` on a machine bind-mounts /run/netns onto
// itself to share the namespace files, and that stays, as it does for every user of ip netns.)
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { waitFor } from "../helpers/wait.js";

const run = promisify(execFile);

export interface VmNet {
  /** Node name of the spec (web, xmpp, ...). */
  name: string;
  /** Its network namespace. */
  ns: string;
  /** The VM's address, 100.64.N.3. */
  address: string;
  /** The host side of its link, 100.64.N.2 (the VM's default route, and where it reaches the coordinator). */
  gateway: string;
}

async function ip(...args: string[]): Promise<void> {
  try {
    await run("ip", args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(" ")}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** `ip netns exec NS ...argv`: the argv of a command run in that namespace. */
export function inNs(ns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

export class Topology {
  readonly vms = new Map<string, VmNet>();
  #namespaces: string[] = [];
  #destroyed = false;

  private constructor(
    /** Prefix of every namespace name (unique per run, so parallel runs never meet). */
    readonly prefix: string,
    /** The VMM host's namespace. */
    readonly hostNs: string,
  ) {}

  /**
   * Creates the host namespace and one namespace per VM. Every address must be 100.64.N.3 (N 1..254),
   * the paper's scheme; the namespaces' loopbacks are brought up (agents probe their services there).
   */
  static async create(prefix: string, vms: { name: string; address: string }[]): Promise<Topology> {
    if (!/^[a-z0-9-]{1,20}$/.test(prefix)) throw new Error(`bad namespace prefix ${prefix}`);
    const t = new Topology(prefix, `${prefix}-vmm`);
    try {
      await t.#add(t.hostNs);
      await ip("-n", t.hostNs, "link", "set", "lo", "up");
      // The VMM host routes between its VMs (the paper's pf.conf passes VM-to-VM traffic on the host).
      // (/proc/sys/net is per network namespace: this is the host namespace's setting, not the machine's.)
      const [cmd, ...args] = inNs(t.hostNs, ["/bin/sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]);
      await run(cmd as string, args);
      for (const vm of vms) {
        const m = /^100\.64\.(\d{1,3})\.3$/.exec(vm.address);
        const n = Number(m?.[1]);
        if (!m || n < 1 || n > 254) throw new Error(`${vm.name}: ${vm.address} is not a 100.64.N.3 address`);
        const ns = `${prefix}-${vm.name}`;
        const gateway = `100.64.${n}.2`;
        await t.#add(ns);
        // vmd names the host side tapN and the guest sees vio0.
        await ip(
          "-n",
          t.hostNs,
          "link",
          "add",
          `tap${n}`,
          "type",
          "veth",
          "peer",
          "name",
          "vio0",
          "netns",
          ns,
        );
        await ip("-n", t.hostNs, "addr", "add", `${gateway}/24`, "dev", `tap${n}`);
        await ip("-n", t.hostNs, "link", "set", `tap${n}`, "up");
        await ip("-n", ns, "link", "set", "lo", "up");
        await ip("-n", ns, "addr", "add", `${vm.address}/24`, "dev", "vio0");
        await ip("-n", ns, "link", "set", "vio0", "up");
        await ip("-n", ns, "route", "add", "default", "via", gateway);
        t.vms.set(vm.name, { name: vm.name, ns, address: vm.address, gateway });
      }
    } catch (e) {
      await t.destroy();
      throw e;
    }
    return t;
  }

  async #add(ns: string): Promise<void> {
    await ip("netns", "add", ns);
    this.#namespaces.push(ns);
  }

  vm(name: string): VmNet {
    const v = this.vms.get(name);
    if (!v) throw new Error(`no VM ${name} in the topology`);
    return v;
  }

  /** PIDs of the processes living in a namespace of this topology. */
  async pids(ns: string): Promise<number[]> {
    try {
      const { stdout } = await run("ip", ["netns", "pids", ns]);
      return stdout
        .split(/\s+/)
        .filter((s) => /^\d+$/.test(s))
        .map(Number);
    } catch {
      return [];
    }
  }

  /**
   * Kills whatever still runs in the namespaces (they were made for this run: every process in them is
   * one of its own, e.g. an nginx master that outlived its supervisor) and deletes them; their veth pairs
   * go with them. Idempotent.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const ns of this.#namespaces) {
      await waitFor(
        async () => {
          const pids = await this.pids(ns);
          for (const pid of pids) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // already gone
            }
          }
          return pids.length === 0;
        },
        { what: `no process left in ${ns}`, timeoutMs: 10_000, intervalMs: 50 },
      ).catch(() => undefined);
      await ip("netns", "del", ns).catch(() => undefined);
    }
    this.#namespaces = [];
  }
}
