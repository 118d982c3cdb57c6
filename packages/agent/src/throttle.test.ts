import { ManualClock } from "@vmmeet/node";
import { describe, expect, it } from "vitest";
import { Throttle } from "./throttle.js";

/** A word calls that method of the throttle, a number moves the clock on, a list is the run times by then. */
type Step = "request" | "now" | "cancel" | number | readonly number[];

/** Plays `script` against a 250 ms throttle whose clock starts at 1000. */
function play(script: readonly Step[]): void {
  const clock = new ManualClock(1_000);
  const runs: number[] = [];
  const t = new Throttle(() => runs.push(clock.now()), 250, clock);
  for (const step of script) {
    if (typeof step === "number") clock.advance(step);
    else if (typeof step === "string") t[step]();
    else expect(runs).toEqual(step);
  }
}

describe("Throttle", () => {
  it.each<[string, Step[]]>([
    ["runs the first request at once", ["request", [1_000]]],
    [
      "folds a burst into one run at the end of the interval",
      [
        "request",
        10,
        "request",
        "request",
        100,
        "request",
        [1_000],
        140,
        [1_000, 1_250],
        1_000,
        [1_000, 1_250],
      ],
    ],
    ["runs at once again after a quiet spell", ["request", 600, "request", [1_000, 1_600]]],
    [
      // After it, the interval counts from the last run, whichever way it came.
      "now() runs at once and takes the place of a pending run",
      [
        "request",
        10,
        "request",
        "now",
        [1_000, 1_010],
        1_000,
        [1_000, 1_010],
        "request",
        [1_000, 1_010, 2_010],
      ],
    ],
    [
      "drops what is pending when cancelled, and runs nothing after",
      ["request", "request", "cancel", 1_000, "request", [1_000]],
    ],
  ])("%s", (_name, script) => play(script));
});
