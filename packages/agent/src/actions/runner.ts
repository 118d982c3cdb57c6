// Runs the few programs setup actions need (prosodyctl), with execFile: no shell, arguments as an array,
// nothing from the network is ever parsed as a command. Arguments can hold a password (prosodyctl register
// USER HOST PASSWORD), so the runner knows the secrets of each call and scrubs them from everything it
// logs or returns, including Node's own error text (which repeats the whole command line).
import { execFile } from "node:child_process";
import type { Logger } from "pino";

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Values to replace by "<redacted>" in logs, outputs and errors. */
  secrets?: readonly string[];
  timeoutMs?: number;
}

export interface CommandRunner {
  /** Resolves with the exit code (also non-zero); rejects with CommandError when it cannot run or times out. */
  run(file: string, args: readonly string[], opts?: RunOptions): Promise<CommandResult>;
}

export const REDACTED = "<redacted>";

/**
 * The last three lines a program printed, on one line, at most `max` characters (its end): what a person
 * needs to see why it failed.
 */
export function lastLines(text: string, max = Number.POSITIVE_INFINITY): string {
  return text.trim().split("\n").slice(-3).join(" | ").slice(-max);
}

export function redact(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s !== "") out = out.split(s).join(REDACTED);
  return out;
}

export function redactArgs(args: readonly string[], secrets: readonly string[] = []): string[] {
  return args.map((a) => redact(a, secrets));
}

export class CommandError extends Error {
  override readonly name = "CommandError";
}

export function execRunner(log?: Logger): CommandRunner {
  return {
    run(file, args, opts = {}) {
      const secrets = opts.secrets ?? [];
      const shown = redactArgs(args, secrets);
      log?.debug({ file, args: shown }, "run");
      return new Promise((resolve, reject) => {
        execFile(
          file,
          [...args],
          { timeout: opts.timeoutMs ?? 60_000, killSignal: "SIGKILL", maxBuffer: 4 << 20 },
          (err, stdout, stderr) => {
            const out = { stdout: redact(stdout, secrets), stderr: redact(stderr, secrets) };
            if (!err) return resolve({ code: 0, ...out });
            const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: unknown };
            if (typeof e.code === "number") return resolve({ code: e.code, ...out });
            const why = e.killed ? "timed out" : typeof e.code === "string" ? e.code : "failed";
            reject(new CommandError(`${file} ${shown.join(" ")}: ${why}`));
          },
        );
      });
    },
  };
}
