// Process measurements from /proc (Linux): resident memory from /proc/PID/status (VmRSS, VmHWM) and CPU
// time from /proc/PID/stat (utime+stime of the process itself, cutime+cstime of the children it reaped),
// plus small helpers to start and stop child processes and to wait on conditions.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

/** Clock ticks per second of the stat times (getconf CLK_TCK; 100 on every Linux we know). */
export const CLK_TCK = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** Cleanups to run when the benchmark is interrupted (SIGINT/SIGTERM): children, fake roots' daemons. */
export const interruptCleanups = new Set();

export function onInterrupt(fn) {
  interruptCleanups.add(fn);
  return () => interruptCleanups.delete(fn);
}

/**
 * VmRSS and VmHWM (peak) in bytes, with RSS split into RssAnon (heap, stacks, JIT code) and RssFile
 * (mapped files: node's own text and data), or null when the process is gone.
 */
export function memoryOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const kb = (key) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") };
}

export function rssOf(pid) {
  return memoryOf(pid)?.rss ?? null;
}

/**
 * CPU time in seconds: `self` = utime+stime, `children` = cutime+cstime (children already waited for).
 * The command name in field 2 may hold blanks and parentheses, so fields are counted after the last ')'.
 */
export function cpuOf(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // After ')': f[0] = state (field 3), so field N is f[N - 3].
  const n = (field) => Number(f[field - 3]);
  return { self: (n(14) + n(15)) / CLK_TCK, children: (n(16) + n(17)) / CLK_TCK };
}

/** CPU share of one core between two cpuOf() readings taken `seconds` apart, in percent. */
export function cpuPercent(before, after, seconds, which = "self") {
  return ((after[which] - before[which]) / seconds) * 100;
}

/** Samples RSS of a process every `everyMs`; stop() returns the samples (bytes). */
export function rssSampler(pid, everyMs = 500) {
  const samples = [];
  const take = () => {
    const r = rssOf(pid);
    if (r !== null) samples.push({ at: Date.now(), rss: r });
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

/** Polls until check() returns a truthy value; throws with `what` after timeoutMs. */
export async function waitFor(what, check, { timeoutMs = 30_000, intervalMs = 20 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`,
      );
    await delay(intervalMs);
  }
}

/**
 * Starts a child process; its stdout/stderr go to `logFile` when given (or are ignored). The returned
 * object's stop() sends SIGTERM to this process only and waits for its exit (SIGKILL after `graceMs`).
 */
export function startProcess(cmd, args, { env, logFile, cwd, ipc = false } = {}) {
  // The child writes to the file itself: piping through this process would add our CPU to the picture.
  const fd = logFile ? openSync(logFile, "a") : null;
  const out = fd ?? "ignore";
  const stdio = ["ignore", out, out];
  if (ipc) stdio.push("ipc");
  const child = spawn(cmd, args, { env: env ?? process.env, cwd, stdio });
  if (fd !== null) closeSync(fd);
  const kill = () => child.kill("SIGKILL");
  interruptCleanups.add(kill);
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      interruptCleanups.delete(kill);
      resolve({ code, signal });
    }),
  );
  return {
    child,
    pid: child.pid,
    exited,
    get running() {
      return child.exitCode === null && child.signalCode === null;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}

/** `node -e 'setInterval(()=>{},1e3)'`: the reference every footprint is compared to. */
export function startBareNode() {
  return startProcess(process.execPath, ["-e", "setInterval(()=>{},1e3)"]);
}

export const MB = 1024 * 1024;
