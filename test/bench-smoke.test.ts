// The benchmarks (`npm run bench`, bench/run.mjs) in their smallest configuration: every one runs to its end
// and measures something. Their targets are not checked here: figures of a run this short, on a shared and
// noisy machine, say nothing (bench/README.md has the real runs). What this catches is a benchmark that no
// longer runs at all, or one that measures nothing: two went unseen for a session that way (the footprint
// did not start, and the fleet's fan-out came out as Infinity).
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BENCHMARKS = ["footprint", "push", "fleet", "logrules", "restart"];

interface Figure {
  benchmark: string;
  id: string;
  value: number | null;
  error?: string;
  reference?: { value: number };
}

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bench-smoke-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("npm run bench, smallest run", () => {
  it("every benchmark runs to its end and every figure is a finite number", async () => {
    const out = path.join(dir, "results.json");
    // --quick with the sizes cut further: a few seconds of idle, one push, one restart pair, 10 agents.
    const args = [
      "bench/run.mjs",
      "--quick",
      "--idle-minutes",
      "0.05",
      "--applies",
      "5",
      "--log-lines",
      "2000",
      "--pushes",
      "1",
      "--agents",
      "10",
      "--lines",
      "20000",
      "--restarts",
      "1",
      "--out",
      out,
    ];
    // Exit 1 is a missed target, expected of so short a run; anything else is a benchmark that broke.
    await run(process.execPath, args, { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).catch(
      (e: { code?: number; stdout?: string; stderr?: string }) => {
        if (e.code !== 1) throw new Error(`bench/run.mjs exited ${e.code}\n${e.stdout}\n${e.stderr}`);
      },
    );
    const results = JSON.parse(await readFile(out, "utf8")) as { complete: boolean; figures: Figure[] };
    expect(results.complete).toBe(true);
    const broken = results.figures
      .filter(
        (f) =>
          f.error !== undefined ||
          !Number.isFinite(f.value) ||
          (f.reference !== undefined && !Number.isFinite(f.reference.value)),
      )
      .map((f) => `${f.id}: ${f.error ?? `value ${f.value}, reference ${f.reference?.value}`}`);
    expect(broken).toEqual([]);
    for (const b of BENCHMARKS)
      expect(
        results.figures.filter((f) => f.benchmark === b).length,
        `figures of the ${b} benchmark`,
      ).toBeGreaterThan(0);
  }, 600_000);
});
