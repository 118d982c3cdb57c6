// The VMM host as a node: vm.conf checked by vmd before it is written and made to take effect with
// `vmctl reload`, the deployment's VMs started when vmd does not run them, their state from `vmctl status`,
// and sysctl.conf's values set with sysctl(8). Every program runs through execFile (no shell); paths are
// constructor options so tests give the doubles of test/doubles/.
//
// Never automatic: creating or copying a disk image (`vmmeet vm create`, an admin's decision), stopping a
// VM, or touching a VM the spec does not list.
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "@vmmeet/node";
import type { VmEntry, VmState } from "@vmmeet/shared";
import type { Logger } from "pino";
import { type CommandRunner, execRunner } from "../actions/runner.js";
import type { HookItem } from "../reconcile/apply.js";
import type { ServiceActionResult } from "../services/manager.js";
import { parseSysctlConf } from "./sysctl.js";

export const VM_CONF = "/etc/vm.conf";
export const SYSCTL_CONF = "/etc/sysctl.conf";

export interface HostManagerOptions {
  /** vmctl(8), default /usr/sbin/vmctl. */
  vmctl?: string;
  /** vmd(8), default /usr/sbin/vmd (only its -n config test is run). */
  vmd?: string;
  /** sysctl(8), default /sbin/sysctl. */
  sysctl?: string;
  /** The agent's state directory; candidates are checked from STATE/host/. */
  stateDir: string;
  log: Logger;
  runner?: CommandRunner;
}

export type VmStatusResult = { ok: true; vms: VmState[] } | { ok: false; detail: string };

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
const said = (r: { stdout: string; stderr: string }) => `${r.stderr}${r.stdout}`.trim();

/**
 * Parses `vmctl status` (vmctl(8)): a header naming the columns (ID PID VCPUS MAXMEM CURMEM TTY OWNER
 * STATE NAME), then one line per VM. Columns are found by the header's names, so an older vmctl without
 * STATE still parses (a VM with a PID runs). Pure.
 */
export function parseVmctlStatus(text: string): VmState[] {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const headerAt = lines.findIndex((l) => /\bNAME\b/.test(l) && /\bID\b/.test(l));
  if (headerAt < 0) return [];
  const cols = (lines[headerAt] as string).trim().split(/\s+/);
  const at = (name: string) => cols.indexOf(name);
  const out: VmState[] = [];
  for (const line of lines.slice(headerAt + 1)) {
    const f = line.trim().split(/\s+/);
    if (f.length !== cols.length) continue;
    const get = (name: string) => (at(name) >= 0 ? f[at(name)] : undefined);
    const name = get("NAME");
    if (!name) continue;
    const id = Number(get("ID"));
    const pid = get("PID");
    const state = get("STATE") ?? (pid && pid !== "-" ? "running" : "stopped");
    const mem = get("MAXMEM");
    out.push({
      name,
      state,
      id: Number.isInteger(id) ? id : null,
      ...(mem && mem !== "-" ? { memory: mem } : {}),
    });
  }
  return out;
}

export class HostManager {
  readonly vmctl: string;
  readonly vmd: string;
  readonly sysctl: string;
  readonly #runner: CommandRunner;
  readonly #dir: string;

  constructor(private readonly options: HostManagerOptions) {
    this.vmctl = options.vmctl ?? "/usr/sbin/vmctl";
    this.vmd = options.vmd ?? "/usr/sbin/vmd";
    this.sysctl = options.sysctl ?? "/sbin/sysctl";
    this.#runner = options.runner ?? execRunner(options.log);
    this.#dir = path.join(options.stateDir, "host");
  }

  /** `vmd -n -f CANDIDATE` (vmd(8): check the configuration, start nothing). Null when vmd accepts it. */
  async checkVmConf(bytes: Buffer): Promise<string | null> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const candidate = path.join(this.#dir, "candidate-vm.conf");
    await writeFileAtomic(candidate, bytes, { mode: 0o600 });
    try {
      const r = await this.#runner.run(this.vmd, ["-n", "-f", candidate]);
      if (r.code === 0) return null;
      return `vmd -n refused it (exit ${r.code}): ${said(r).split(candidate).join(VM_CONF) || "no message"}`.slice(
        0,
        1900,
      );
    } catch (e) {
      return `vmd -n could not run: ${errText(e)}`;
    } finally {
      await rm(candidate, { force: true });
    }
  }

  /** `vmctl reload`: vmd re-reads vm.conf; running VMs keep running (vmctl(8)). */
  async reloadVmd(): Promise<ServiceActionResult> {
    try {
      const r = await this.#runner.run(this.vmctl, ["reload"]);
      return { ok: r.code === 0, outcome: r.code === 0 ? "ok" : "failed", output: said(r) };
    } catch (e) {
      return { ok: false, outcome: "failed", output: errText(e) };
    }
  }

  /** The VMs vmd knows, from `vmctl status`; wanted marks the ones the desired state lists enabled. */
  async status(wanted: readonly VmEntry[] = []): Promise<VmStatusResult> {
    try {
      const r = await this.#runner.run(this.vmctl, ["status"]);
      if (r.code !== 0)
        return { ok: false, detail: `vmctl status: exit ${r.code}: ${said(r)}`.slice(0, 500) };
      const want = new Set(wanted.filter((v) => v.enable).map((v) => v.name));
      const vms = parseVmctlStatus(r.stdout).map((v) =>
        wanted.length > 0 ? { ...v, wanted: want.has(v.name) } : v,
      );
      for (const w of wanted)
        if (w.enable && !vms.some((v) => v.name === w.name))
          vms.push({ name: w.name, state: "unknown to vmd", id: null, wanted: true });
      return { ok: true, vms };
    } catch (e) {
      return { ok: false, detail: `vmctl status: ${errText(e)}` };
    }
  }

  /**
   * The VMs for the node's status: as vmctl reports them (a VM of the spec vmd does not know is listed too),
   * or each VM of the spec as "unknown" when vmctl cannot say (logged).
   */
  async reportedVms(wanted: readonly VmEntry[]): Promise<VmState[]> {
    const st = await this.status(wanted);
    if (st.ok) return st.vms;
    this.options.log.warn({ problem: st.detail }, "cannot read the VMs' state");
    return wanted.map((v) => ({ name: v.name, state: "unknown", id: null, wanted: v.enable }));
  }

  /**
   * `vmctl start NAME` for every enabled VM of the desired state that vmd does not run. A disabled one is
   * left as it is (an admin may run it by hand); a VM vmd runs but the spec no longer lists is only
   * reported, never stopped.
   */
  async startVms(wanted: readonly VmEntry[]): Promise<HookItem[]> {
    const enabled = wanted.filter((v) => v.enable);
    if (enabled.length === 0) return [];
    const st = await this.status(wanted);
    if (!st.ok)
      return enabled.map((v) => ({
        kind: "action",
        action: "vm-start",
        target: v.name,
        status: "failed",
        detail: st.detail,
      }));
    const items: HookItem[] = [];
    for (const v of enabled) {
      const cur = st.vms.find((x) => x.name === v.name);
      if (cur?.state === "running") {
        items.push({ kind: "action", action: "vm-start", target: v.name, status: "skipped" });
        continue;
      }
      try {
        const r = await this.#runner.run(this.vmctl, ["start", v.name]);
        const out = said(r);
        if (r.code === 0) {
          items.push({ kind: "action", action: "vm-start", target: v.name, status: "done", detail: out });
          this.options.log.info({ vm: v.name }, "VM started");
        } else if (/already running|already in progress/i.test(out)) {
          // vmd started it itself meanwhile (it starts enabled VMs when it starts).
          items.push({ kind: "action", action: "vm-start", target: v.name, status: "skipped", detail: out });
        } else {
          const hint = /no such file|disk/i.test(out)
            ? ` (no disk image? create it on the host with: vmmeet vm create ${v.name})`
            : "";
          items.push({
            kind: "action",
            action: "vm-start",
            target: v.name,
            status: "failed",
            detail: `vmctl start ${v.name}: exit ${r.code}: ${out}${hint}`.slice(0, 1900),
          });
        }
      } catch (e) {
        items.push({
          kind: "action",
          action: "vm-start",
          target: v.name,
          status: "failed",
          detail: errText(e),
        });
      }
    }
    return items;
  }

  /** Sets every value of a sysctl.conf text that differs from the running one (`sysctl -n NAME` first). */
  async applySysctl(text: string): Promise<HookItem[]> {
    const { settings, invalid } = parseSysctlConf(text);
    const items: HookItem[] = invalid.map((l) => ({
      kind: "action",
      action: "sysctl",
      target: SYSCTL_CONF,
      status: "refused",
      detail: `not a plain name=value setting: ${l}`,
    }));
    for (const s of settings) {
      const target = `${s.name}=${s.value}`;
      try {
        const cur = await this.#runner.run(this.sysctl, ["-n", s.name]);
        if (cur.code === 0 && cur.stdout.trim() === s.value) {
          items.push({ kind: "action", action: "sysctl", target, status: "skipped" });
          continue;
        }
        const r = await this.#runner.run(this.sysctl, [target]);
        if (r.code === 0) {
          items.push({ kind: "action", action: "sysctl", target, status: "done", detail: said(r) });
          this.options.log.info({ sysctl: target }, "sysctl set");
        } else
          items.push({
            kind: "action",
            action: "sysctl",
            target,
            status: "failed",
            detail: `sysctl ${target}: exit ${r.code}: ${said(r)}`.slice(0, 1900),
          });
      } catch (e) {
        items.push({ kind: "action", action: "sysctl", target, status: "failed", detail: errText(e) });
      }
    }
    return items;
  }
}
