// Drift repair: a managed file that differs from its desired entry (a hand edit, a package update) is
// restored by re-applying the persisted desired state, which rewrites only what differs and restarts only
// the services those files notify, once. A watch (drift.ts) triggers the compare within `debounceMs`; its
// own periodic compare (pass.ts) runs too, in case a watch missed something.
//
// start() opens the watch and arms the periodic compare; stop() closes the watch and both timers.
// compare() works before start(): tests call it.
import { cappedDelay } from "@vmmeet/node";
import type { Logger } from "pino";
import type { AccountResolver } from "../reconcile/accounts.js";
import type { ApplyEngine } from "../reconcile/engine.js";
import type { HealContext } from "./context.js";
import { DriftWatcher, type DriftWatcherOptions, driftOf } from "./drift.js";
import { enforceAndReport } from "./enforce.js";
import { PeriodicPass } from "./pass.js";
import { UnitTimer } from "./timer.js";

export interface DriftRepairOptions {
  ctx: HealContext;
  engine: Pick<ApplyEngine, "enforce">;
  /** Prefix of every managed path ("/" on the VM). */
  root: string;
  accounts: AccountResolver;
  /** fs.watch, injectable for tests. */
  watchImpl?: DriftWatcherOptions["watchImpl"];
}

export class DriftRepair {
  readonly #ctx: HealContext;
  readonly #log: Logger;
  #watcher: DriftWatcher | null = null;
  readonly #debounce: UnitTimer;
  readonly #pass: PeriodicPass;
  readonly #runs: number[] = [];
  /**
   * Restores that failed to write (ENOSPC on a full /etc or /var, EIO...) in a row, and when the next may
   * be tried: each failure doubles the wait from intervalMs up to 64 intervals (16 min by default), so a
   * full disk gets a few attempts an hour instead of one per pass and per watch event (the failed write's
   * own temp file sets off the watch); the first pass after the wait, or a push, converges once space is back.
   */
  #failures = { count: 0, retryAt: Number.NEGATIVE_INFINITY };
  #started = false;
  #stopped = false;

  constructor(private readonly options: DriftRepairOptions) {
    this.#ctx = options.ctx;
    this.#log = options.ctx.log;
    this.#debounce = new UnitTimer(options.ctx.clock);
    this.#pass = new PeriodicPass({ ctx: options.ctx, run: () => this.periodic(), logLine: "drift pass" });
  }

  /**
   * Watches the managed files of the desired state in force (when the tuning asks for watches) and arms
   * the periodic compare.
   */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#pass.start();
    if (!this.#ctx.tuning.watch) return;
    this.#watcher = new DriftWatcher({
      root: this.options.root,
      log: this.#log,
      onEvent: (managed) => this.#onWatch(managed),
      ...(this.options.watchImpl ? { watchImpl: this.options.watchImpl } : {}),
    });
    this.#watcher.watch(this.#managed());
  }

  /** Idempotent: closes the watches and drops the periodic and a pending debounced compare. */
  stop(): void {
    this.#stopped = true;
    this.#pass.stop();
    this.#debounce.stop();
    this.#watcher?.close();
  }

  /** One periodic compare now, queued behind the repair in progress. */
  pass(): Promise<void> {
    return this.#pass.now();
  }

  /** The desired state changed (ctx.desired): watch its files. */
  configure(): void {
    this.#watcher?.watch(this.#managed());
  }

  /** The periodic compare: re-arms the watches a rename silenced, then compares. Runs inside ctx.work. */
  async periodic(): Promise<void> {
    this.#watcher?.rearm();
    await this.compare("periodic");
  }

  /** Compares every managed file and restores what differs. Runs inside ctx.work. */
  async compare(trigger: "watch" | "periodic"): Promise<void> {
    const ctx = this.#ctx;
    const desired = ctx.desired;
    if (this.#stopped || !desired || ctx.busy()) return;
    if (ctx.clock.now() < this.#failures.retryAt) return;
    const drift = await driftOf(desired, this.options.root, this.options.accounts);
    if (drift.length === 0) return;
    const perHour = ctx.tuning.driftRepairsPerHour;
    if (!ctx.allow(this.#runs, perHour)) {
      ctx.limited(
        "files",
        `managed files keep changing (${drift.map((d) => d.path).join(", ")}): more than ${perHour} restores in an hour; not restoring until the hour is over`,
      );
      return;
    }
    this.#log.warn({ trigger, drift }, "managed files differ from the desired state; restoring");
    const out = await enforceAndReport(ctx, this.options.engine, new Map(drift.map((d) => [d.path, d.why])));
    const filesFailed = out.failed.some((f) => f === "enforce" || drift.some((d) => d.path === f));
    if (!filesFailed) {
      this.#failures = { count: 0, retryAt: Number.NEGATIVE_INFINITY };
      return;
    }
    const count = this.#failures.count + 1;
    const waitMs = cappedDelay(count - 1, {
      initialMs: ctx.tuning.intervalMs,
      maxMs: ctx.tuning.intervalMs * 64,
      factor: 2,
    });
    this.#failures = { count, retryAt: ctx.clock.now() + waitMs };
    this.#log.warn(
      { failures: count, retryInMs: waitMs },
      "restoring managed files failed; waiting before the next try",
    );
  }

  #managed(): string[] {
    return (this.#ctx.desired?.files ?? []).map((f) => f.path);
  }

  #onWatch(managed: string | null): void {
    if (this.#stopped) return;
    this.#log.debug({ path: managed }, "managed file event");
    this.#debounce.arm(this.#ctx.tuning.debounceMs, () => {
      this.#ctx.work
        .run(() => this.compare("watch"))
        .catch((err: unknown) => this.#log.error({ err: (err as Error).message }, "drift check failed"));
    });
  }
}
