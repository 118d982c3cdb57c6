// Helpers around the vmctl(8) TEST DOUBLE (vmctl.mjs, sharing state.mjs with the vmd double). See README.md.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeDoubleWrapper } from "../wrapper.js";

export const VMCTL_DOUBLE_SCRIPT: string = join(dirname(fileURLToPath(import.meta.url)), "vmctl.mjs");

/** Writes ROOT/usr/sbin/vmctl running the double on ROOT; give its path to the agent as --vmctl. */
export function makeVmctl(root: string): Promise<string> {
  return writeDoubleWrapper(root, "usr/sbin/vmctl", VMCTL_DOUBLE_SCRIPT);
}

export interface DoubleVm {
  id: number;
  state: "running" | "stopped";
}

/** The doubles' state: whether vmd runs (its pid), the loaded vm.conf definitions and each VM's state. */
export interface VmmDoubleState {
  vmd: { pid: number } | null;
  config: { name: string; instanceOf: string | null; enable: boolean; memory: string; disks: string[] }[];
  vms: Record<string, DoubleVm>;
}

export async function vmmState(root: string): Promise<VmmDoubleState> {
  try {
    return JSON.parse(await readFile(join(root, "var/db/vmctl-double/state.json"), "utf8")) as VmmDoubleState;
  } catch {
    return { vmd: null, config: [], vms: {} };
  }
}
