import { describe, expect, it } from "vitest";
import { backoffDelay, cappedDelay, DEFAULT_BACKOFF } from "./backoff.js";

describe("backoffDelay", () => {
  it("grows exponentially, is capped, and jitter only shortens it", () => {
    const o = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };
    expect([0, 1, 2, 3].map((a) => backoffDelay(a, o, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect(backoffDelay(20, o, () => 0)).toBe(30_000);
    expect(backoffDelay(20, o, () => 1)).toBe(15_000);
  });

  it("stays between the capped delay less its jitter share and the capped delay", () => {
    for (const r of [0, 0.25, 0.5, 0.999]) {
      const d = backoffDelay(3, DEFAULT_BACKOFF, () => r);
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});

describe("cappedDelay", () => {
  it("starts at initialMs, multiplies by factor per step, and stops at maxMs", () => {
    const o = { initialMs: 10_000, maxMs: 300_000, factor: 2 };
    expect([0, 1, 2, 3, 4, 5, 6].map((s) => cappedDelay(s, o))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000,
    ]);
  });

  it("counts a negative step as step 0, and a step far past the cap as the cap (no Infinity, no NaN)", () => {
    const o = { initialMs: 1000, maxMs: 30_000, factor: 2 };
    expect(cappedDelay(-1, o)).toBe(1000);
    expect(cappedDelay(5000, o)).toBe(30_000);
  });
});
