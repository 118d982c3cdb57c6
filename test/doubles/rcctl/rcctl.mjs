#!/usr/bin/env node
// rcctl(8) TEST DOUBLE (our own code, not OpenBSD's rcctl.sh/rc.subr): emulates what rcctl and rc.subr do
// as described in docs/openbsd-rc.md sections 1-3 ("ref §N" below), on a fake
// root given by RCCTL_DOUBLE_ROOT, with real processes. See README.md in this folder for what it does
// and does not emulate. Usage: RCCTL_DOUBLE_ROOT=/tmp/vm rcctl.mjs [-d | -q] [-f] ACTION ...
// This file reads the command line and runs the verb; the modules it imports do the work (README.md).
import { ensureRoot, resolveRoot } from "./fake-root.mjs";
import { acquireLock } from "./lock.mjs";
import { doLs, doOrder } from "./ls-and-order.mjs";
import { ACTIONS, VARS } from "./openbsd-facts.mjs";
import { err, out, rcctlErr, usage } from "./output.mjs";
import { runAction } from "./rc-actions.mjs";
import { svcSet } from "./rc-conf-local.mjs";
import { ServiceTable } from "./service-table.mjs";

async function main(argv) {
  let root;
  try {
    root = resolveRoot(process.env.RCCTL_DOUBLE_ROOT);
  } catch (e) {
    err(`${e.message}\n`);
    return 3;
  }
  ensureRoot(root);
  const table = new ServiceTable(root);
  const options = { debug: false, force: false, quiet: false };
  let i = 0;
  for (; i < argv.length && /^-[dfq]+$/.test(argv[i]); i++) {
    for (const c of argv[i].slice(1)) options[{ d: "debug", f: "force", q: "quiet" }[c]] = true;
  }
  if (argv[i] === "--") i++;
  const action = argv[i];
  const rest = argv.slice(i + 1);
  if (!action || action.startsWith("-") || (options.debug && options.quiet)) usage();
  if ((options.debug || options.force || options.quiet) && !ACTIONS.includes(action)) usage();

  switch (action) {
    case "ls":
      if (rest.length !== 1) usage();
      return doLs(table, options, rest[0]);
    case "order":
      for (const svc of rest) table.mustExist(svc);
      return doOrder(table, rest);
    case "get":
    case "getdef": {
      const [svc, v, ...more] = rest;
      if (!svc || svc === "all") usage();
      table.mustExist(svc);
      if (v !== undefined && (more.length > 0 || (table.isSpecial(svc) ? v !== "status" : !VARS.includes(v))))
        usage();
      const r = action === "get" ? table.get(svc) : table.getdef(svc);
      if (v === "status") return r.status;
      if (v !== undefined) {
        const val = r.vals[v];
        if (val !== "") out(`${val}\n`);
        return 0;
      }
      if (table.isSpecial(svc)) out(`${svc}=${r.special}\n`);
      else for (const k of VARS) if (k !== "status") out(`${svc}_${k}=${r.vals[k]}\n`);
      return r.status;
    }
    case "set": {
      const [svc, v, ...args] = rest;
      if (!svc || !v) usage();
      table.mustExist(svc);
      if (!VARS.includes(v) || (table.isSpecial(svc) && v !== "status")) usage();
      const value = args.join(" ");
      if (v === "class") rcctlErr(`"${svc}_class" is a read-only variable set in login.conf(5)`);
      if (v === "flags" && value === "NO") rcctlErr(`"flags NO" contradicts "enable"`);
      if (v === "status" && value !== "on" && value !== "off") usage();
      acquireLock(root);
      table.reloadConf();
      svcSet(table, svc, v, value);
      return 0;
    }
    case "enable":
    case "disable":
      if (rest.length === 0) usage();
      for (const svc of rest) table.mustExist(svc);
      acquireLock(root);
      table.reloadConf();
      for (const svc of rest) svcSet(table, svc, "status", action === "enable" ? "on" : "off");
      return 0;
    default: {
      if (!ACTIONS.includes(action) || rest.length === 0) usage();
      for (const svc of rest) table.mustExist(svc);
      if (!["check", "configtest"].includes(action)) acquireLock(root);
      table.reloadConf();
      let ret = 0;
      for (const svc of rest) {
        if (table.isSpecial(svc)) rcctlErr(`"${svc}" is a special variable, no rc.d(8) script`);
        const r = await runAction(table, options, action, svc);
        if (r !== 0) ret = r; // the last non-zero status (ref §1)
      }
      return ret;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (e) => {
    err(`rcctl test double: internal error: ${e?.stack ?? e}\n`);
    process.exit(3);
  },
);
