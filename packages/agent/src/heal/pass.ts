// The healer's periodic pass: every `intervalMs` (with jitter) the managed files are compared (drift
// repair) and the managed services checked (restarter), one after the other in the repair queue. A
// service waiting for its next start attempt brings the pass forward to that time. One clock timer, armed
// from start() to stop(), like every timer of the agent.
import type { HealContext } from "./context.js";
import { jittered } from "./tuning.js";

export interface PeriodicPassOptions {
  ctx: HealContext;
  /** The pass's work, in order; runs inside ctx.work. */
  run: () => Promise<void>;
  /** Milliseconds until something is due sooner than the interval (a start attempt); undefined: nothing. */
  dueIn?: () => number | undefined;
}

export class PeriodicPass {
  readonly #ctx: HealContext;
  #timer: unknown = null;
  #passes = 0;
  #started = false;
  #stopped = false;

  constructor(private readonly o: PeriodicPassOptions) {
    this.#ctx = o.ctx;
  }

  /** Completed passes (tests wait on it instead of sleeping). */
  get passes(): number {
    return this.#passes;
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#arm();
  }

  /** Idempotent. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** One pass now, queued behind the repair in progress (nothing while the daemon applies). */
  now(): Promise<void> {
    return this.#ctx.work.run(async () => {
      const ctx = this.#ctx;
      if (this.#stopped || !ctx.desired || ctx.busy()) return;
      await this.o.run();
      this.#passes += 1;
      ctx.log.debug({ passes: this.#passes }, "heal pass");
    });
  }

  #arm(): void {
    if (this.#stopped) return;
    if (this.#timer !== null) this.#ctx.clock.clearTimeout(this.#timer);
    const { intervalMs, jitter } = this.#ctx.tuning;
    const delay = Math.min(jittered(intervalMs, jitter, this.#ctx.random), this.o.dueIn?.() ?? Infinity);
    this.#timer = this.#ctx.clock.setTimeout(() => this.#tick(), Math.max(20, Math.round(delay)));
  }

  #tick(): void {
    this.#timer = null;
    this.now()
      .catch((err: unknown) => this.#ctx.log.error({ err: (err as Error).message }, "heal pass failed"))
      .finally(() => this.#arm());
  }
}
