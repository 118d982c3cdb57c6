#!/usr/bin/env node
// vmd(8) TEST DOUBLE (our own code, not OpenBSD's vmd). Two modes:
//   vmd -n [-f FILE]   configtest: "configuration OK", or the errors and exit 1 (vmconf grammar checker)
//   vmd [-d] [-f FILE] the daemon, as rc.d runs it through the rcctl double: loads vm.conf, starts the
//                      enabled VMs whose disk exists, stays up; SIGHUP reloads vm.conf (starts nothing);
//                      SIGTERM stops every VM and exits
// The fake root comes from VMD_DOUBLE_ROOT, or from RCCTL_DOUBLE_DAEMON, which the rcctl double puts on every
// daemon it starts. State is shared with the vmctl double (../vmctl/state.mjs). See ../vmctl/README.md.
import path from "node:path";
import { applyConfig, fakeRoot, loadConfig, markRunning, startProblem, withState } from "../vmctl/state.mjs";

const ROOT = fakeRoot("vmd", "VMD_DOUBLE_ROOT", "RCCTL_DOUBLE_DAEMON");
const argv = process.argv.slice(2);
let configtest = false;
let file = path.join(ROOT, "etc/vm.conf");
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "-n") configtest = true;
  else if (a === "-d" || a === "-v") continue;
  else if (a === "-f" && argv[i + 1] !== undefined) file = argv[++i];
  else {
    process.stderr.write("usage: vmd [-dnv] [-D macro=value] [-f file]\n");
    process.exit(1);
  }
}

const loaded = loadConfig(file);
if (configtest) {
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`${e}\n`);
    process.exit(1);
  }
  process.stderr.write("configuration OK\n");
  process.exit(0);
}
if (!loaded.ok) {
  for (const e of loaded.errors) process.stderr.write(`${e}\n`);
  process.exit(1);
}

await withState(ROOT, (st) => {
  st.vmd = { pid: process.pid };
  applyConfig(st, loaded.config);
  // vmd starts the VMs vm.conf enables when it starts (vm.conf(5) "enable").
  for (const def of loaded.config) {
    if (!def.enable) continue;
    const why = startProblem(ROOT, st, def.name);
    if (why) process.stderr.write(`vmd: ${def.name}: cannot start: ${why}\n`);
    else markRunning(st, def.name);
  }
});

process.on("SIGHUP", () => {
  const again = loadConfig(file);
  if (!again.ok) return;
  void withState(ROOT, (st) => applyConfig(st, again.config));
});
process.on("SIGTERM", () => {
  void withState(ROOT, (st) => {
    for (const vm of Object.values(st.vms)) vm.state = "stopped";
    st.vmd = null;
  }).finally(() => process.exit(0));
});
setInterval(() => {}, 1 << 30);
