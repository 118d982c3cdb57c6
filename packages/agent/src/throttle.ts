// At most one run per interval, without delaying the first: what the agent uses to send status frames.
import { type Clock, systemClock } from "@vmmeet/node";

/**
 * Runs `fn` at most once per `intervalMs`. A request after a quiet spell runs at once (a rollout's health
 * gate is waiting on exactly that change); requests during the interval after a run are folded into one
 * run at its end, so a burst (a restarting JVM logs dozens of lines) costs two frames, not dozens.
 */
export class Throttle {
  #last = Number.NEGATIVE_INFINITY;
  #timer: unknown = null;
  #cancelled = false;

  constructor(
    private readonly fn: () => void,
    private readonly intervalMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  request(): void {
    if (this.#timer !== null || this.#cancelled) return;
    const wait = this.#last + this.intervalMs - this.clock.now();
    if (wait <= 0) {
      this.#run();
      return;
    }
    this.#timer = this.clock.setTimeout(() => {
      this.#timer = null;
      this.#run();
    }, wait);
  }

  /** Runs now whatever the interval says (a change that must not wait); a pending run is folded in. */
  now(): void {
    if (this.#cancelled) return;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
    this.#run();
  }

  /** No run after this one: pending requests are dropped (the agent is stopping). */
  cancel(): void {
    this.#cancelled = true;
    if (this.#timer !== null) this.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #run(): void {
    this.#last = this.clock.now();
    this.fn();
  }
}
