import { performance } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";
import { type Clock, systemClock } from "@vmmeet/node";

/*
 * Gives the garbage of a burst back when the agent goes quiet.
 *
 * A push (an apply, its rcctl calls, its status reports) or a busy log leaves a few MB of dead objects in
 * V8's old generation. V8 collects them when the old generation next reaches its limit, which an idle
 * agent never does, and its memory reducer is meant for heaps that grew by 10 MB or more: the agent's is
 * about 7 MB in all (what was measured: bench/README.md, "HeapTrimmer").
 *
 * HeapTrimmer does what the memory reducer would: every `checkMs` it looks at the old generation's used
 * size and at how busy the event loop was since the previous look. When the old generation holds at
 * least `garbageBytes` more than after the last full collection and the event loop was quiet (the burst
 * is over), it runs one full collection. With --compact-on-every-full-gc (docs/agent-node-flags.md) that
 * collection also moves the survivors out of the emptied pages, so they go back to the system.
 *
 * The collection is V8's gc() from --expose-gc; without that flag (a development run) nothing happens.
 */

export interface HeapTrimmerOptions {
  /** A full collection: V8's gc() from --expose-gc. */
  gc: () => void;
  /** Bytes in use in the old generation. Default: v8.getHeapSpaceStatistics()'s old_space. */
  oldSpaceUsed?: () => number;
  clock?: Clock;
  /**
   * The event loop's utilization (0 to 1) since the previous call. Default: performance's
   * eventLoopUtilization().
   */
  busy?: () => number;
  /** Default 5 s. */
  checkMs?: number;
  /** Growth since the last full collection that is worth one. Default 1 MB. */
  garbageBytes?: number;
  /** Utilization below which the agent counts as quiet. Default 0.05. */
  quietUtilization?: number;
  /** Called after each collection, with the old generation's used size before and after. */
  onTrim?: (before: number, after: number) => void;
}

const MB = 1024 * 1024;

export function oldSpaceUsed(): number {
  for (const s of getHeapSpaceStatistics()) if (s.space_name === "old_space") return s.space_used_size;
  return 0;
}

/** eventLoopUtilization() since the previous call of the returned function. */
export function loopUtilization(): () => number {
  let last = performance.eventLoopUtilization();
  return () => {
    const now = performance.eventLoopUtilization();
    const u = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    return u;
  };
}

export class HeapTrimmer {
  readonly #gc: () => void;
  readonly #used: () => number;
  readonly #busy: () => number;
  readonly #clock: Clock;
  readonly #checkMs: number;
  readonly #garbage: number;
  readonly #quietUtilization: number;
  readonly #onTrim: ((before: number, after: number) => void) | undefined;
  /** Old generation in use after the last full collection, or the least seen since. */
  #base: number;
  #timer: unknown;

  constructor(opts: HeapTrimmerOptions) {
    this.#gc = opts.gc;
    this.#used = opts.oldSpaceUsed ?? oldSpaceUsed;
    this.#busy = opts.busy ?? loopUtilization();
    this.#clock = opts.clock ?? systemClock;
    this.#checkMs = opts.checkMs ?? 5_000;
    this.#garbage = opts.garbageBytes ?? MB;
    this.#quietUtilization = opts.quietUtilization ?? 0.05;
    this.#onTrim = opts.onTrim;
    this.#base = this.#used();
  }

  start(): void {
    if (this.#timer !== undefined) return;
    const arm = () => {
      this.#timer = this.#clock.setTimeout(() => {
        this.check();
        arm();
      }, this.#checkMs);
    };
    arm();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** One look; true when it ran a collection. */
  check(): boolean {
    const used = this.#used();
    const quiet = this.#busy() < this.#quietUtilization;
    // V8 collected on its own since: that is the new floor.
    if (used < this.#base) this.#base = used;
    if (!quiet || used - this.#base < this.#garbage) return false;
    this.#gc();
    const after = this.#used();
    this.#base = after;
    this.#onTrim?.(used, after);
    return true;
  }
}

/** V8's gc() when the process runs with --expose-gc, else undefined. */
export function exposedGc(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === "function" ? (gc as () => void) : undefined;
}
