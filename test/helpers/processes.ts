// Child processes for tests: a real `vmmeet-agent` (or any node script) with everything it prints captured
// and a stop that ends it with SIGTERM (SIGKILL only if it hangs), so every test starts and ends processes
// the same way and waits on their output instead of sleeping.
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterEach } from "vitest";
import { repoRoot } from "../validators/paths.js";

/** The compiled agent (`npm run build` first). */
export const AGENT_MAIN = path.join(repoRoot(), "packages/agent/dist/main.js");

/** What a test runs in afterEach/afterAll, last registered first. */
export type Cleanups = (() => Promise<unknown> | unknown)[];

/** A cleanup list that `after` (afterEach, or afterAll for one setup per file) runs, last registered first. */
export function useCleanups(after: (fn: () => Promise<void>) => void = afterEach): Cleanups {
  const cleanups: Cleanups = [];
  after(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });
  return cleanups;
}

export type CapturedChild = ChildProcess & {
  /** stdout and stderr so far, interleaved as they arrived. */
  output: () => string;
  exited: () => boolean;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exit: Promise<number | string>;
  /** SIGTERM, then SIGKILL after 15 s; resolves once the process ended. */
  stop: () => Promise<void>;
};

export interface SpawnOptions {
  cwd?: string;
  /** Added to this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** Where to register `stop`, so the test's cleanup ends the process. */
  cleanups?: Cleanups;
}

/** `node ARGS` with its output captured. */
export function spawnNode(args: string[], opts: SpawnOptions = {}): CapturedChild {
  return spawnCaptured(process.execPath, args, opts);
}

/** `COMMAND ARGS` with its output captured. */
export function spawnCaptured(command: string, args: string[], opts: SpawnOptions = {}): CapturedChild {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    env: { ...process.env, ...(opts.env ?? {}) },
  });
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  const exit = new Promise<number | string>((resolve) => {
    if (exited()) resolve(child.exitCode ?? child.signalCode ?? -1);
    else child.once("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  const stop = async () => {
    if (exited()) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exit;
    clearTimeout(killer);
  };
  opts.cleanups?.push(stop);
  return Object.assign(child, { output: () => out, exited, exit, stop });
}

/** The real agent process: `vmmeet-agent ARGS`. */
export function spawnAgent(args: string[], opts: SpawnOptions = {}): CapturedChild {
  return spawnNode([AGENT_MAIN, ...args], opts);
}

/** The bundle rc.d/vmmeet_agent starts (`npm run build` first). */
export const AGENT_BUNDLE = path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs");

/** The node flags of rc.d/vmmeet_agent's `daemon=` line, as shipped. */
export function rcdNodeFlags(): string[] {
  const script = readFileSync(path.join(repoRoot(), "rc.d/vmmeet_agent"), "utf8");
  const daemon = /^daemon="(\S+) (.*) (\S+vmmeet-agent\.mjs)"$/m.exec(script);
  if (!daemon?.[2]) throw new Error("rc.d/vmmeet_agent: no daemon= line with node flags");
  return daemon[2].split(" ");
}

/**
 * The agent as rc.d/vmmeet_agent runs it on a VM: the one-file bundle under node with the script's flags (a
 * small young generation, no optimizing compiler...). What its CPU and memory figures are taken from.
 */
export function spawnShippedAgent(args: string[], opts: SpawnOptions = {}): CapturedChild {
  return spawnNode([...rcdNodeFlags(), AGENT_BUNDLE, ...args], opts);
}
