// Where the CLI finds the spec and the state directory. Two layouts:
//  - a working directory (a checkout, a test): SPEC defaults to ./vmmeet.yaml, the state to .vmmeet/ beside
//    the spec;
//  - the VMM host, as the release installs it (hier(7)): the spec in /etc/vmmeet/vmmeet.yaml and the state
//    in /var/db/vmmeet, used without flags when /etc/vmmeet exists and the working directory has no
//    vmmeet.yaml (then a missing spec is reported as /etc/vmmeet/vmmeet.yaml). The rc.d script
//    vmmeetd and an admin's `vmmeet status` in any directory then agree on the same files.
// A SPEC argument and --state always override. VMMEET_ROOT prefixes the host layout's paths (a staging or
// test root, like `make install DESTDIR=`); it defaults to /.
import { existsSync, statSync } from "node:fs";
import path from "node:path";

export const HOST_SPEC = "/etc/vmmeet/vmmeet.yaml";
export const HOST_STATE = "/var/db/vmmeet";

interface Where {
  cwd: string;
  env: NodeJS.ProcessEnv;
}

function hostRoot(where: Where): string {
  return path.resolve(where.cwd, where.env.VMMEET_ROOT || "/");
}

/** The host layout's spec and state under VMMEET_ROOT. */
export function hostPaths(where: Where): { spec: string; state: string } {
  const root = hostRoot(where);
  return { spec: path.join(root, HOST_SPEC), state: path.join(root, HOST_STATE) };
}

/** Whether the host layout is installed: /etc/vmmeet is a directory (made by `make install` or the package). */
export function hostLayoutInstalled(where: Where): boolean {
  try {
    return statSync(path.dirname(hostPaths(where).spec)).isDirectory();
  } catch {
    return false;
  }
}

export function specPaths(where: Where, spec: string | undefined, state: string | undefined) {
  const host = hostPaths(where);
  const local = path.resolve(where.cwd, "vmmeet.yaml");
  const specFile =
    spec !== undefined
      ? path.resolve(where.cwd, spec)
      : !existsSync(local) && hostLayoutInstalled(where)
        ? host.spec
        : local;
  const defaultState = specFile === host.spec ? host.state : path.join(path.dirname(specFile), ".vmmeet");
  return { spec: specFile, state: state !== undefined ? path.resolve(where.cwd, state) : defaultState };
}
