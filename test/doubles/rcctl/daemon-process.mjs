// A daemon's process for the rcctl TEST DOUBLE (not OpenBSD code): rc_exec's start, signals, the runfile
// with its start-time values and pid, and whether the daemon runs. "ref §N" = section N of
// docs/openbsd-rc.md.
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inRoot } from "./fake-root.mjs";
import { harnessErr } from "./output.mjs";
import { DAEMON_MARK, LOGGER_MARK, pgrep } from "./processes.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
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

/** The pids rc_check finds: pgrep -xf PEXP among the root's daemons (processes.mjs). */
export const running = (root, cfg) => pgrep(root, cfg.pexp);

/**
 * rc_exec (ref §2) runs "su ... -c 'cd EXECDIR && DAEMON FLAGS 2>&1 | logger -isp LOGGER -t NAME'": the
 * command line goes through a shell (quotes in flags are shell quotes), detached from rcctl.
 * `options` are the invocation's -d/-f/-q.
 */
export function spawnDaemon(root, options, svc, cfg) {
  const cmd = `${cfg.daemon}${cfg.daemon_flags ? ` ${cfg.daemon_flags}` : ""}`;
  const script = cfg.daemon_execdir ? `cd ${cfg.daemon_execdir} && exec ${cmd}` : `exec ${cmd}`;
  // su -l gives a login environment, not rcctl's (ref §2); PATH is kept so host binaries resolve.
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    USER: cfg.daemon_user,
    LOGNAME: cfg.daemon_user,
    SHELL: "/bin/sh",
    [DAEMON_MARK]: root,
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
    logger = spawn(process.execPath, [path.join(HERE, "logger.mjs"), root, cfg.daemon_logger, svc], {
      detached: true,
      stdio: ["pipe", "ignore", "ignore"],
      env: {
        PATH: env.PATH,
        [LOGGER_MARK]: root,
        ...(env.VMMEET_VM_CLOCK_OFFSET_MS
          ? { VMMEET_VM_CLOCK_OFFSET_MS: env.VMMEET_VM_CLOCK_OFFSET_MS }
          : {}),
      },
      cwd: root,
    });
    stdio = ["ignore", logger.stdin, logger.stdin];
  } else if (options.debug) {
    stdio = ["ignore", "inherit", "inherit"]; // -d: daemon output is not discarded (ref §1)
  }
  const child = spawn("/bin/sh", ["-c", script], { detached: true, stdio, env, cwd: root });
  if (logger) {
    logger.stdin.destroy(); // the daemon holds the write end now: EOF when it (and its children) exit
    logger.unref();
  }
  fs.appendFileSync(inRoot(root, "/var/run/rcctl-double/spawned"), `${child.pid} ${svc}\n`);
  return child;
}

export function signalOf(name) {
  if (/^[0-9]+$/.test(name)) return Number(name);
  return `SIG${name.toUpperCase().replace(/^SIG/, "")}`;
}

export function killAll(pids, sig) {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch (e) {
      if (e.code !== "ESRCH") harnessErr(`kill ${pid} ${sig}: ${e.message}`);
    }
  }
}

const runfilePath = (root, svc) => inRoot(root, `/var/run/rc.d/${svc}`);

/** Start-time values (ref §2: check/stop/reload use them, so flags changed meanwhile do not matter). */
export function writeRunfile(root, svc, cfg, pid) {
  const lines = RUNFILE_KEYS.map((k) => `${k}=${cfg[k]}`);
  lines.push(`pid=${pid}`); // test-double addition: the pid the double spawned
  const file = runfilePath(root, svc);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}`;
  fs.writeFileSync(tmp, `${lines.join("\n")}\n`);
  fs.renameSync(tmp, file);
}

export function rmRunfile(root, svc) {
  fs.rmSync(runfilePath(root, svc), { force: true });
}

/** `cfg` with the runfile's start-time values, when the daemon was started by rc.subr. */
export function withRunfile(root, svc, cfg) {
  let text;
  try {
    text = fs.readFileSync(runfilePath(root, svc), "utf8");
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
