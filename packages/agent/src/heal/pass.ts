// A unit's periodic work: every `intervalMs` (with jitter) one run in the repair queue, brought forward
// to when something is due sooner (a service waiting for its next start attempt). Drift repair's compare,
// the restarter's check and the certificate check each own one, armed from start() to stop() on the
// injected clock.
import type { HealContext } from "./context.js";
import { UnitTimer } from "./timer.js";
import { jittered } from "./tuning.js";

/** After a pass the daemon's apply held off, what is due is looked at again this much later at the soonest. */
const HELD_OFF_MS = 1000;

export interface PeriodicPassOptions {
  ctx: HealContext;
  /** The work; runs inside ctx.work. */
  run: () => Promise<void>;
  /** Milliseconds until something is due sooner than the interval (a start attempt); undefined: nothing. */
  dueIn?: () => number | undefined;
  /** The interval before jitter (default: the tuning's intervalMs). */
  intervalMs?: () => number;
  /** Whether there is anything to do at all (default yes): no timer while not. */
  armed?: () => boolean;
  /** The debug line after each run (tests count them instead of sleeping). */
  logLine: string;
}

export class PeriodicPass {
  readonly #ctx: HealContext;
  readonly #timer: UnitTimer;
  #passes = 0;

  constructor(private readonly options: PeriodicPassOptions) {
    this.#ctx = options.ctx;
    this.#timer = new UnitTimer(options.ctx.clock);
  }

  /** Completed passes (tests wait on it instead of sleeping). */
  get passes(): number {
    return this.#passes;
  }

  start(): void {
    if (this.#timer.start()) this.#arm();
  }

  /** Idempotent. */
  stop(): void {
    this.#timer.stop();
  }

  /** What is due changed (a service stopped): the timer is armed again for the sooner time. */
  rearm(): void {
    if (this.#timer.running) this.#arm();
  }

  /**
   * One pass now, queued behind the repair in progress (nothing while the daemon applies); once started,
   * the timer is armed again after it, for what is due then (after a pass the daemon's apply held off, a
   * second later at the soonest: a due start attempt waits for the apply, it does not poll it).
   */
  now(): Promise<void> {
    let held = false;
    return this.#ctx.work
      .run(async () => {
        const ctx = this.#ctx;
        if (this.#timer.stopped || !ctx.desired) return;
        if (ctx.busy()) {
          held = true;
          return;
        }
        await this.options.run();
        this.#passes += 1;
        ctx.log.debug({ passes: this.#passes }, this.options.logLine);
      })
      .finally(() => {
        if (this.#timer.running) this.#arm(held);
      });
  }

  /** `heldOff`: the last pass waited for the daemon's apply (see now()). */
  #arm(heldOff = false): void {
    if (!(this.options.armed?.() ?? true)) {
      this.#timer.clear();
      return;
    }
    const { jitter } = this.#ctx.tuning;
    const interval = this.options.intervalMs?.() ?? this.#ctx.tuning.intervalMs;
    const due = this.options.dueIn?.();
    const soonest = heldOff && due !== undefined ? Math.max(due, HELD_OFF_MS) : due;
    const delay = Math.min(jittered(interval, jitter, this.#ctx.random), soonest ?? Infinity);
    this.#timer.arm(delay, () => this.#tick());
  }

  #tick(): void {
    this.now().catch((err: unknown) =>
      this.#ctx.log.error({ err: (err as Error).message }, `${this.options.logLine} failed`),
    );
  }
}
