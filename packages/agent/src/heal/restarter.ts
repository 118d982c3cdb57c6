// The restarter: a managed service that rcctl check does not find is started again with a per-service
// backoff (backoff.ts); after `maxAttempts` starts that did not last it is reported failed and left alone
// until it runs again or a new desired state arrives. It also restarts a service on request (a remedy, the
// coordinator's repair frame) and says how each service looks to it (serviceHint, for the status report).
//
// What it knows of each service is the service owner's (services/life.ts): whether it ran when last seen,
// and when it was last (re)started, by the healer or an apply. From start() to stop() it checks every
// service on its own periodic timer (pass.ts), brought forward to when a start attempt is due, and listens
// to the owner's "stopped": a service someone's check (a health probe, the status) found gone is looked at
// again settleMs later, on its own, not only at the next pass; if it runs again by then (an admin's
// `rcctl restart` stopped and started it), the healer leaves it alone. stop() also ends a check in
// progress at its next service.
import type { ServiceHealthHint } from "../status.js";
import {
  afterAttempt,
  decide,
  dueAt,
  newRecord,
  phaseOf,
  type ServicePhase,
  type ServiceRecord,
  settle,
} from "./backoff.js";
import type { HealContext } from "./context.js";
import { PeriodicPass } from "./pass.js";

export interface RestarterOptions {
  ctx: HealContext;
  /** A service's state (ok/starting/backoff/failed) changed. */
  onChange?: () => void;
}

export type StartOutcome = { ok: true } | { ok: false; error: string };

export class Restarter {
  readonly #ctx: HealContext;
  readonly #records = new Map<string, ServiceRecord>();
  readonly #phases = new Map<string, ServicePhase>();
  readonly #pass: PeriodicPass;
  #unsubscribe: (() => void) | null = null;
  /** A check of its own runs (its pass re-arms the timer after it). */
  #checking = false;
  #started = false;
  #stopped = false;

  constructor(private readonly options: RestarterOptions) {
    this.#ctx = options.ctx;
    this.#pass = new PeriodicPass({
      ctx: options.ctx,
      run: () => this.check(),
      dueIn: () => this.nextAttemptIn(),
      logLine: "heal pass",
    });
  }

  /** Completed periodic checks (tests wait on it instead of sleeping). */
  get passes(): number {
    return this.#pass.passes;
  }

  /** Listens to the owner's "stopped" and arms the periodic check. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#unsubscribe = this.#ctx.life.on("stopped", (e) => this.#onStopped(e.service));
    this.#pass.start();
  }

  /** Idempotent: no more events heard, no timer; a check in progress ends at its next service. */
  stop(): void {
    this.#stopped = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#pass.stop();
  }

  /** One check of every service now, queued behind the repair in progress. */
  pass(): Promise<void> {
    return this.#pass.now();
  }

  /**
   * The desired state changed (ctx.desired). A new desired state may fix what failed, so every service's
   * attempt count and give-up are reset; a service no longer desired is forgotten.
   */
  configure(): void {
    const names = new Set((this.#ctx.desired?.services ?? []).map((s) => s.name));
    for (const name of [...this.#records.keys()]) if (!names.has(name)) this.#forget(name);
    for (const name of names) {
      const old = this.#records.get(name);
      this.#records.set(name, { ...newRecord(), restarts: old?.restarts ?? 0 });
    }
  }

  /** Milliseconds until the earliest start attempt a stopped service waits for; undefined: none waits. */
  nextAttemptIn(): number | undefined {
    const now = this.#ctx.clock.now();
    const p = this.#ctx.tuning.restart;
    let next: number | undefined;
    for (const [name, rec] of this.#records) {
      if (rec.gaveUp || (rec.attempts === 0 && rec.stoppedAt === null)) continue;
      if (this.#ctx.life.lastSeen(name) !== false) continue;
      next = Math.min(next ?? Number.POSITIVE_INFINITY, dueAt(rec, p) - now);
    }
    return next;
  }

  /** The service's state as the restarter sees it, for the status report; undefined before its first check. */
  serviceHint(name: string): ServiceHealthHint | undefined {
    const rec = this.#records.get(name);
    const running = this.#ctx.life.lastSeen(name);
    if (!rec || running === undefined) return undefined;
    const state = this.#phase(name, rec, running);
    const p = this.#ctx.tuning.restart;
    let detail: string | undefined;
    if (rec.gaveUp && !running)
      detail = `gave up after ${rec.attempts} starts that did not last${rec.lastError ? ` (last: ${rec.lastError})` : ""}; fix it, then rcctl start ${name} or push again`;
    else if (state === "backoff") {
      const wait = Math.max(0, Math.ceil((rec.nextAttemptAt - this.#ctx.clock.now()) / 1000));
      detail = `start attempt ${rec.attempts} of ${p.maxAttempts} did not last${rec.lastError ? ` (${rec.lastError})` : ""}; next in ${wait} s`;
    }
    return { state, restarts: rec.restarts, ...(detail ? { detail: detail.slice(0, 2000) } : {}) };
  }

  /**
   * Restarts a managed service now (the coordinator's repair frame), queued behind the repair in progress
   * and reported as an event. Returns whether rcctl check finds it running afterwards.
   */
  restartService(name: string, reason: string): Promise<boolean> {
    return this.#ctx.work.run(async () => {
      const r = await this.startAndCheck(name, "restart");
      this.#ctx.event(
        "repair-service",
        r.ok ? "degraded" : "failed",
        r.ok ? `restarted ${name}: ${reason}` : `restart of ${name} failed (${reason}): ${r.error}`,
        name,
      );
      return r.ok;
    });
  }

  /** Checks every managed service in start order and starts what is not running. Runs inside ctx.work. */
  async check(): Promise<void> {
    this.#checking = true;
    try {
      await this.#check();
    } finally {
      this.#checking = false;
    }
  }

  async #check(): Promise<void> {
    const ctx = this.#ctx;
    const desired = ctx.desired;
    if (!desired) return;
    const p = ctx.tuning.restart;
    for (const s of [...desired.services].sort((a, b) => a.order - b.order)) {
      if (this.#stopped || ctx.busy() || ctx.desired !== desired) return;
      let running: boolean;
      try {
        // A running service found gone here is told as "stopped" (#onStopped), before its record is read.
        running = await ctx.life.check(s.name);
      } catch (err) {
        ctx.log.warn({ service: s.name, err: (err as Error).message }, "rcctl check failed");
        continue;
      }
      const now = ctx.clock.now();
      let rec = settle(this.#records.get(s.name) ?? newRecord(), running, now, p);
      const d = decide(rec, running, now, p);
      if (d.kind === "recovered") {
        rec = { ...newRecord(), restarts: rec.restarts };
        ctx.event(
          "service-recovered",
          "healthy",
          `${s.name} runs again; restarting it on failure again`,
          s.name,
        );
      } else if (d.kind === "give-up") {
        rec = { ...rec, gaveUp: true };
        ctx.event(
          "service-failed",
          "failed",
          `gave up on ${s.name} after ${rec.attempts} starts that did not last${rec.lastError ? ` (last: ${rec.lastError})` : ""}; fix it, then rcctl start ${s.name} or push a new generation`,
          s.name,
        );
      } else if (d.kind === "start") {
        const r = await this.startAndCheck(s.name, "start");
        rec = afterAttempt(rec, ctx.clock.now(), p, r.ok, r.ok ? null : r.error);
        const of = `attempt ${d.attempt} of ${p.maxAttempts}`;
        const next = Math.round((rec.nextAttemptAt - ctx.clock.now()) / 1000);
        ctx.event(
          "repair-service",
          r.ok ? "degraded" : "failed",
          r.ok
            ? `${s.name} was not running: started it (${of})`
            : `${s.name} was not running and did not start (${of}): ${r.error}; ${d.attempt >= p.maxAttempts ? "giving up unless it runs" : "next attempt"} in ${next} s`,
          s.name,
        );
      }
      this.#records.set(s.name, rec);
    }
    this.#notifyPhases();
  }

  /**
   * The restart step, one piece: the service owner starts or restarts, checks after it (rcctl says ok even
   * when the process is gone at once) and tells the health monitor. Every (re)start the healer makes goes
   * through here.
   */
  async startAndCheck(name: string, verb: "start" | "restart"): Promise<StartOutcome> {
    try {
      const life = this.#ctx.life;
      const r = verb === "start" ? await life.start(name) : await life.restart(name);
      return r.ok ? { ok: true } : { ok: false, error: r.detail.slice(0, 500) };
    } catch (err) {
      return { ok: false, error: (err as Error).message.slice(0, 500) };
    }
  }

  #phase(name: string, rec: ServiceRecord, running: boolean): ServicePhase {
    return phaseOf(rec, running, this.#ctx.inGrace(name));
  }

  /**
   * The owner found a running service gone: its start attempt is due settleMs from now (someone may be
   * restarting it), looked at then by the periodic check brought forward.
   */
  #onStopped(name: string): void {
    const rec = this.#records.get(name);
    if (!rec || this.#stopped) return;
    this.#records.set(name, { ...rec, stoppedAt: this.#ctx.clock.now() });
    if (!this.#checking) this.#pass.rearm();
  }

  #notifyPhases(): void {
    let changed = false;
    for (const [name, rec] of this.#records) {
      const running = this.#ctx.life.lastSeen(name);
      if (running === undefined) continue;
      const ph = this.#phase(name, rec, running);
      if (this.#phases.get(name) !== ph) {
        this.#phases.set(name, ph);
        changed = true;
      }
    }
    if (changed) this.options.onChange?.();
  }

  #forget(name: string): void {
    this.#records.delete(name);
    this.#phases.delete(name);
  }
}
