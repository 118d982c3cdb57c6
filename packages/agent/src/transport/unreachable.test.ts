import { ManualClock } from "@vmmeet/node";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { FAILURE_LOG_EVERY_MS, FAILURE_LOG_FIRST, UnreachableLog } from "./unreachable.js";

function setup() {
  const clock = new ManualClock(1_000_000);
  const lines: { msg: string; attempt?: number; failedAttempts?: number; err?: string }[] = [];
  const logger = pino({ level: "warn" }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const log = new UnreachableLog(clock, logger, "wss://100.64.2.2:7443/agent");
  /** One attempt that failed with `error`, `ms` after the one before. */
  const fail = (ms: number, error = "connect ECONNREFUSED 100.64.2.2:7443") => {
    clock.advance(ms);
    log.lastError = error;
    log.failed(1006, "abnormal closure");
  };
  return { clock, lines, log, fail };
}

describe("UnreachableLog", () => {
  it("logs the first failures one by one, then one summary per interval, and says how long it was away", () => {
    const { lines, log, fail } = setup();
    for (let i = 0; i < FAILURE_LOG_FIRST; i++) fail(30_000);
    expect(lines.map((l) => l.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(lines[0]?.err).toMatch(/ECONNREFUSED/);
    // Every 30 s for the rest of the interval: nothing more in the log.
    const quiet = Math.floor(FAILURE_LOG_EVERY_MS / 30_000) - 1;
    for (let i = 0; i < quiet; i++) fail(30_000);
    expect(lines).toHaveLength(FAILURE_LOG_FIRST);
    fail(30_000);
    expect(lines.at(-1)).toMatchObject({ failedAttempts: FAILURE_LOG_FIRST + quiet + 1 });
    expect(lines.at(-1)?.msg).toMatch(/still unreachable/);
    const away = log.connected();
    expect(away?.failedAttempts).toBe(FAILURE_LOG_FIRST + quiet + 1);
    expect(away?.unreachableMs).toBe((FAILURE_LOG_FIRST + quiet) * 30_000);
    expect(log.connected()).toBeNull();
  });

  it("says what an HTTP answer instead of an upgrade means, in place of ws's bare message", () => {
    const { lines, fail } = setup();
    fail(0, "Unexpected server response: 403");
    expect(lines[0]?.msg).toMatch(/HTTP 403 .*enroll again/);
    expect(JSON.stringify(lines[0])).not.toContain("Unexpected server response");
  });
});
