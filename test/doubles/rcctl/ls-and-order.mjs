// rcctl ls and rcctl order for the rcctl TEST DOUBLE (not OpenBSD code). Each takes the ServiceTable
// (service-table.mjs) and returns the exit status. "ref §N" = section N of docs/openbsd-rc.md.
import { withRunfile } from "./daemon-process.mjs";
import { acquireLock } from "./lock.mjs";
import { SPECIALS } from "./openbsd-facts.mjs";
import { out, rcctlErr, usage } from "./output.mjs";
import { findMarkedProcs, pgrep } from "./processes.mjs";
import { loadRun } from "./rc-actions.mjs";
import { editLocal } from "./rc-conf-local.mjs";
import { byteOrder } from "./service-table.mjs";

/** rcctl ls WHAT; `options` are the invocation's -d/-f/-q (loadRun reads -f). */
export function doLs(table, options, what) {
  const needCheck = ["failed", "rogue", "started", "stopped"].includes(what);
  if (!needCheck && !["all", "off", "on"].includes(what)) usage();
  const svcs = needCheck
    ? table.listScripts()
    : [...table.listScripts(), ...Object.keys(SPECIALS)].sort(byteOrder);
  const procs = needCheck ? findMarkedProcs(table.root) : [];
  let ret = 0;
  for (const svc of svcs) {
    const on = table.get(svc).status === 0;
    const started =
      needCheck &&
      pgrep(table.root, withRunfile(table.root, svc, loadRun(table, options, svc, "check")).pexp, procs)
        .length > 0;
    const show = {
      all: true,
      on,
      off: !on,
      started,
      stopped: !started,
      failed: on && !started,
      rogue: !on && started,
    }[what];
    if (!show) continue;
    out(`${svc}\n`);
    if (what === "failed" || what === "rogue") ret = 1; // exit 1 if any is listed (ref §1)
  }
  return ret;
}

/** rcctl order [daemon ...]: prints pkg_scripts, or moves the daemons to its front. */
export function doOrder(table, svcs) {
  if (svcs.length === 0) {
    const list = table.pkgScripts();
    if (list.length > 0) out(`${list.join(" ")}\n`);
    return 0;
  }
  acquireLock(table.root);
  table.reloadConf();
  for (const svc of svcs) {
    if (table.isBase(svc) || table.isSpecial(svc)) rcctlErr(`${svc} is not a pkg script`);
    if (table.get(svc).status !== 0) rcctlErr(`${svc} is not enabled`);
  }
  const list = [...new Set([...svcs, ...table.pkgScripts()])];
  editLocal(table, (lines) => [
    ...lines.filter((l) => !l.startsWith("pkg_scripts=")),
    `pkg_scripts=${list.join(" ")}`,
  ]);
  return 0;
}
