#!/usr/bin/env node
// pfctl(8) TEST DOUBLE (our own code, not OpenBSD's pfctl): checks and "loads" pf.conf(5) files on a fake
// root given by PFCTL_DOUBLE_ROOT. The grammar is vmmeet's own checker of the pf.conf subset it emits
// (packages/coordinator/dist/render/grammar: build first). See README.md in this folder.
//
//   pfctl -nf FILE      check only: errors as FILE:LINE: message, then pfctl's "rules not loaded", exit 1
//   pfctl -f FILE       check, then record the ruleset as loaded (ROOT/var/db/pfctl-double/loaded.conf)
//   pfctl -s rules      print the loaded rules, one normalized rule per line (macros expanded), like -sr
//   pfctl -F rules      flush the loaded rules ("rules cleared")
//   pfctl -e | -d       enable / disable (recorded)
import fs from "node:fs";
import path from "node:path";
import {
  checkPfConf,
  formatPfRule,
  parsePfConf,
} from "../../../packages/coordinator/dist/render/grammar/index.js";

const USAGE =
  "usage: pfctl [-deghNnPqrvz] [-a anchor] [-D macro=value] [-F modifier] [-f file]\n" +
  "\t[-i interface] [-K key] [-k key] [-L statefile] [-o level]\n" +
  "\t[-p device] [-S statefile] [-s modifier [-R id]] [-t table -T command [address ...]]\n" +
  "\t[-V rdomain] [-x level]\n";

function fail(msg, code = 1) {
  process.stderr.write(msg);
  process.exit(code);
}

function fakeRoot() {
  const root = process.env.PFCTL_DOUBLE_ROOT;
  if (!root) fail("pfctl test double: PFCTL_DOUBLE_ROOT is not set; refusing to run\n", 3);
  const real = fs.realpathSync(root);
  if (real === "/") fail("pfctl test double: PFCTL_DOUBLE_ROOT resolves to /; refusing to run\n", 3);
  return real;
}

const ROOT = fakeRoot();
const DIR = path.join(ROOT, "var/db/pfctl-double");
fs.mkdirSync(DIR, { recursive: true });
const LOADED = path.join(DIR, "loaded.conf");

/** getopt(3) over pfctl's option string, for the options the double supports. */
function parseArgs(argv) {
  const options = { n: false, q: false, v: false, e: false, d: false, f: null, s: null, F: null };
  const withArg = new Set(["f", "s", "F"]);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") break;
    if (!a.startsWith("-") || a === "-") fail(USAGE);
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (withArg.has(c)) {
        const rest = a.slice(j + 1);
        const val = rest !== "" ? rest : argv[++i];
        if (val === undefined) fail(`pfctl: option requires an argument -- ${c}\n${USAGE}`);
        options[c] = val;
        break;
      }
      if (!"nqved".includes(c)) fail(`pfctl test double: option -${c} is not emulated\n`, 3);
      options[c] = true;
    }
  }
  return options;
}

function history(line) {
  fs.appendFileSync(path.join(DIR, "history.log"), `${new Date().toISOString()} ${line}\n`);
}

function writeAtomic(file, text) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

const options = parseArgs(process.argv.slice(2));
if (options.e) {
  history("enable");
  process.stderr.write("pf enabled\n");
}
if (options.d) {
  history("disable");
  process.stderr.write("pf disabled\n");
}
if (options.F !== null) {
  if (!["rules", "r", "all", "a"].includes(options.F))
    fail(`pfctl test double: -F ${options.F} is not emulated\n`, 3);
  if (!options.n) {
    writeAtomic(LOADED, "");
    history("flush rules");
  }
  process.stderr.write("rules cleared\n");
}
if (options.f !== null) {
  let text;
  try {
    text = fs.readFileSync(options.f, "utf8");
  } catch (e) {
    fail(`pfctl: ${options.f}: ${e.code === "ENOENT" ? "No such file or directory" : e.message}\n`);
  }
  const res = checkPfConf(text);
  if (!res.ok) {
    // pfctl's parser reports "FILE:LINE: message" per error, then refuses the whole file.
    for (const p of res.errors) process.stderr.write(`${options.f}:${p.line}: ${p.message}\n`);
    fail("pfctl: Syntax error in config file: pf rules not loaded\n");
  }
  if (!options.n) {
    writeAtomic(LOADED, text);
    history(`load ${options.f}`);
  }
}
if (options.s !== null) {
  if (!["rules", "r"].includes(options.s)) fail(`pfctl test double: -s ${options.s} is not emulated\n`, 3);
  const text = fs.existsSync(LOADED) ? fs.readFileSync(LOADED, "utf8") : "";
  for (const rule of parsePfConf(text).conf.rules) process.stdout.write(`${formatPfRule(rule)}\n`);
}
if (!options.e && !options.d && options.F === null && options.f === null && options.s === null) fail(USAGE);
process.exit(0);
