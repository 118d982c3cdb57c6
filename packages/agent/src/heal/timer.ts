// The one timer each healer unit owns, on the injected clock: armed only between start() and stop() (a
// stopped unit is never armed again), re-armed by replacing the pending timeout.
import type { Clock } from "@vmmeet/node";

/** Never sooner than this: a due time already past must not make a unit spin. */
const MIN_DELAY_MS = 20;

export class UnitTimer {
  #timer: unknown = null;
  #started = false;
  #stopped = false;

  constructor(private readonly clock: Clock) {}

  /** True once start() ran and stop() did not. */
  get running(): boolean {
    return this.#started && !this.#stopped;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Whether a timeout is pending. */
  get armed(): boolean {
    return this.#timer !== null;
  }

  /** True the first time only (and never after stop()): the caller arms its first timeout then. */
  start(): boolean {
    if (this.#started || this.#stopped) return false;
    this.#started = true;
    return true;
  }

  /** Idempotent: the pending timeout is dropped and none is armed again. */
  stop(): void {
    this.#stopped = true;
    this.clear();
  }

  /** Runs `fn` once after `delayMs` (20 ms at least), in place of what was pending; nothing once stopped. */
  arm(delayMs: number, fn: () => void): void {
    this.clear();
    if (this.#stopped) return;
    this.#timer = this.clock.setTimeout(
      () => {
        this.#timer = null;
        fn();
      },
      Math.max(MIN_DELAY_MS, Math.round(delayMs)),
    );
  }

  clear(): void {
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }
}
