// `npm run demo` stops everything it started, the way a terminal stops it: Ctrl-C sends SIGINT to the whole
// foreground process group (npm, tsx, the demo and the coordinator and agents it spawned, all at once), and
// `kill` sends SIGTERM. 15 s later no process of the demo is left and its sandbox is gone. After SIGKILL of
// the demo alone, which no program can clean up after, `npm run demo -- --clean` removes what is left.
// Each demo runs in its own process group here, as in a terminal.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { processesOf, sweep } from "../demo/sweep.js";
import { waitFor } from "./helpers/wait.js";
import { repoRoot } from "./validators/paths.js";

const LIVE = "Live status below; Ctrl-C stops everything and removes the sandbox.";

/** The pids of process group `pgid`. */
function group(pgid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so read after its closing parenthesis
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

async function startDemo(
  args: string[] = [],
): Promise<{ proc: ChildProcess; sandbox: string; output: () => string }> {
  const proc = spawn("npm", ["run", "demo", ...(args.length ? ["--", ...args] : [])], {
    cwd: repoRoot(),
    detached: true, // its own process group, like a terminal's foreground job
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  const chunks: string[] = [];
  proc.stdout?.on("data", (d) => chunks.push(String(d)));
  proc.stderr?.on("data", (d) => chunks.push(String(d)));
  const output = () => chunks.join("");
  const sandbox = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`the demo exited: ${output()}`);
      return /^sandbox: (\S+)$/m.exec(output())?.[1];
    },
    { what: "the demo's sandbox", timeoutMs: 180_000, intervalMs: 200 },
  );
  return { proc, sandbox, output };
}

async function gone(pgid: number, sandbox: string, timeoutMs: number, output: () => string): Promise<void> {
  try {
    await waitFor(
      () => {
        const left = {
          group: group(pgid),
          sandboxProcesses: processesOf(sandbox),
          sandbox: existsSync(sandbox),
        };
        if (left.group.length === 0 && left.sandboxProcesses.length === 0 && !left.sandbox) return true;
        throw new Error(`left: ${JSON.stringify(left)}`);
      },
      { what: "the demo's processes and sandbox to be gone after the signal", timeoutMs, intervalMs: 250 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${output().slice(-3000)}`);
  }
}

/** Starts `npm run demo` in its own process group, waits for its live status, runs `fn`, and then makes
 * sure nothing of the demo outlives the test, whatever happened. */
async function withLiveDemo(
  fn: (demo: { pgid: number; sandbox: string; output: () => string }) => Promise<void>,
) {
  const { proc, sandbox, output } = await startDemo();
  const pgid = proc.pid!;
  try {
    await waitFor(() => output().includes(LIVE), {
      what: "the live status",
      timeoutMs: 240_000,
      intervalMs: 250,
    });
    await fn({ pgid, sandbox, output });
  } finally {
    for (const pid of group(pgid)) process.kill(pid, "SIGKILL");
    await sweep(sandbox);
  }
}

describe("npm run demo and signals", () => {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(
      `${signal} to the whole process group leaves no process and no sandbox`,
      () =>
        withLiveDemo(async ({ pgid, sandbox, output }) => {
          expect(processesOf(sandbox).length).toBeGreaterThan(10);
          process.kill(-pgid, signal);
          await gone(pgid, sandbox, 15_000, output);
          expect(output()).toContain(`removed ${sandbox}`);
        }),
      300_000,
    );
  }

  it(
    "after SIGKILL of the demo alone, npm run demo -- --clean removes what is left",
    () =>
      withLiveDemo(async ({ pgid, sandbox, output }) => {
        // the demo's own node process (tsx runs it as a child of its own), which wrote its pid into the sandbox
        const demo = Number(readFileSync(path.join(sandbox, "demo.pid"), "utf8"));
        expect(readFileSync(`/proc/${demo}/cmdline`, "utf8")).toContain("demo/main.ts");
        process.kill(demo, "SIGKILL");
        // the coordinator, the agents and the simulated services are orphans now
        await waitFor(() => !existsSync(`/proc/${demo}/cmdline`) || undefined, {
          what: "the demo gone",
          timeoutMs: 15_000,
        });
        expect(processesOf(sandbox).length).toBeGreaterThan(0);
        const clean = spawn("npm", ["run", "demo", "--", "--clean"], {
          cwd: repoRoot(),
          stdio: ["ignore", "pipe", "pipe"],
        });
        const out: string[] = [];
        clean.stdout?.on("data", (d) => out.push(String(d)));
        clean.stderr?.on("data", (d) => out.push(String(d)));
        const code = await new Promise((r) => clean.on("exit", r));
        expect(code, out.join("")).toBe(0);
        expect(out.join("")).toContain(`removed ${sandbox}`);
        await gone(pgid, sandbox, 15_000, output);
      }),
    300_000,
  );
});
