import { describe, expect, it } from "vitest";
import { HEAL_OPTIONS, HEAL_USAGE, healTuningFrom } from "./flags.js";

describe("the healer's command-line flags", () => {
  it("turn seconds into the tuning's milliseconds, and leave unset ones to the defaults", () => {
    expect(
      healTuningFrom({
        "heal-interval": "2",
        "restart-backoff": "0.4",
        "restart-backoff-max": "1.6",
        "restart-stable": "30",
        "restart-attempts": "4",
        "restart-settle": "0.5",
      }),
    ).toEqual({
      ok: true,
      tuning: {
        intervalMs: 2000,
        restart: { initialMs: 400, maxMs: 1600, stableMs: 30_000, maxAttempts: 4, settleMs: 500 },
      },
    });
    expect(healTuningFrom({ "restart-settle": "0" })).toEqual({
      ok: true,
      tuning: { restart: { settleMs: 0 } },
    });
    expect(healTuningFrom({})).toEqual({ ok: true, tuning: {} });
    expect(healTuningFrom({ "heal-interval": "0" })).toEqual({ ok: true, tuning: false });
  });

  it("refuse a bad value, naming the flag", () => {
    expect(healTuningFrom({ "restart-settle": "soon" })).toEqual({
      ok: false,
      message: "--restart-settle must be a number of seconds >= 0",
    });
    expect(healTuningFrom({ "restart-attempts": "1.5" })).toEqual({
      ok: false,
      message: "--restart-attempts must be a whole number >= 0",
    });
    expect(healTuningFrom({ "restart-attempts": "0" })).toEqual({
      ok: false,
      message: "--restart-attempts must be at least 1",
    });
  });

  it("every flag is in the usage text", () => {
    for (const name of Object.keys(HEAL_OPTIONS)) expect(HEAL_USAGE).toContain(`--${name} `);
  });
});
