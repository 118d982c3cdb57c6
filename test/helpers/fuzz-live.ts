// What the fuzzing tests of live processes share (test/fuzz-agent.test.ts, test/fuzz-coordinator.test.ts):
// the seed and the counts, the recorder of the processes they start, their RSS, and the check that each kind
// of refusal is logged once a minute at most (shared/refusals.ts), however many frames come.
import { execFileSync } from "node:child_process";
import { rm } from "node:fs/promises";
import { ErrorCode } from "@vmmeet/shared";
import { afterAll, expect } from "vitest";
import { scale } from "./reliability.js";
import { OutputRecorder } from "./secret-scan.js";

/**
 * The run: its seed (FUZZ_SEED=n replays a run; the agent's side uses the seed, the coordinator's side the
 * seed + 1), the frames sent to each side and each test's timeout.
 */
export const FUZZ = {
  seed: Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000),
  framesPerSide: scale(3000, 10_000),
  timeoutMs: scale(60_000, 600_000),
};
export const ERROR_CODES = Object.keys(ErrorCode).length;

export const frameText = (f: unknown) => JSON.stringify(f);

export const rss = (pid: number) =>
  Number(
    execFileSync("ps", ["-o", "rss=", "-p", String(pid)])
      .toString()
      .trim(),
  ) * 1024;

/** How many lines a process logged per message ("msg" of its JSON lines). */
function logLines(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of output.matchAll(/"msg":"([^"]*)"/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  return counts;
}

/**
 * Each refusal message is logged at most once per kind and started minute in a process's `output`: `kinds`
 * is how many kinds it has (error codes, close codes, refusal categories). Returns the lines per message.
 */
export function expectRateLimited(
  output: string,
  kinds: Record<string, number>,
  elapsedMs: number,
): Record<string, number> {
  const counts = logLines(output);
  const minutes = 1 + Math.floor(elapsedMs / 60_000);
  for (const [msg, n] of Object.entries(kinds))
    expect(counts[msg] ?? 0, `"${msg}" logged ${counts[msg]} times in ${minutes} min`).toBeLessThanOrEqual(
      n * minutes,
    );
  return counts;
}

/** The recorder of the calling file's processes and its temp directories, stopped and removed after all. */
export function liveProcesses(): { rec: OutputRecorder; dirs: string[] } {
  const rec = new OutputRecorder();
  const dirs: string[] = [];
  afterAll(async () => {
    await rec.stopAll();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  return { rec, dirs };
}
