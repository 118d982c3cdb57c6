// Helpers around the vmd(8) TEST DOUBLE (vmd.mjs in this folder). See ../vmctl/README.md.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeRcScript } from "../rcctl/index.js";
import { writeDoubleWrapper } from "../wrapper.js";

export const VMD_DOUBLE_SCRIPT: string = join(dirname(fileURLToPath(import.meta.url)), "vmd.mjs");

/** Writes ROOT/usr/sbin/vmd (for `vmd -n`); give its path to the agent as --vmd. */
export function makeVmd(root: string): Promise<string> {
  return writeDoubleWrapper(root, "usr/sbin/vmd", VMD_DOUBLE_SCRIPT);
}

/**
 * Writes ROOT/etc/rc.d/vmd for the rcctl double: `rcctl start vmd` runs the vmd double as a daemon (it
 * finds its root through the rcctl double's daemon marker). SIGHUP is rc.subr's reload, as for vmd.
 */
export function writeVmdRcScript(root: string): Promise<string> {
  return writeRcScript(root, "vmd", {
    daemon: `${process.execPath} ${VMD_DOUBLE_SCRIPT}`,
    bg: true,
    timeout: 5,
  });
}
