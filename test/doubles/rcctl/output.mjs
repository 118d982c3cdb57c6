// What one invocation of the rcctl TEST DOUBLE prints (not OpenBSD code): rcctl's and rc.subr's messages
// and exits, and the double's own refusals (exit 3). "ref §N" = section N of docs/openbsd-rc.md.
import fs from "node:fs";
import { USAGE } from "./openbsd-facts.mjs";

function write(fd, s) {
  const buf = Buffer.from(s);
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if (e.code === "EAGAIN") {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
        continue;
      }
      // rcctl is a shell script: once its reader is gone the next write kills it with SIGPIPE (ref §2,
      // "rcctl restart nodeapp | head -n1" exits 141 and leaves nodeapp stopped). Node ignores SIGPIPE,
      // so exit with the status a shell would report.
      if (e.code === "EPIPE") process.exit(141);
      throw e;
    }
  }
}
export const out = (s) => write(1, s);
export const err = (s) => write(2, s);

export function rcctlErr(msg, code = 1) {
  err(`rcctl: ${msg}\n`);
  process.exit(code);
}
export function usage() {
  err(USAGE);
  process.exit(1);
}
/** Something the double cannot emulate: fail loudly (exit 3), never guess. */
export function harnessErr(msg) {
  err(`rcctl test double: ${msg}\n`);
  process.exit(3);
}
/** -d: what rc.subr is doing. `options` are the invocation's -d/-f/-q. */
export function trace(options, what) {
  if (options.debug) out(`doing ${what}\n`);
}
// rc.subr prints "name" first and "(status)" when done (ref §1); -q prints only failures.
export function begin(options, svc) {
  if (!options.quiet) out(svc);
}
export function finish(options, svc, status) {
  if (!options.quiet) out(`(${status})\n`);
  else if (status !== "ok") out(`${svc}(${status})\n`);
}
