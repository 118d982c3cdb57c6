/**
 * The time source and timers of the agent's code (health, transport, healing, pf's confirm window, metrics),
 * injected so that tests drive time by hand with ManualClock instead of mocking modules.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A tail or a pending record must never keep the process alive on its own.
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * The system clock with timers that keep the process alive: what must happen even when nothing else keeps
 * the agent busy (a heal pass without a coordinator, pf's revert when its confirm window runs out).
 */
export const liveClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** A clock for tests: time moves only through advance(), which runs due timers in order. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Number of armed timers (tests check that stop() leaves none). */
  get pending(): number {
    return this.timers.size;
  }

  /** When the earliest armed timer is due (undefined: none armed). */
  get nextAt(): number | undefined {
    let at: number | undefined;
    for (const t of this.timers.values()) if (at === undefined || t.at < at) at = t.at;
    return at;
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) {
        if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      }
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/**
 * `base` with its time read `offsetMs` off (timers unchanged): a VM whose clock is ahead (> 0) or behind the
 * host's, for test sandboxes where every simulated VM shares the machine's clock (`vmmeet-agent
 * --clock-offset`). The coordinator measures and corrects such a skew (coordinator fleet/clock.ts).
 */
export function offsetClock(base: Clock, offsetMs: number): Clock {
  if (offsetMs === 0) return base;
  return {
    now: () => base.now() + offsetMs,
    setTimeout: (fn, ms) => base.setTimeout(fn, ms),
    clearTimeout: (h) => base.clearTimeout(h),
  };
}
