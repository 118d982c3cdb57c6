import { describe, expect, it } from "vitest";
import {
  afterAttempt,
  DEFAULT_RESTART_POLICY,
  decide,
  delayAfter,
  newRecord,
  phaseOf,
  type RestartPolicy,
  type ServiceRecord,
  settle,
} from "./backoff.js";

const P: RestartPolicy = DEFAULT_RESTART_POLICY;

/** Drives the policy the way the healer does: a check every `stepMs`, a start whenever decide() says so. */
function simulate(p: RestartPolicy, untilMs: number, stepMs: number, startWorks: (t: number) => boolean) {
  let rec: ServiceRecord = newRecord();
  const starts: number[] = [];
  let running = false;
  let gaveUpAt: number | null = null;
  for (let t = 0; t <= untilMs; t += stepMs) {
    rec = settle(rec, running, t, p);
    const d = decide(rec, running, t, p);
    if (d.kind === "start") {
      starts.push(t);
      const ok = startWorks(t);
      rec = afterAttempt(rec, t, p, ok, ok ? null : "failed");
      running = ok;
    } else if (d.kind === "give-up") {
      rec = { ...rec, gaveUp: true };
      gaveUpAt = t;
    }
  }
  return { rec, starts, gaveUpAt };
}

describe("restart policy", () => {
  it("defaults to 10 s doubling to 5 min", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => delayAfter(a, P))).toEqual([
      10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000,
    ]);
  });

  it("starts a stopped service at once, then backs off, then gives up after maxAttempts", () => {
    const { starts, gaveUpAt, rec } = simulate(P, 3_600_000, 1000, () => false);
    expect(starts).toEqual([0, 10_000, 30_000, 70_000, 150_000, 310_000]);
    // The last attempt gets its delay too before the healer concludes.
    expect(gaveUpAt).toBe(310_000 + 300_000);
    expect(rec).toMatchObject({ gaveUp: true, attempts: 6, restarts: 0, lastError: "failed" });
  });

  it("never decides anything once given up, until the service runs again", () => {
    const rec: ServiceRecord = { ...newRecord(), gaveUp: true, attempts: 6 };
    expect(decide(rec, false, 1e12, P)).toEqual({ kind: "none" });
    expect(decide(rec, true, 1e12, P)).toEqual({ kind: "recovered" });
  });

  it("resets the count after running stable for stableMs", () => {
    const p: RestartPolicy = { ...P, stableMs: 60_000 };
    let rec = afterAttempt(afterAttempt(newRecord(), 0, p, true, null), 10_000, p, true, null);
    expect(rec.attempts).toBe(2);
    expect(settle(rec, true, 69_999, p).attempts).toBe(2);
    expect(settle(rec, false, 80_000, p).attempts).toBe(2);
    rec = settle(rec, true, 70_000, p);
    expect(rec).toMatchObject({ attempts: 0, nextAttemptAt: 0, restarts: 2 });
    // Found stopped again: started at once, like the first time.
    expect(decide(rec, false, 70_001, p)).toEqual({ kind: "start", attempt: 1 });
  });

  it("a service that dies right after each start is treated like one that does not start", () => {
    let rec = newRecord();
    const p = { ...P, maxAttempts: 3 };
    const seen: string[] = [];
    for (let t = 0; t <= 200_000; t += 1000) {
      const d = decide(rec, false, t, p);
      if (d.kind === "start") rec = afterAttempt(rec, t, p, true, null);
      if (d.kind === "give-up") rec = { ...rec, gaveUp: true };
      if (d.kind !== "wait" && d.kind !== "none") seen.push(`${t}:${d.kind}`);
    }
    expect(seen).toEqual(["0:start", "10000:start", "30000:start", "70000:give-up"]);
    expect(rec.restarts).toBe(3);
  });

  it("reports starting within the grace period, backoff while waiting, failed once given up", () => {
    const rec = afterAttempt(newRecord(), 1000, P, true, null);
    expect(phaseOf(rec, true, true)).toBe("starting");
    expect(phaseOf(rec, true, false)).toBe("ok");
    expect(phaseOf(newRecord(), true, true)).toBe("starting");
    expect(phaseOf(rec, false, true)).toBe("backoff");
    expect(phaseOf(newRecord(), false, false)).toBe("stopped");
    expect(phaseOf({ ...rec, gaveUp: true }, false, true)).toBe("failed");
    expect(phaseOf({ ...rec, gaveUp: true }, true, true)).toBe("ok");
  });
});
