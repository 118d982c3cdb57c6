// The simulated VM as a simulator sees it: its clock and its root directory (a fake VM's / on the test
// machine).
import fs from "node:fs";
import path from "node:path";

/**
 * The simulated VM's clock: the machine's, VMMEET_VM_CLOCK_OFFSET_MS off (a VM whose clock is ahead or behind
 * the host's; the rcctl double hands the variable to the daemons it starts). Log lines carry this time, and
 * certificates are checked against it, as on a VM.
 */
export const VM_CLOCK_OFFSET_MS = Number(process.env.VMMEET_VM_CLOCK_OFFSET_MS ?? 0) || 0;
export function vmNow() {
  return new Date(Date.now() + VM_CLOCK_OFFSET_MS);
}

/** A path of the simulated VM ("/etc/jvb/jvb.conf") inside its root. */
export function inRoot(root, p) {
  return path.join(root, p);
}

export function readIfExists(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return undefined;
    throw e;
  }
}
