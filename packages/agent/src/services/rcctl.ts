// rcctl(8) adapter. Facts from docs/openbsd-rc.md section 1 (rcctl.sh 1.122, rc.subr 1.181, re-checked by
// running them): exit statuses below, "start" of a running daemon exits 0 and prints nothing, "stop" that
// had to SIGKILL prints "(killed)" and exits 0, an unknown service exits 2, reload of an rc_reload=NO
// script prints "reload is not supported" and exits 1.
import { execFile } from "node:child_process";
import type { Logger } from "pino";
import {
  RcctlError,
  RcctlTimeoutError,
  type ServiceActionResult,
  type ServiceManager,
  UnknownServiceError,
} from "./manager.js";
import { Serial } from "./serial.js";

export interface RcctlOptions {
  /** The rcctl executable (tests point it at a double for a fake root). */
  path?: string;
  /**
   * Per-call limit in ms. rcctl itself waits up to daemon_timeout (30 s default) for start/stop; a JVM
   * start can take that long, so the default leaves room for a stop plus a start (restart).
   */
  timeoutMs?: number;
  log?: Logger;
  env?: NodeJS.ProcessEnv;
}

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

export class Rcctl implements ServiceManager {
  readonly path: string;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  private readonly env: NodeJS.ProcessEnv | undefined;
  // rcctl rewrites /etc/rc.conf.local read-modify-write (mktemp, sort -u, install): two concurrent calls
  // lose one's change. Every call, reads included, goes through one queue.
  private readonly serial = new Serial();

  constructor(opts: RcctlOptions = {}) {
    this.path = opts.path ?? "/usr/sbin/rcctl";
    this.timeoutMs = opts.timeoutMs ?? 75_000;
    this.log = opts.log;
    this.env = opts.env;
  }

  async isEnabled(name: string): Promise<boolean> {
    const r = await this.run(["get", name, "status"], name);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw this.error("get status", ["get", name, "status"], r);
  }

  async enable(name: string): Promise<void> {
    const r = await this.run(["enable", name], name);
    if (r.code !== 0) throw this.error("enable", ["enable", name], r);
  }

  async getFlags(name: string): Promise<string> {
    const r = await this.run(["get", name, "flags"], name);
    if (r.code !== 0) throw this.error("get flags", ["get", name, "flags"], r);
    return r.stdout.replace(/\n$/, "");
  }

  async setFlags(name: string, flags: string): Promise<void> {
    // rcctl joins its remaining arguments with spaces ("$*"), so one argument holding the whole flag
    // string is what `rcctl set NAME flags --a --b` writes; no shell is involved, nothing is re-split.
    const args = flags === "" ? ["set", name, "flags"] : ["set", name, "flags", flags];
    const r = await this.run(args, name);
    if (r.code !== 0) throw this.error("set flags", args, r);
  }

  async check(name: string): Promise<boolean> {
    const r = await this.run(["check", name], name);
    if (r.code === 0) return true;
    if (r.code === 1) return false;
    throw this.error("check", ["check", name], r);
  }

  start(name: string): Promise<ServiceActionResult> {
    return this.action("start", name);
  }
  stop(name: string): Promise<ServiceActionResult> {
    return this.action("stop", name);
  }
  restart(name: string): Promise<ServiceActionResult> {
    return this.action("restart", name);
  }
  reload(name: string): Promise<ServiceActionResult> {
    return this.action("reload", name);
  }

  private async action(verb: string, name: string): Promise<ServiceActionResult> {
    const r = await this.run([verb, name], name);
    const output = joinOutput(r);
    if (r.code === 0) {
      if (output.trim() === "") return { ok: true, outcome: "already", output };
      if (/\(killed\)/.test(output)) return { ok: true, outcome: "killed", output };
      return { ok: true, outcome: "ok", output };
    }
    if (verb === "reload" && /reload is not supported/.test(output)) {
      return { ok: false, outcome: "unsupported", output };
    }
    if (/\(timeout\)/.test(output)) return { ok: false, outcome: "timeout", output };
    return { ok: false, outcome: "failed", output };
  }

  private error(what: string, args: string[], r: Exec): RcctlError {
    const out = joinOutput(r).trim();
    return new RcctlError(`rcctl ${what} exited ${r.code}${out ? `: ${out}` : ""}`, args, r.code, out);
  }

  /** Runs rcctl (no shell); exit 2 becomes UnknownServiceError for every verb. */
  private run(args: string[], service: string): Promise<Exec> {
    return this.serial.run(async () => {
      const r = await this.exec(args);
      this.log?.debug({ args, code: r.code }, "rcctl");
      if (r.code === 2) throw new UnknownServiceError(service);
      return r;
    });
  }

  private exec(args: string[]): Promise<Exec> {
    return new Promise((resolve, reject) => {
      execFile(
        this.path,
        args,
        { timeout: this.timeoutMs, killSignal: "SIGKILL", maxBuffer: 4 << 20, env: this.env ?? process.env },
        (err, stdout, stderr) => {
          if (!err) return resolve({ code: 0, stdout, stderr });
          const e = err as NodeJS.ErrnoException & {
            killed?: boolean;
            signal?: string | null;
            code?: unknown;
          };
          if (typeof e.code === "number") return resolve({ code: e.code, stdout, stderr });
          if (e.killed) {
            return reject(
              new RcctlTimeoutError(
                `rcctl ${args.join(" ")} did not finish within ${this.timeoutMs} ms (killed)`,
                args,
                null,
                joinOutput({ code: -1, stdout, stderr }),
              ),
            );
          }
          if (e.signal) {
            const out = joinOutput({ code: -1, stdout, stderr });
            return reject(new RcctlError(`rcctl ${args.join(" ")} died of ${e.signal}`, args, null, out));
          }
          // Not e.message: it would repeat the command line; rcctl arguments are harmless, but keep one rule.
          reject(new RcctlError(`cannot run ${this.path}: ${String(e.code ?? "error")}`, args, null, ""));
        },
      );
    });
  }
}

function joinOutput(r: Exec): string {
  return [r.stdout, r.stderr].filter((s) => s !== "").join("");
}
