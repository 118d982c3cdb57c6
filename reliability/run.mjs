#!/usr/bin/env node
// `npm run reliability`: builds, then runs each fault of the reliability tests at full counts (a week away,
// a minute of 20,000 log lines/s and a 50 MB line, 10,000 frames a side, 10,000 specs...), one after the
// other, collects the figures each test records (test/helpers/reliability.ts), writes them with the machine
// to reliability/results.json, prints the table and exits non-zero when a fault's test failed.
// CI runs the same tests at small counts (`npm test`); this is never part of it.
//
//   node reliability/run.mjs [--quick] [--only coordinator-crash,disk-full,log-flood,days-away,lossy-link,
//                            cut-off,apply-cuts,clock-skew,bad-frames,bad-specs,hostile-files]
//                            [--out FILE]
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { machine } from "../bench/lib/machine.mjs";
import { exitWith, fmt, parseRunArgs, table, writeResults } from "../bench/lib/runner.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);

/**
 * Each fault and the tests that check it (and record its figures): a vitest filter, the path of one file or
 * the start of several files' paths (bad-frames: test/fuzz-agent.test.ts and test/fuzz-coordinator.test.ts).
 */
const FAULTS = {
  "coordinator-crash": "test/reliability-coordinator-crash.test.ts",
  "disk-full": "test/reliability-disk-full.test.ts",
  "log-flood": "test/reliability-log-flood.test.ts",
  "days-away": "test/reliability-days-away.test.ts",
  "lossy-link": "test/reliability-lossy-link.test.ts",
  "cut-off": "test/reliability-cut-off.test.ts",
  "apply-cuts": "test/reliability-apply-cuts.test.ts",
  "clock-skew": "test/reliability-clock-skew.test.ts",
  "bad-frames": "test/fuzz-",
  "bad-specs": "test/reliability-bad-input.test.ts",
  "hostile-files": "test/reliability-hostile-files.test.ts",
};
const ALL = Object.keys(FAULTS);

const USAGE = `usage: node reliability/run.mjs [--quick] [--only ${ALL.join(",")}] [--out FILE]
  --quick         CI's counts instead of the full ones (a few minutes)
  --only LIST     these faults only (comma-separated)
  --out FILE      where to write the results (default reliability/results.json)`;

function figureTable(figures) {
  return table([
    ["fault", "count", "lost", "time to healthy", "CPU", "memory"],
    ...figures.map((f) => [
      f.fault,
      `${fmt(f.count)} ${f.what}`,
      fmt(f.lost),
      f.timeToHealthyMs === undefined ? "-" : fmt(f.timeToHealthyMs / 1000, "s"),
      f.cpuPercentOfCore === undefined ? "-" : fmt(f.cpuPercentOfCore, "% of a core"),
      f.memoryMB === undefined ? "-" : fmt(f.memoryMB, "MB"),
    ]),
  ]);
}

/** `vitest run FILE` with the reliability settings; resolves with its exit code, its output passed through. */
function runTest(file, env) {
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, "node_modules/.bin/vitest"), ["run", file], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const stop = () => child.kill("SIGTERM");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    child.on("exit", (code, signal) => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

async function main() {
  const args = parseRunArgs({
    name: "reliability",
    usage: USAGE,
    kind: "fault",
    all: ALL,
    options: { quick: { type: "boolean" }, out: { type: "string" } },
  });
  if (args.exit !== undefined) return args.exit;
  const { values, only } = args;
  const out = values.out ?? path.join(HERE, "results.json");
  const started = Date.now();
  const host = machine();
  const mode = values.quick ? "quick" : "full";
  const tmp = await mkdtemp(path.join(os.tmpdir(), "vmmeet-reliability-"));
  const figures = [];
  const runs = [];
  const results = () => ({
    version: 1,
    mode,
    command: `node reliability/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    machine: host,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    runs,
    figures,
    failed: runs.filter((r) => !r.ok).map((r) => r.fault),
  });
  try {
    for (const fault of ALL.filter((f) => only.includes(f))) {
      const file = FAULTS[fault];
      const figuresFile = path.join(tmp, `${fault}.jsonl`);
      console.log(`\n== ${fault} (${file}, ${mode} counts)`);
      const t = Date.now();
      const code = await runTest(file, {
        ...(values.quick ? {} : { VMMEET_RELIABILITY: "full" }),
        VMMEET_RELIABILITY_OUT: figuresFile,
      });
      const text = await readFile(figuresFile, "utf8").catch(() => "");
      const recorded = text
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      figures.push(...recorded.map((f) => ({ id: fault, ...f })));
      runs.push({
        fault,
        file,
        ok: code === 0,
        seconds: Math.round((Date.now() - t) / 1000),
        figures: recorded.length,
      });
      await writeResults(out, results());
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const final = results();
  await writeResults(out, final);
  console.log(`\n${figureTable(figures)}\n`);
  console.log(`results: ${path.relative(process.cwd(), out)} (${final.durationSeconds} s)`);
  if (final.failed.length > 0) {
    console.log(`\nFAILED: ${final.failed.join(", ")} (the test output above says why)`);
    return 1;
  }
  return 0;
}

exitWith("reliability", main);
