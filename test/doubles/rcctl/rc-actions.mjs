// The rc.d actions (check, start, stop, reload, restart, configtest) as rc.subr runs them, for the rcctl
// TEST DOUBLE (not OpenBSD code). Each takes the ServiceTable (service-table.mjs), the invocation's -d/-f/-q
// `options` and a service; it returns the exit status. "ref §N" = section N of docs/openbsd-rc.md.
import { setTimeout as delay } from "node:timers/promises";
import {
  killAll,
  rmRunfile,
  running,
  signalOf,
  spawnDaemon,
  withRunfile,
  writeRunfile,
} from "./daemon-process.mjs";
import { begin, err, finish, harnessErr, trace, usage } from "./output.mjs";

// rc.subr polls every 0.5 s (ref §2); the double polls faster so tests stay quick. Nothing depends on it.
const POLL_MS = 200;
const UNSUPPORTED_FUNCS = [
  "rc_check",
  "rc_configtest",
  "rc_post",
  "rc_pre",
  "rc_reload",
  "rc_start",
  "rc_stop",
];

/** What "/etc/rc.d/NAME ACTION" sees after sourcing rc.subr (ref §2). */
export function loadRun(table, options, svc, action) {
  const cfg = table.evalScript(svc, {
    mode: "run",
    conf: table.conf,
    action,
    force: options.force,
    daemonClass: table.loginClass(svc),
  });
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

function timeoutSecs(cfg) {
  const n = Number.parseInt(cfg.daemon_timeout, 10);
  return Number.isFinite(n) && n > 0 ? n : 30;
}

function doCheck(table, options, svc) {
  const cfg = withRunfile(table.root, svc, loadRun(table, options, svc, "check"));
  trace(options, "rc_check");
  const ok = running(table.root, cfg).length > 0;
  begin(options, svc);
  finish(options, svc, ok ? "ok" : "failed");
  return ok ? 0 : 1;
}

async function doStart(table, options, svc) {
  const root = table.root;
  const cfg = loadRun(table, options, svc, "start");
  if (cfg.daemon_flags === "NO") {
    err(`/etc/rc.d/${svc}: need -f to force start since ${svc}_flags=NO\n`);
    return 1;
  }
  if (cfg.daemon_logger && cfg.rc_bg !== "YES") {
    err(`/etc/rc.d/${svc}: daemon_logger needs rc_bg to be set to 'YES'\n`); // rc.subr 1.181 (ref §2)
    return 1;
  }
  trace(options, "rc_check");
  if (running(root, cfg).length > 0) return 0; // already running: exit 0, no output (ref §1)
  trace(options, "rc_start");
  begin(options, svc);
  const secs = timeoutSecs(cfg);
  const child = spawnDaemon(root, options, svc, cfg);
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
      if (running(root, cfg).length > 0) {
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
  if (status === "ok") writeRunfile(root, svc, cfg, child.pid);
  else rmRunfile(root, svc);
  finish(options, svc, status);
  return status === "ok" ? 0 : 1;
}

async function doStop(table, options, svc) {
  const root = table.root;
  const cfg = withRunfile(root, svc, loadRun(table, options, svc, "stop"));
  trace(options, "rc_check");
  const pids = running(root, cfg);
  if (pids.length === 0) return 0; // not running (or pexp never matched): silent no-op (ref §1, §2)
  trace(options, "rc_stop");
  begin(options, svc);
  killAll(pids, signalOf(cfg.rc_stop_signal || "TERM"));
  const deadline = Date.now() + timeoutSecs(cfg) * 1000;
  let resent = false;
  while (Date.now() < deadline) {
    await delay(POLL_MS);
    if (running(root, cfg).length === 0) {
      rmRunfile(root, svc);
      finish(options, svc, "ok");
      return 0;
    }
    if (!resent && deadline - Date.now() <= 2000) {
      resent = true; // rc.subr resends SIGTERM 2 s before the deadline (ref §2)
      killAll(running(root, cfg), "SIGTERM");
    }
  }
  killAll(running(root, cfg), "SIGKILL");
  const killDeadline = Date.now() + 5000;
  while (running(root, cfg).length > 0 && Date.now() < killDeadline) await delay(50);
  rmRunfile(root, svc);
  finish(options, svc, "killed"); // exit 0 (ref §1)
  return 0;
}

function doReload(table, options, svc) {
  const base = loadRun(table, options, svc, "reload");
  if (base.rc_reload === "NO") {
    err(`/etc/rc.d/${svc}: reload is not supported\n`);
    return 1;
  }
  const cfg = withRunfile(table.root, svc, base);
  trace(options, "rc_reload");
  begin(options, svc);
  const pids = running(table.root, cfg);
  if (pids.length === 0) {
    finish(options, svc, "failed");
    return 1;
  }
  killAll(pids, signalOf(cfg.rc_reload_signal || "HUP"));
  finish(options, svc, "ok");
  return 0;
}

/** "/etc/rc.d/NAME ACTION": the action's exit status. */
export async function runAction(table, options, action, svc) {
  switch (action) {
    case "check":
      return doCheck(table, options, svc);
    case "start":
      return doStart(table, options, svc);
    case "stop":
      return doStop(table, options, svc);
    case "reload":
      return doReload(table, options, svc);
    case "restart": {
      loadRun(table, options, svc, "restart");
      const s = await doStop(table, options, svc);
      if (s !== 0) return s;
      table.reloadConf();
      return doStart(table, options, svc);
    }
    case "configtest":
      // no rc_configtest() (the double refuses scripts that define one)
      loadRun(table, options, svc, "configtest");
      err(`/etc/rc.d/${svc}: configtest is not supported\n`);
      return 1;
  }
  return usage();
}
