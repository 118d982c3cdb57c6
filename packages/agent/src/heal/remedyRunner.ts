// Remedies: a classified log signal of this node with a plan in remedies.ts is repaired here, within an
// hourly budget per remedy. A plan's wait for a cure ends on the cure's signal or after the service's grace
// period (one clock timer per wait).
//
// start() subscribes to the health's signals (onSignal() works without it: the daemon or a test may call it);
// stop() unsubscribes, abandons every wait and refuses new signals; settled() is what is still running.
import type { HealthSignal } from "@vmmeet/shared";
import type { HealerHealth } from "../health/source.js";
import type { HealContext } from "./context.js";
import type { EnforceOutcome } from "./enforce.js";
import { type RepairPlan, type RepairStep, remedyFor } from "./remedies.js";
import type { StartOutcome } from "./restarter.js";

export interface RemedyRunnerOptions {
  ctx: HealContext;
  /** Where signals come from (start() subscribes). */
  health?: HealerHealth;
  /** Re-applies the desired state; runs inside ctx.work. */
  enforce: () => Promise<EnforceOutcome>;
  /** Restarts a service (Restarter.startAndCheck); runs inside ctx.work. */
  restart: (service: string) => Promise<StartOutcome>;
}

/** A remedy waiting for its component to log a cure. */
interface CureWait {
  component: string;
  cures: ReadonlySet<string>;
  settle: (cured: boolean) => void;
}

export class RemedyRunner {
  readonly #ctx: HealContext;
  readonly #runs = new Map<string, number[]>();
  readonly #waits = new Set<CureWait>();
  readonly #active = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  #started = false;
  #stopped = false;

  constructor(private readonly options: RemedyRunnerOptions) {
    this.#ctx = options.ctx;
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.options.health?.on("signal", this.#heard);
  }

  #heard = (signal: HealthSignal): void => this.onSignal(signal);

  /** Idempotent: every wait for a cure ends as not cured, and the plans waiting on it end there. */
  stop(): void {
    this.#stopped = true;
    this.options.health?.off("signal", this.#heard);
    for (const w of [...this.#waits]) w.settle(false);
  }

  /** Plans still running (stop() waits for them). */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.#inflight]);
  }

  /**
   * A classified log signal of this node. A cure ends a remedy's wait; a failure with a remedy in
   * remedies.ts starts it, unless the same remedy runs already, the service is inside its grace period
   * after a (re)start (failures are expected then), or its hourly budget is spent.
   */
  onSignal(signal: HealthSignal): void {
    if (this.#stopped) return;
    for (const w of [...this.#waits])
      if (w.component === signal.component && w.cures.has(signal.signal)) w.settle(true);
    const desired = this.#ctx.desired;
    if (!desired) return;
    const plan = remedyFor(signal, desired.role);
    if (!plan || !desired.services.some((s) => s.name === plan.service)) return;
    const key = `${plan.id}/${plan.service}`;
    if (this.#active.has(key)) return;
    if (this.#ctx.inGrace(plan.service)) {
      this.#ctx.log.debug(
        { signal: signal.signal, service: plan.service },
        "inside the grace period; no remedy",
      );
      return;
    }
    this.#active.add(key);
    const run = this.#run(plan)
      .catch((err: unknown) =>
        this.#ctx.log.error({ err: (err as Error).message, remedy: plan.id }, "remedy crashed"),
      )
      .finally(() => {
        this.#active.delete(key);
        this.#inflight.delete(run);
      });
    this.#inflight.add(run);
  }

  async #run(plan: RepairPlan): Promise<void> {
    const ctx = this.#ctx;
    const did: string[] = [];
    const restarted = new Set<string>();
    let budget = false;
    let ok = true;
    const take = () => {
      if (budget) return true;
      const runs = this.#runs.get(plan.id) ?? [];
      this.#runs.set(plan.id, runs);
      if (!ctx.allow(runs, plan.maxPerHour)) {
        ctx.limited(
          `remedy-${plan.id}`,
          `${plan.trigger.component} logged ${plan.trigger.signal} again; remedy "${plan.id}" already ran ${plan.maxPerHour} times this hour, so it is left to an admin`,
        );
        return false;
      }
      budget = true;
      return true;
    };
    for (const step of plan.steps) {
      if (this.#stopped) return;
      if (step.kind === "await-cure") {
        const waitMs = ctx.grace(step.service);
        if (await this.#awaitCure(step)) {
          ctx.log.info({ remedy: plan.id, component: step.component }, "recovered within its grace period");
          return;
        }
        if (this.#stopped) return;
        did.push(`${step.component} did not recover within ${Math.round(waitMs / 1000)} s`);
        continue;
      }
      if (!take()) return;
      if (step.kind === "enforce") {
        const r = await ctx.work.run(() => this.options.enforce());
        for (const s of r.restarted) restarted.add(s);
        did.push(r.written.length > 0 ? `reinstalled ${r.written.join(", ")}` : "files already as desired");
        if (r.failed.length > 0) ok = false;
      } else if (step.kind === "restart") {
        if (restarted.has(step.service)) continue;
        const r = await ctx.work.run(() => this.options.restart(step.service));
        restarted.add(step.service);
        did.push(r.ok ? `restarted ${step.service}` : `restart of ${step.service} failed: ${r.error}`);
        if (!r.ok) ok = false;
      }
    }
    ctx.event(
      `remedy-${plan.id}`,
      ok ? "degraded" : "failed",
      `${plan.trigger.component} logged ${plan.trigger.signal}: ${did.join("; ")}`,
      plan.service,
    );
  }

  #awaitCure(step: Extract<RepairStep, { kind: "await-cure" }>): Promise<boolean> {
    const clock = this.#ctx.clock;
    return new Promise((resolve) => {
      let timer: unknown = null;
      const w: CureWait = {
        component: step.component,
        cures: new Set(step.cures),
        settle: (cured) => {
          if (!this.#waits.delete(w)) return;
          if (timer !== null) clock.clearTimeout(timer);
          resolve(cured);
        },
      };
      this.#waits.add(w);
      timer = clock.setTimeout(() => w.settle(false), this.#ctx.grace(step.service));
    });
  }
}
