#!/usr/bin/env node
// rcctl(8) TEST DOUBLE (our own code, not OpenBSD's rcctl.sh/rc.subr): emulates what rcctl and rc.subr do
// as described in docs/openbsd-rc.md sections 1-3 ("ref §N" below), on a fake
// root given by RCCTL_DOUBLE_ROOT, with real processes. See README.md in this folder for what it does
// and does not emulate. Usage: RCCTL_DOUBLE_ROOT=/tmp/vm rcctl.mjs [-d | -q] [-f] ACTION ...
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import {
  BASE_DAEMONS,
  DAEMON_MARK,
  ensureRoot,
  evalRcScript,
  findMarkedProcs,
  inRoot,
  LOGGER_MARK,
  parsePriority,
  pgrep,
  readConf,
  resolveRoot,
  ScriptError,
  SPECIALS,
} from "./core.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// rc.subr polls every 0.5 s (ref §2); the double polls faster so tests stay quick. Nothing depends on it.
const POLL_MS = 200;
const ACTIONS = ["check", "configtest", "reload", "restart", "start", "stop"];
const VARS = ["class", "execdir", "flags", "logger", "rtable", "status", "timeout", "user"];
const NAME_RE = /^[_A-Za-z][_A-Za-z0-9]*$/; // rc.subr's _rc_check_name: [_[:alpha:]][_[:alnum:]]*
const UNSUPPORTED_FUNCS = [
  "rc_check",
  "rc_configtest",
  "rc_post",
  "rc_pre",
  "rc_reload",
  "rc_start",
  "rc_stop",
];
const RUNFILE_KEYS = [
  "daemon_class",
  "daemon_execdir",
  "daemon_flags",
  "daemon_logger",
  "daemon_rtable",
  "daemon_timeout",
  "daemon_user",
  "pexp",
  "rc_reload",
  "rc_reload_signal",
  "rc_stop_signal",
  "rc_usercheck",
];
const USAGE = [
  "usage:\trcctl get|getdef|set service | daemon [variable [argument ...]]",
  "\trcctl [-d | -q] [-f] check|configtest|reload|restart|start|stop daemon ...",
  "\trcctl disable|enable|order [daemon ...]",
  "\trcctl ls all|failed|off|on|rogue|started|stopped",
  "",
].join("\n");

let ROOT = "";
let conf = new Map();
const opts = { debug: false, force: false, quiet: false };
let lockHeld = null;

// ---------------------------------------------------------------------------------------------- output

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
const out = (s) => write(1, s);
const err = (s) => write(2, s);

function rcctlErr(msg, code = 1) {
  err(`rcctl: ${msg}\n`);
  process.exit(code);
}
function usage() {
  err(USAGE);
  process.exit(1);
}
/** Something the double cannot emulate: fail loudly (exit 3), never guess. */
function harnessErr(msg) {
  err(`rcctl test double: ${msg}\n`);
  process.exit(3);
}
function trace(what) {
  if (opts.debug) out(`doing ${what}\n`);
}
// rc.subr prints "name" first and "(status)" when done (ref §1); -q prints only failures.
function begin(svc) {
  if (!opts.quiet) out(svc);
}
function finish(svc, status) {
  if (!opts.quiet) out(`(${status})\n`);
  else if (status !== "ok") out(`${svc}(${status})\n`);
}

// ------------------------------------------------------------------------------------------------ lock

function alive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/**
 * Serialize mutating invocations on one root. Real rcctl has no lock (ref §1: the caller must serialize),
 * so waiting is also recorded in /var/run/rcctl-double/contention.log for tests to assert on.
 */
function acquireLock() {
  const file = inRoot(ROOT, "/var/run/rcctl-double/lock");
  const me = `${process.pid} rcctl ${process.argv.slice(2).join(" ")}`;
  let logged = false;
  for (;;) {
    try {
      fs.writeFileSync(file, me, { flag: "wx" });
      lockHeld = { file, me };
      return;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    let holder;
    try {
      holder = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (holder !== "" && !alive(Number.parseInt(holder, 10))) {
      try {
        if (fs.readFileSync(file, "utf8") === holder) fs.unlinkSync(file);
      } catch {
        // someone else removed it
      }
      continue;
    }
    if (!logged) {
      logged = true;
      fs.appendFileSync(
        inRoot(ROOT, "/var/run/rcctl-double/contention.log"),
        `${new Date().toISOString()} ${me} waited for ${holder || "(unknown)"}\n`,
      );
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
process.on("exit", () => {
  if (!lockHeld) return;
  try {
    if (fs.readFileSync(lockHeld.file, "utf8") === lockHeld.me) fs.unlinkSync(lockHeld.file);
  } catch {
    // already gone
  }
});

// ------------------------------------------------------------------------------------- service lookup

const scriptPath = (svc) => inRoot(ROOT, `/etc/rc.d/${svc}`);
function isScript(svc) {
  try {
    const st = fs.statSync(scriptPath(svc));
    return st.isFile() && (st.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}
const isSpecial = (svc) => Object.hasOwn(SPECIALS, svc);
const isAvail = (svc) => NAME_RE.test(svc) && (isScript(svc) || isSpecial(svc));

/** rcctl decides "base" by grepping start_daemon lines in /etc/rc; a fake root may ship one. */
function isBase(svc) {
  let rc;
  try {
    rc = fs.readFileSync(inRoot(ROOT, "/etc/rc"), "utf8");
  } catch {
    return BASE_DAEMONS.has(svc);
  }
  return rc.split("\n").some((l) => {
    const m = /^\s*start_daemon\s+(.*)$/.exec(l);
    return m?.[1]?.split(/\s+/).includes(svc) ?? false;
  });
}

/** daemon_class: a login class named like the script in login.conf(.d), else "daemon" (ref §2). */
function loginClass(svc) {
  if (fs.existsSync(inRoot(ROOT, `/etc/login.conf.d/${svc}`))) return svc;
  try {
    const lc = fs.readFileSync(inRoot(ROOT, "/etc/login.conf"), "utf8");
    if (new RegExp(`^(${svc}[:|]|[^#][^:]*\\|${svc}[:|])`, "m").test(lc)) return svc;
  } catch {
    // no login.conf
  }
  return "daemon";
}

const pkgScripts = () => (conf.get("pkg_scripts") ?? "").split(/\s+/).filter(Boolean);
const reloadConf = () => {
  conf = readConf(ROOT);
};

function evalScript(svc, how) {
  try {
    return evalRcScript(fs.readFileSync(scriptPath(svc), "utf8"), {
      name: svc,
      daemonClass: "daemon",
      ...how,
    });
  } catch (e) {
    if (e instanceof ScriptError) harnessErr(`/etc/rc.d/${svc}: ${e.message}`);
    throw e;
  }
}

/** rcctl getdef: rc.d script defaults; status from /etc/rc.conf for base daemons, off for packages. */
function svcGetdef(svc) {
  const rcConf = readConf(ROOT, ["/etc/rc.conf"]);
  if (isSpecial(svc)) {
    const v = rcConf.get(svc) ?? SPECIALS[svc];
    return { status: v === "NO" ? 1 : 0, special: v };
  }
  const status = !isBase(svc) || rcConf.get(`${svc}_flags`) === "NO" ? 1 : 0;
  const d = evalScript(svc, { mode: "defaults" });
  const vals = {
    class: "daemon",
    execdir: d.daemon_execdir,
    flags: d.daemon_flags,
    logger: d.daemon_logger,
    rtable: d.daemon_rtable,
    timeout: d.daemon_timeout,
    user: d.daemon_user,
  };
  return { status, vals };
}

/** rcctl get: a package daemon not in pkg_scripts has flags NO; else X_flags, else the default. */
function svcGet(svc) {
  if (isSpecial(svc)) {
    const v = conf.get(svc) ?? SPECIALS[svc];
    return { status: v === "NO" ? 1 : 0, special: v };
  }
  const def = svcGetdef(svc).vals;
  let flags = !isBase(svc) && !pkgScripts().includes(svc) ? "NO" : "";
  if (flags === "") flags = conf.get(`${svc}_flags`) ?? "";
  if (flags === "") flags = def.flags;
  const pick = (v) => {
    const c = conf.get(`${svc}_${v}`) ?? "";
    return c !== "" ? c : def[v];
  };
  const vals = {
    class: loginClass(svc),
    execdir: pick("execdir"),
    flags,
    logger: pick("logger"),
    rtable: pick("rtable"),
    timeout: pick("timeout"),
    user: pick("user"),
  };
  return { status: flags === "NO" ? 1 : 0, vals };
}

// ------------------------------------------------------------------------------ rc.conf.local database

const byteOrder = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * rcctl's rcconf_edit_begin/end (ref §1): edit a copy, `sort -u` it, install it only if it changed
 * (atomically: temp file in /etc + rename), remove the file when it ends up empty.
 */
function editLocal(fn) {
  const file = inRoot(ROOT, "/etc/rc.conf.local");
  let old = null;
  try {
    old = fs.readFileSync(file, "utf8");
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
  const lines = old === null || old === "" ? [] : old.replace(/\n$/, "").split("\n");
  const next = [...new Set(fn(lines))].sort(byteOrder);
  const text = next.length > 0 ? `${next.join("\n")}\n` : "";
  if (text === "") {
    if (old !== null) fs.rmSync(file);
  } else if (text !== old) {
    const tmp = inRoot(ROOT, `/etc/rc.conf.local.${process.pid}.${Date.now()}`);
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    fs.renameSync(tmp, file);
  }
  reloadConf();
}

function pkgScriptsAppend(svc) {
  const cur = conf.get("pkg_scripts") ?? "";
  if (cur !== "" && cur.split(/\s+/).includes(svc)) return;
  editLocal((lines) =>
    cur === ""
      ? [...lines, `pkg_scripts=${svc}`]
      : [...lines.filter((l) => !l.startsWith("pkg_scripts=")), `pkg_scripts=${cur} ${svc}`],
  );
}

function pkgScriptsRm(svc) {
  if ((conf.get("pkg_scripts") ?? "") === "") return;
  const word = new RegExp(`\\b${svc}\\b`, "g");
  editLocal((lines) =>
    lines.flatMap((l) => {
      if (!/^pkg_scripts\b/.test(l)) return [l];
      const s = l
        .replace(word, "")
        .replace(/['"]/g, "")
        .replace(/ *= */, "=")
        .replace(/ {2,}/g, " ")
        .replace(/ $/, "");
      return s.endsWith("=") ? [] : [s];
    }),
  );
}

function validate(v, value) {
  if (value === "") return;
  if (v === "timeout" && (!/^[0-9]+$/.test(value) || Number(value) <= 0)) {
    rcctlErr(`"${value}" is not a positive integer`);
  }
  if (v === "user") {
    let passwd = null;
    try {
      passwd = fs.readFileSync(inRoot(ROOT, "/etc/passwd"), "utf8");
    } catch {
      // no passwd in the fake root: every user "exists"
    }
    if (passwd !== null && !passwd.split("\n").some((l) => l.startsWith(`${value}:`))) {
      rcctlErr(`user "${value}" does not exist`);
    }
  }
  if (v === "logger" && !parsePriority(value)) rcctlErr(`"${value}" is not a valid syslog priority`);
  if (v === "execdir" && !value.startsWith("/")) rcctlErr(`"${value}" is not an absolute path`);
  if (v === "rtable" && !/^[0-9]+$/.test(value)) rcctlErr(`"${value}" is not a valid routing table`);
}

/** rcctl's svc_set (ref §1): enable/disable are "set X status on|off". */
function svcSet(svc, varIn, valueIn) {
  let v = varIn;
  let value = valueIn;
  if (v === "status" && value === "on") {
    v = "flags";
    value = conf.get(`${svc}_flags`) ?? ""; // keep existing flags
    if (value === "NO") value = "";
    if (!isBase(svc) && !isSpecial(svc)) pkgScriptsAppend(svc);
  } else if (v === "status" && value === "off") {
    if (!isBase(svc) && !isSpecial(svc)) pkgScriptsRm(svc);
    const defOn = svcGetdef(svc).status === 0;
    if (isSpecial(svc)) {
      editLocal((lines) => [
        ...lines.filter((l) => !l.startsWith(`${svc}=`)),
        ...(defOn ? [`${svc}=NO`] : []),
      ]);
    } else {
      // every X_execdir/flags/logger/rtable/timeout/user line goes; re-enabling does not restore them
      const re = new RegExp(`^${svc}_(class|execdir|flags|logger|rtable|timeout|user)=`);
      editLocal((lines) => [...lines.filter((l) => !re.test(l)), ...(defOn ? [`${svc}_flags=NO`] : [])]);
    }
    return;
  } else if (svcGet(svc).status !== 0) {
    rcctlErr(`${svc} is not enabled`);
  }
  if (isSpecial(svc)) {
    const defOn = svcGetdef(svc).status === 0;
    editLocal((lines) => [
      ...lines.filter((l) => !l.startsWith(`${svc}=`)),
      ...(defOn ? [] : [`${svc}=YES`]),
    ]);
    return;
  }
  validate(v, value);
  const def = svcGetdef(svc);
  if (value !== "" && value === def.vals[v]) value = ""; // the script's default is not written
  if (value.startsWith(" ")) value = `"${value}"`; // protect leading blanks
  // a base daemon that is off by default stays enabled through an explicit (maybe empty) X_flags line
  const keepEmpty = v === "flags" && isBase(svc) && def.status !== 0;
  editLocal((lines) => [
    ...lines.filter((l) => !l.startsWith(`${svc}_${v}=`)),
    ...(value !== "" || keepEmpty ? [`${svc}_${v}=${value}`] : []),
  ]);
}

// ------------------------------------------------------------------------------------ rc.d actions

/** What "/etc/rc.d/NAME ACTION" sees after sourcing rc.subr (ref §2). */
function loadRun(svc, action) {
  const cfg = evalScript(svc, { mode: "run", conf, action, force: opts.force, daemonClass: loginClass(svc) });
  if (cfg.meta) harnessErr(`/etc/rc.d/${svc} is a meta script (_pkg_scripts); not emulated`);
  const custom = UNSUPPORTED_FUNCS.filter((f) => cfg.funcs.has(f));
  if (custom.length > 0) {
    harnessErr(
      `/etc/rc.d/${svc} defines ${custom.join(", ")}(); the double only emulates rc.subr's defaults`,
    );
  }
  if (!cfg.daemon) harnessErr(`/etc/rc.d/${svc} sets no daemon=`);
  return cfg;
}

const runfilePath = (svc) => inRoot(ROOT, `/var/run/rc.d/${svc}`);

/** Start-time values (ref §2: check/stop/reload use them, so flags changed meanwhile do not matter). */
function writeRunfile(svc, cfg, pid) {
  const lines = RUNFILE_KEYS.map((k) => `${k}=${cfg[k]}`);
  lines.push(`pid=${pid}`); // test-double addition: the pid the double spawned
  fs.mkdirSync(path.dirname(runfilePath(svc)), { recursive: true });
  const tmp = `${runfilePath(svc)}.${process.pid}`;
  fs.writeFileSync(tmp, `${lines.join("\n")}\n`);
  fs.renameSync(tmp, runfilePath(svc));
}
function rmRunfile(svc) {
  fs.rmSync(runfilePath(svc), { force: true });
}
function withRunfile(svc, cfg) {
  let text;
  try {
    text = fs.readFileSync(runfilePath(svc), "utf8");
  } catch {
    return cfg;
  }
  const merged = { ...cfg };
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    const k = line.slice(0, eq);
    if (eq > 0 && RUNFILE_KEYS.includes(k)) merged[k] = line.slice(eq + 1);
  }
  return merged;
}

function timeoutSecs(cfg) {
  const n = Number.parseInt(cfg.daemon_timeout, 10);
  return Number.isFinite(n) && n > 0 ? n : 30;
}
function signalOf(name) {
  if (/^[0-9]+$/.test(name)) return Number(name);
  return `SIG${name.toUpperCase().replace(/^SIG/, "")}`;
}
function killAll(pids, sig) {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      if (e.code !== "ESRCH") harnessErr(`kill ${pid} ${sig}: ${e.message}`);
    }
  }
}
const running = (cfg) => pgrep(ROOT, cfg.pexp);

function doCheck(svc) {
  const cfg = withRunfile(svc, loadRun(svc, "check"));
  trace("rc_check");
  const ok = running(cfg).length > 0;
  begin(svc);
  finish(svc, ok ? "ok" : "failed");
  return ok ? 0 : 1;
}

/**
 * rc_exec (ref §2) runs "su ... -c 'cd EXECDIR && DAEMON FLAGS 2>&1 | logger -isp LOGGER -t NAME'": the
 * command line goes through a shell (quotes in flags are shell quotes), detached from rcctl.
 */
function spawnDaemon(svc, cfg) {
  const cmd = `${cfg.daemon}${cfg.daemon_flags ? ` ${cfg.daemon_flags}` : ""}`;
  const script = cfg.daemon_execdir ? `cd ${cfg.daemon_execdir} && exec ${cmd}` : `exec ${cmd}`;
  // su -l gives a login environment, not rcctl's (ref §2); PATH is kept so host binaries resolve.
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: ROOT,
    USER: cfg.daemon_user,
    LOGNAME: cfg.daemon_user,
    SHELL: "/bin/sh",
    [DAEMON_MARK]: ROOT,
    // A sandbox VM's clock offset (test/simulators/lib.mjs vmNow): part of the machine, not of the login.
    ...(process.env.VMMEET_VM_CLOCK_OFFSET_MS
      ? { VMMEET_VM_CLOCK_OFFSET_MS: process.env.VMMEET_VM_CLOCK_OFFSET_MS }
      : {}),
    // The simulators' random seed (test/simulators/random.mjs): test instrumentation, not part of a login.
    ...(process.env.VMMEET_SIM_SEED ? { VMMEET_SIM_SEED: process.env.VMMEET_SIM_SEED } : {}),
  };
  let stdio = "ignore";
  let logger = null;
  if (cfg.daemon_logger) {
    logger = spawn(process.execPath, [path.join(HERE, "logger.mjs"), ROOT, cfg.daemon_logger, svc], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
      env: {
        PATH: env.PATH,
        [LOGGER_MARK]: ROOT,
        ...(env.VMMEET_VM_CLOCK_OFFSET_MS
          ? { VMMEET_VM_CLOCK_OFFSET_MS: env.VMMEET_VM_CLOCK_OFFSET_MS }
          : {}),
      },
      cwd: ROOT,
    });
    stdio = ["ignore", logger.stdin, logger.stdin];
  } else if (opts.debug) {
    stdio = ["ignore", "inherit", "inherit"]; // -d: daemon output is not discarded (ref §1)
  }
  const child = spawn("/bin/sh", ["-c", script], { detached: true, stdio, env, cwd: ROOT });
  if (logger) {
    logger.stdin.destroy(); // the daemon holds the write end now: EOF when it (and its children) exit
    logger.unref();
  }
  fs.appendFileSync(inRoot(ROOT, "/var/run/rcctl-double/spawned"), `${child.pid} ${svc}\n`);
  return child;
}

async function doStart(svc) {
  const cfg = loadRun(svc, "start");
  if (cfg.daemon_flags === "NO") {
    err(`/etc/rc.d/${svc}: need -f to force start since ${svc}_flags=NO\n`);
    return 1;
  }
  if (cfg.daemon_logger && cfg.rc_bg !== "YES") {
    err(`/etc/rc.d/${svc}: daemon_logger needs rc_bg to be set to 'YES'\n`); // rc.subr 1.181 (ref §2)
    return 1;
  }
  trace("rc_check");
  if (running(cfg).length > 0) return 0; // already running: exit 0, no output (ref §1)
  trace("rc_start");
  begin(svc);
  const secs = timeoutSecs(cfg);
  const child = spawnDaemon(svc, cfg);
  let exitCode;
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? 128 : 1);
      resolve(exitCode);
    });
  });
  let status;
  if (cfg.rc_bg === "YES") {
    // poll rc_check; "ok" means the process exists, not that it serves. A pexp that never matches still
    // ends in (ok) after daemon_timeout (ref §2) - the trap callers must handle with a later check.
    const deadline = Date.now() + secs * 1000;
    for (;;) {
      await delay(POLL_MS);
      if (running(cfg).length > 0) {
        status = "ok";
        break;
      }
      if (exitCode !== undefined) {
        status = "failed";
        break;
      }
      if (Date.now() >= deadline) {
        status = "ok";
        break;
      }
    }
  } else {
    // a self-daemonizing daemon: rc_start must return within daemon_timeout
    const ac = new AbortController();
    const r = await Promise.race([
      exited,
      delay(secs * 1000, "timeout", { signal: ac.signal }).catch(() => ""),
    ]);
    ac.abort();
    status = r === "timeout" ? "timeout" : r === 0 ? "ok" : "failed";
  }
  child.unref();
  if (status === "ok") writeRunfile(svc, cfg, child.pid);
  else rmRunfile(svc);
  finish(svc, status);
  return status === "ok" ? 0 : 1;
}

async function doStop(svc) {
  const cfg = withRunfile(svc, loadRun(svc, "stop"));
  trace("rc_check");
  const pids = running(cfg);
  if (pids.length === 0) return 0; // not running (or pexp never matched): silent no-op (ref §1, §2)
  trace("rc_stop");
  begin(svc);
  killAll(pids, signalOf(cfg.rc_stop_signal || "TERM"));
  const deadline = Date.now() + timeoutSecs(cfg) * 1000;
  let resent = false;
  while (Date.now() < deadline) {
    await delay(POLL_MS);
    if (running(cfg).length === 0) {
      rmRunfile(svc);
      finish(svc, "ok");
      return 0;
    }
    if (!resent && deadline - Date.now() <= 2000) {
      resent = true; // rc.subr resends SIGTERM 2 s before the deadline (ref §2)
      killAll(running(cfg), "SIGTERM");
    }
  }
  killAll(running(cfg), "SIGKILL");
  const killDeadline = Date.now() + 5000;
  while (running(cfg).length > 0 && Date.now() < killDeadline) await delay(50);
  rmRunfile(svc);
  finish(svc, "killed"); // exit 0 (ref §1)
  return 0;
}

function doReload(svc) {
  const base = loadRun(svc, "reload");
  if (base.rc_reload === "NO") {
    err(`/etc/rc.d/${svc}: reload is not supported\n`);
    return 1;
  }
  const cfg = withRunfile(svc, base);
  trace("rc_reload");
  begin(svc);
  const pids = running(cfg);
  if (pids.length === 0) {
    finish(svc, "failed");
    return 1;
  }
  killAll(pids, signalOf(cfg.rc_reload_signal || "HUP"));
  finish(svc, "ok");
  return 0;
}

async function runAction(action, svc) {
  switch (action) {
    case "check":
      return doCheck(svc);
    case "start":
      return doStart(svc);
    case "stop":
      return doStop(svc);
    case "reload":
      return doReload(svc);
    case "restart": {
      loadRun(svc, "restart");
      const s = await doStop(svc);
      if (s !== 0) return s;
      reloadConf();
      return doStart(svc);
    }
    case "configtest":
      // no rc_configtest() (the double refuses scripts that define one)
      loadRun(svc, "configtest");
      err(`/etc/rc.d/${svc}: configtest is not supported\n`);
      return 1;
  }
  return usage();
}

// ------------------------------------------------------------------------------------------ ls, order

function listScripts() {
  let names;
  try {
    names = fs.readdirSync(inRoot(ROOT, "/etc/rc.d"));
  } catch {
    return [];
  }
  return names.filter((n) => NAME_RE.test(n) && isScript(n)).sort(byteOrder);
}

function doLs(what) {
  const needCheck = ["failed", "rogue", "started", "stopped"].includes(what);
  if (!needCheck && !["all", "off", "on"].includes(what)) usage();
  const svcs = needCheck ? listScripts() : [...listScripts(), ...Object.keys(SPECIALS)].sort(byteOrder);
  const procs = needCheck ? findMarkedProcs(ROOT) : [];
  let ret = 0;
  for (const svc of svcs) {
    const on = svcGet(svc).status === 0;
    const started = needCheck && pgrep(ROOT, withRunfile(svc, loadRun(svc, "check")).pexp, procs).length > 0;
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

function doOrder(svcs) {
  if (svcs.length === 0) {
    const list = pkgScripts();
    if (list.length > 0) out(`${list.join(" ")}\n`);
    return 0;
  }
  acquireLock();
  reloadConf();
  for (const svc of svcs) {
    if (isBase(svc) || isSpecial(svc)) rcctlErr(`${svc} is not a pkg script`);
    if (svcGet(svc).status !== 0) rcctlErr(`${svc} is not enabled`);
  }
  const list = [...new Set([...svcs, ...pkgScripts()])];
  editLocal((lines) => [
    ...lines.filter((l) => !l.startsWith("pkg_scripts=")),
    `pkg_scripts=${list.join(" ")}`,
  ]);
  return 0;
}

// ------------------------------------------------------------------------------------------------ main

function mustExist(svc) {
  if (!isAvail(svc)) rcctlErr(`service ${svc} does not exist`, 2);
}

async function main(argv) {
  try {
    ROOT = resolveRoot(process.env.RCCTL_DOUBLE_ROOT);
  } catch (e) {
    err(`${e.message}\n`);
    return 3;
  }
  ensureRoot(ROOT);
  reloadConf();
  let i = 0;
  for (; i < argv.length && /^-[dfq]+$/.test(argv[i]); i++) {
    for (const c of argv[i].slice(1)) opts[{ d: "debug", f: "force", q: "quiet" }[c]] = true;
  }
  if (argv[i] === "--") i++;
  const action = argv[i];
  const rest = argv.slice(i + 1);
  if (!action || action.startsWith("-") || (opts.debug && opts.quiet)) usage();
  if ((opts.debug || opts.force || opts.quiet) && !ACTIONS.includes(action)) usage();

  switch (action) {
    case "ls":
      if (rest.length !== 1) usage();
      return doLs(rest[0]);
    case "order":
      for (const svc of rest) mustExist(svc);
      return doOrder(rest);
    case "get":
    case "getdef": {
      const [svc, v, ...more] = rest;
      if (!svc || svc === "all") usage();
      mustExist(svc);
      if (v !== undefined && (more.length > 0 || (isSpecial(svc) ? v !== "status" : !VARS.includes(v))))
        usage();
      const r = action === "get" ? svcGet(svc) : svcGetdef(svc);
      if (v === "status") return r.status;
      if (v !== undefined) {
        const val = r.vals[v];
        if (val !== "") out(`${val}\n`);
        return 0;
      }
      if (isSpecial(svc)) out(`${svc}=${r.special}\n`);
      else for (const k of VARS) if (k !== "status") out(`${svc}_${k}=${r.vals[k]}\n`);
      return r.status;
    }
    case "set": {
      const [svc, v, ...args] = rest;
      if (!svc || !v) usage();
      mustExist(svc);
      if (!VARS.includes(v) || (isSpecial(svc) && v !== "status")) usage();
      const value = args.join(" ");
      if (v === "class") rcctlErr(`"${svc}_class" is a read-only variable set in login.conf(5)`);
      if (v === "flags" && value === "NO") rcctlErr(`"flags NO" contradicts "enable"`);
      if (v === "status" && value !== "on" && value !== "off") usage();
      acquireLock();
      reloadConf();
      svcSet(svc, v, value);
      return 0;
    }
    case "enable":
    case "disable":
      if (rest.length === 0) usage();
      for (const svc of rest) mustExist(svc);
      acquireLock();
      reloadConf();
      for (const svc of rest) svcSet(svc, "status", action === "enable" ? "on" : "off");
      return 0;
    default: {
      if (!ACTIONS.includes(action) || rest.length === 0) usage();
      for (const svc of rest) mustExist(svc);
      if (!["check", "configtest"].includes(action)) acquireLock();
      reloadConf();
      let ret = 0;
      for (const svc of rest) {
        if (isSpecial(svc)) rcctlErr(`"${svc}" is a special variable, no rc.d(8) script`);
        const r = await runAction(action, svc);
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
