// Process plumbing shared by the validators: run a real program with a deadline, find programs on PATH,
// and give every check a private temp dir that is removed afterwards.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

/** What every validator returns; individual validators add their own fields. */
export interface CheckResult {
  /** true when the real program(s) accepted the file (and every extra condition held). */
  ok: boolean;
  /** What the real program(s) printed (stdout then stderr), harmless notices filtered where documented. */
  output: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  /** Kill the program after this long (default 30 s): a validator must never hang a test run. */
  timeoutMs?: number;
}

/** Run `cmd args` without a shell and collect its output. Never rejects for a non-zero exit. */
export function runProgram(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    child.stdout?.on("data", (b: Buffer) => out.push(b));
    child.stderr?.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
        timedOut,
      });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** stdout and stderr of a run as one text, plus a note when the deadline killed it. */
export function joinOutput(r: RunResult): string {
  const text = [r.stdout, r.stderr].filter((s) => s.length > 0).join(r.stdout.endsWith("\n") ? "" : "\n");
  return r.timedOut ? `${text}\n(killed: validator deadline exceeded)` : text;
}

/** Absolute path of `name` on PATH (or `name` itself when it is a path), undefined when not usable. */
export function whichTool(name: string): string | undefined {
  const candidates = name.includes("/")
    ? [name]
    : (process.env["PATH"] ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .split(":")
        .concat(["/usr/sbin", "/sbin"]) // nginx lives in /usr/sbin, which a non-login PATH may lack
        .filter((d) => d.length > 0)
        .map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      // a jar is read by java, not executed
      accessSync(c, c.endsWith(".jar") ? constants.R_OK : constants.X_OK);
      return c;
    } catch {
      // not here; try the next directory
    }
  }
  return undefined;
}

/** Whether a program the validators use is installed (for clear test messages). */
export function hasTool(name: string): boolean {
  return whichTool(name) !== undefined;
}

/** The Debian package that provides each program the validators run (see .ci/run). */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  nginx: "nginx-light",
  unshare: "util-linux",
  mount: "mount",
  openssl: "openssl",
  prosodyctl: "prosody",
  "luac5.4": "lua5.4",
  java: "default-jre-headless",
  "/usr/share/java/typesafe-config.jar": "libtypesafe-config-java",
  mksh: "mksh",
  env: "coreutils",
  node: "nodejs",
  // The status page's browser test (test/status-page.test.ts) drives it headless.
  chromium: "chromium",
};

/** Thrown when a validator's program is missing: tests must fail loudly, never skip. */
export class MissingToolError extends Error {
  constructor(readonly tool: string) {
    super(
      `validator program "${tool}" is not installed (Debian package ${TOOL_PACKAGES[tool] ?? "?"}); ` +
        "run the apt-get lines of .ci/run (as root) to install what the validator tests need",
    );
    this.name = "MissingToolError";
  }
}

/** Absolute path of `name`, or a MissingToolError. */
export function requireTool(name: string): string {
  const p = whichTool(name);
  if (p === undefined) throw new MissingToolError(name);
  return p;
}

/** Every program the validators need that is not installed (empty when all are there). */
export function missingTools(): string[] {
  return Object.keys(TOOL_PACKAGES).filter((t) => !hasTool(t));
}

/** Run `fn` with a fresh private temp dir that is removed afterwards, whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `vmmeet-${prefix}-`));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
