import { describe, expect, it } from "vitest";
import { ManualClock, offsetClock, systemClock } from "./clock.js";

describe("ManualClock", () => {
  it("moves only through advance(), running due timers in time order at their own time", () => {
    const c = new ManualClock(1000);
    const seen: string[] = [];
    c.setTimeout(() => seen.push(`b@${c.now()}`), 50);
    c.setTimeout(() => seen.push(`a@${c.now()}`), 10);
    c.setTimeout(() => seen.push(`late@${c.now()}`), 500);
    expect(c.now()).toBe(1000);
    expect(c.nextAt).toBe(1010);
    c.advance(100);
    expect(seen).toEqual(["a@1010", "b@1050"]);
    expect(c.now()).toBe(1100);
    expect(c.pending).toBe(1);
  });

  it("runs a timer armed by a timer within the same advance when it falls due, and not one cleared", () => {
    const c = new ManualClock();
    const seen: number[] = [];
    const cleared = c.setTimeout(() => seen.push(-1), 5);
    c.setTimeout(() => {
      seen.push(c.now());
      c.setTimeout(() => seen.push(c.now()), 20);
    }, 10);
    c.clearTimeout(cleared);
    c.advance(40);
    expect(seen).toEqual([10, 30]);
    expect(c.pending).toBe(0);
    expect(c.nextAt).toBeUndefined();
  });
});

describe("offsetClock", () => {
  it("reads the base's time moved by the offset and leaves its timers alone", () => {
    const base = new ManualClock(10_000);
    const ahead = offsetClock(base, 600_000);
    expect(ahead.now()).toBe(610_000);
    let fired = false;
    ahead.setTimeout(() => {
      fired = true;
    }, 100);
    base.advance(100);
    expect(fired).toBe(true);
    expect(ahead.now()).toBe(610_100);
    expect(offsetClock(base, 0)).toBe(base);
  });
});

describe("systemClock", () => {
  it("reads Date.now and arms timers that do not keep the process alive", () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    const t = systemClock.setTimeout(() => {}, 60_000) as NodeJS.Timeout;
    try {
      expect(t.hasRef()).toBe(false);
    } finally {
      systemClock.clearTimeout(t);
    }
  });
});
