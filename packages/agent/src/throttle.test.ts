import { ManualClock } from "@vmmeet/node";
import { describe, expect, it } from "vitest";
import { Throttle } from "./throttle.js";

function setup() {
  const clock = new ManualClock(1_000);
  const runs: number[] = [];
  const t = new Throttle(() => runs.push(clock.now()), 250, clock);
  return { clock, runs, t };
}

describe("Throttle", () => {
  it("runs the first request at once", () => {
    const { runs, t } = setup();
    t.request();
    expect(runs).toEqual([1_000]);
  });

  it("folds a burst into one run at the end of the interval", () => {
    const { clock, runs, t } = setup();
    t.request();
    clock.advance(10);
    t.request();
    t.request();
    clock.advance(100);
    t.request();
    expect(runs).toEqual([1_000]);
    clock.advance(140);
    expect(runs).toEqual([1_000, 1_250]);
    clock.advance(1_000);
    expect(runs).toEqual([1_000, 1_250]);
  });

  it("runs at once again after a quiet spell", () => {
    const { clock, runs, t } = setup();
    t.request();
    clock.advance(600);
    t.request();
    expect(runs).toEqual([1_000, 1_600]);
  });

  it("now() runs at once and takes the place of a pending run", () => {
    const { clock, runs, t } = setup();
    t.request();
    clock.advance(10);
    t.request();
    t.now();
    expect(runs).toEqual([1_000, 1_010]);
    clock.advance(1_000);
    expect(runs).toEqual([1_000, 1_010]);
    t.request(); // the interval counts from the last run, whichever way it came
    expect(runs).toEqual([1_000, 1_010, 2_010]);
  });

  it("drops what is pending when cancelled, and runs nothing after", () => {
    const { clock, runs, t } = setup();
    t.request();
    t.request();
    t.cancel();
    clock.advance(1_000);
    t.request();
    expect(runs).toEqual([1_000]);
  });
});
