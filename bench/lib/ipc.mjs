// Request/reply over a forked child's IPC channel: call() sends {cmd, seq, ...} and resolves with the
// message carrying {reply: seq} (rejects on {error}). Used by the fleet benchmark's child processes.
import { fork } from "node:child_process";
import { interruptCleanups } from "./proc.mjs";

export function forkChild(script, args = [], { execArgv = [] } = {}) {
  const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv });
  let seq = 0;
  const waiting = new Map();
  const kill = () => child.kill("SIGKILL");
  interruptCleanups.add(kill);
  const exited = new Promise((resolve) =>
    child.once("exit", (code, signal) => {
      interruptCleanups.delete(kill);
      resolve({ code, signal });
    }),
  );
  child.on("message", (m) => {
    const w = m && m.reply !== undefined ? waiting.get(m.reply) : undefined;
    if (!w) return;
    waiting.delete(m.reply);
    if (m.error) w.reject(new Error(m.error));
    else w.resolve(m);
  });
  child.once("exit", () => {
    for (const w of waiting.values()) w.reject(new Error(`${script} exited`));
    waiting.clear();
  });
  return {
    child,
    pid: child.pid,
    exited,
    /** Resolves with the first message of this type (e.g. "ready"). */
    once(type) {
      return new Promise((resolve, reject) => {
        const on = (m) => {
          if (m?.type === type) {
            child.off("message", on);
            resolve(m);
          }
        };
        child.on("message", on);
        exited.then(() => reject(new Error(`${script} exited before "${type}"`)));
      });
    },
    call(cmd, payload = {}) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.send({ cmd, seq: id, ...payload });
      });
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
  };
}
