// Helpers around the rcctl(8) TEST DOUBLE (rcctl.mjs in this folder): build a fake VM root whose
// /usr/sbin/rcctl runs the double, write rc.d scripts in the real format, run the double, and kill every
// process it started. See README.md for what is emulated.
import { spawn } from "node:child_process";
import { realpathSync } from "node:fs";
import { appendFile, chmod, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { waitFor } from "../../helpers/wait.js";
import { writeDoubleWrapper } from "../wrapper.js";
import { DAEMON_MARK, ensureRoot, findMarkedProcs, inRoot, LOGGER_MARK, resolveRoot } from "./core.mjs";

/** Absolute path of the double's executable script. */
export const RCCTL_DOUBLE_SCRIPT: string = join(dirname(fileURLToPath(import.meta.url)), "rcctl.mjs");

// a value inside double quotes in an rc.d script: no expansion of what we were given
const dq = (s: string): string => `"${s.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;

/** Create the fake VM layout (rc.conf with base defaults, syslog.conf, /var/log/daemon, ...) once. */
export async function initRoot(root: string): Promise<void> {
  ensureRoot(resolveRoot(root));
}

/**
 * Write ROOT/usr/sbin/rcctl: a wrapper that sets RCCTL_DOUBLE_ROOT and execs the double. Give its path to
 * the agent as `--rcctl`; the agent never passes a root itself.
 */
export async function makeRcctl(root: string): Promise<string> {
  const real = resolveRoot(root);
  ensureRoot(real);
  return writeDoubleWrapper(real, "usr/sbin/rcctl", RCCTL_DOUBLE_SCRIPT);
}

export interface RcScriptOptions {
  /** daemon= : the command (host paths; may include fixed arguments). */
  daemon: string;
  /** daemon_flags= : default flags. */
  flags?: string;
  /** false writes rc_reload=NO (jicofo, jvb). Default true. */
  reload?: boolean;
  /** daemon_timeout= in seconds (rc.subr default 30). */
  timeout?: number;
  /** daemon_logger= , e.g. "daemon.info". */
  logger?: string;
  /** rc_bg=YES (a daemon that stays in the foreground, like a Node app). Default true. */
  bg?: boolean;
  /** daemon_user= (recorded only: the double does not switch users). */
  user?: string;
  /** daemon_execdir= (a host path). */
  execdir?: string;
  /** pexp= written literally (an ERE matched against the whole command line). Default: rc.subr's. */
  pexp?: string;
  /** rc_stop_signal= , e.g. "QUIT" (nginx). */
  stopSignal?: string;
}

/** Write ROOT/etc/rc.d/NAME (mode 0555) in the rc.d(8) script format the double parses. */
export async function writeRcScript(root: string, name: string, options: RcScriptOptions): Promise<string> {
  const real = resolveRoot(root);
  ensureRoot(real);
  const pre = [`daemon=${dq(options.daemon)}`];
  if (options.flags !== undefined) pre.push(`daemon_flags=${dq(options.flags)}`);
  if (options.user !== undefined) pre.push(`daemon_user=${dq(options.user)}`);
  if (options.timeout !== undefined) pre.push(`daemon_timeout=${options.timeout}`);
  if (options.logger !== undefined) pre.push(`daemon_logger=${dq(options.logger)}`);
  if (options.execdir !== undefined) pre.push(`daemon_execdir=${dq(options.execdir)}`);
  const post: string[] = [];
  if (options.pexp !== undefined) post.push(`pexp=${dq(options.pexp)}`);
  if (options.bg ?? true) post.push("rc_bg=YES");
  if (options.reload === false) post.push("rc_reload=NO");
  if (options.stopSignal !== undefined) post.push(`rc_stop_signal=${options.stopSignal}`);
  const text = [
    "#!/bin/ksh",
    "#",
    "# written by writeRcScript() of the rcctl test double (test/doubles/rcctl)",
    "",
    ...pre,
    "",
    ". /etc/rc.d/rc.subr",
    "",
    ...post,
    ...(post.length > 0 ? [""] : []),
    "rc_cmd $1",
    "",
  ].join("\n");
  const file = inRoot(real, `/etc/rc.d/${name}`);
  await writeFile(file, text, { mode: 0o555 });
  await chmod(file, 0o555);
  return file;
}

export interface RcctlResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run an rcctl executable (the wrapper from makeRcctl) and collect its output. */
export function runRcctl(rcctl: string, args: readonly string[]): Promise<RcctlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(rcctl, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d: string) => {
      stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface DoubleProcess {
  pid: number;
  cmdline: string;
  kind: "daemon" | "logger";
}

/** Every live process the double started for this root (daemons, their descendants, logger stand-ins). */
export function doubleProcesses(root: string): DoubleProcess[] {
  const real = realpathSync(root);
  return findMarkedProcs(real, [DAEMON_MARK, LOGGER_MARK]).map((p) => ({
    pid: p.pid,
    cmdline: p.cmdline,
    kind: p.mark === DAEMON_MARK ? "daemon" : "logger",
  }));
}

/** SIGKILL everything the double started for this root and wait until it is gone (test cleanup). */
export async function killDoubleProcesses(root: string, timeoutMs = 5000): Promise<void> {
  await waitFor(
    () => {
      const procs = doubleProcesses(root);
      for (const p of procs) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      if (procs.length === 0) return true;
      throw new Error(`alive: ${procs.map((p) => p.pid).join(" ")}`);
    },
    { what: "the rcctl double's processes to die of SIGKILL", timeoutMs, intervalMs: 20 },
  );
}

/**
 * Lines of ROOT/var/run/rcctl-double/contention.log: one per invocation that had to wait for another
 * (real rcctl does not lock; the agent is expected to serialize its rcctl calls).
 */
export async function readContention(root: string): Promise<string[]> {
  try {
    const text = await readFile(inRoot(realpathSync(root), "/var/run/rcctl-double/contention.log"), "utf8");
    return text.split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** Append a program block to ROOT/etc/syslog.conf (and optionally create its file, which syslogd won't). */
export async function addSyslogProgramBlock(
  root: string,
  program: string,
  file: string,
  { create = true }: { create?: boolean } = {},
): Promise<void> {
  const real = realpathSync(root);
  await appendFile(inRoot(real, "/etc/syslog.conf"), `!${program}\n*.*\t\t\t\t\t\t\t${file}\n`);
  if (create) await writeFile(inRoot(real, file), "", { flag: "a" });
}
