#!/usr/bin/env node
// sysctl(8) TEST DOUBLE (our own code, not OpenBSD's sysctl) on a fake root given by SYSCTL_DOUBLE_ROOT.
// A small MIB of the values vmmeet touches, kept in ROOT/var/db/sysctl-double/values.json; every set is
// also appended to history.log. See README.md.
//   sysctl NAME            NAME=VALUE
//   sysctl -n NAME         VALUE
//   sysctl NAME=VALUE      NAME: OLD -> NEW   (unknown names are refused, as sysctl refuses a bad MIB)
import fs from "node:fs";
import path from "node:path";

function fakeRoot() {
  const root = process.env.SYSCTL_DOUBLE_ROOT;
  if (!root) {
    process.stderr.write("sysctl test double: SYSCTL_DOUBLE_ROOT is not set; refusing to run\n");
    process.exit(3);
  }
  const real = fs.realpathSync(root);
  if (real === "/") {
    process.stderr.write("sysctl test double: SYSCTL_DOUBLE_ROOT resolves to /; refusing to run\n");
    process.exit(3);
  }
  return real;
}

// The values of a fresh OpenBSD install for the names the double knows.
const DEFAULTS = {
  "kern.ostype": "OpenBSD",
  "net.inet.ip.forwarding": "0",
  "net.inet6.ip6.forwarding": "0",
  "net.inet.udp.recvspace": "41600",
  "net.inet.udp.sendspace": "9216",
};

const ROOT = fakeRoot();
const DIR = path.join(ROOT, "var/db/sysctl-double");
const FILE = path.join(DIR, "values.json");
fs.mkdirSync(DIR, { recursive: true });
let values;
try {
  values = JSON.parse(fs.readFileSync(FILE, "utf8"));
} catch {
  values = { ...DEFAULTS };
}

const args = process.argv.slice(2);
let valueOnly = false;
if (args[0] === "-n") {
  valueOnly = true;
  args.shift();
}
if (args.length === 0) {
  process.stderr.write("usage: sysctl [-Aanq] [name[=value]]\n");
  process.exit(1);
}
let code = 0;
for (const a of args) {
  const eq = a.indexOf("=");
  const name = eq < 0 ? a : a.slice(0, eq);
  if (!(name in values)) {
    const parts = name.split(".");
    process.stderr.write(
      `sysctl: ${parts.length > 1 ? "second" : "top"} level name ${parts.at(-1)} in ${name} is invalid\n`,
    );
    code = 1;
    continue;
  }
  if (eq < 0) {
    process.stdout.write(valueOnly ? `${values[name]}\n` : `${name}=${values[name]}\n`);
    continue;
  }
  const value = a.slice(eq + 1);
  const old = values[name];
  values[name] = value;
  const tmp = `${FILE}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(values, null, 2)}\n`);
  fs.renameSync(tmp, FILE);
  fs.appendFileSync(path.join(DIR, "history.log"), `${name}=${value}\n`);
  process.stdout.write(`${name}: ${old} -> ${value}\n`);
}
process.exit(code);
