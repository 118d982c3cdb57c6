import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// `npm run eval:health`'s own computation (packages/agent/scripts/health/eval.mjs, on the built
// agent: run `npm run build` first), so the figures the README shows are the ones this checks.
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const script = path.join(repoRoot, "packages/agent/scripts/health/eval.mjs");

interface Score {
  lines: number;
  accuracy: number;
  failedRecall: number;
}

describe("npm run eval:health", () => {
  it("labels every corpus line right, and a report the rules were not fitted to gets at least 90 %", async () => {
    const { evaluate } = (await import(script)) as {
      evaluate: () => { all: Score; leaveOneSourceOut: Score; rulesLeftOut: Record<string, string> };
    };
    const r = evaluate();
    expect(r.all.lines).toBe(77);
    expect(r.all.accuracy).toBe(1);
    expect(r.all.failedRecall).toBe(1);
    expect(r.leaveOneSourceOut.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(r.leaveOneSourceOut.failedRecall).toBeGreaterThanOrEqual(0.9);
    // The run does leave rules out: a figure computed with every rule in would prove nothing.
    expect(Object.keys(r.rulesLeftOut).length).toBeGreaterThan(0);
  });
});
