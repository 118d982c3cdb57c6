// The agent's healer: keeps the node as the last applied desired state says, with or without a coordinator,
// and reports every repair as an event.
//
// - Drift: a managed file that differs from its desired entry (a hand edit, a package update) is restored
//   by re-applying the persisted desired state (ApplyEngine.enforce), which rewrites only what differs and
//   restarts only the services those files notify, once. A watch (drift.ts) triggers the compare within
//   `debounceMs`; a full compare runs every `intervalMs` (with jitter) in case a watch missed something.
// - Services: a managed service that rcctl check does not find is started again with a per-service backoff
//   (backoff.ts); after `maxAttempts` starts that did not last it is reported failed and left alone until it
//   runs again or a new desired state arrives.
// - Signals: the daemon passes every classified log signal to onSignal(); remedies.ts says what to do, this
//   runs it within an hourly budget per remedy.
// - Certificate: on a node with an acme-certificate action (the web node, tls.mode acme), the desired state
//   is re-applied every `certificateIntervalMs` (with jitter), which runs acme-client when the certificate
//   is the agent's placeholder or due for renewal (actions/acme.ts); after acme-client could not get one,
//   again after `certificateRetryMs`.
//
// One timer owns the periodic pass (STYLE.md 7); all repairs run one at a time through one queue, so the
// healer never races itself, and it stands aside while the daemon applies a desired state (`busy`).
import {
  type AgentEvent,
  DEFAULT_GRACE_SECONDS,
  type HealthLabel,
  type HealthSignal,
  type NodeDesired,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import type { Clock } from "../health/clock.js";
import type { AccountResolver } from "../reconcile/accounts.js";
import type { ApplyResult } from "../reconcile/apply.js";
import type { ApplyEngine } from "../reconcile/engine.js";
import { ServiceLife } from "../services/life.js";
import type { ServiceManager } from "../services/manager.js";
import { Serial } from "../services/serial.js";
import type { ServiceHealthHint } from "../status.js";
import {
  afterAttempt,
  DEFAULT_RESTART_POLICY,
  decide,
  newRecord,
  phaseOf,
  type RestartPolicy,
  type ServicePhase,
  type ServiceRecord,
  settle,
} from "./backoff.js";
import { DriftWatcher, driftOf } from "./drift.js";
import { type RepairPlan, type RepairStep, remedyFor } from "./remedies.js";

export interface HealerTuning {
  /** Periodic pass: every managed service checked, every managed file compared. */
  intervalMs: number;
  /** The pass comes up to this fraction earlier or later, so nodes booted together do not act together. */
  jitter: number;
  /** Wait after a watch event before comparing (editors write a file in several steps). */
  debounceMs: number;
  restart: RestartPolicy;
  /** File restores per hour at most: something fighting the agent over a file must not make it spin. */
  driftRepairsPerHour: number;
  /** Overrides every service's graceSeconds (remedies' wait, the "starting" state); tests only. */
  graceMs: number | null;
  /** Watch managed files (event-driven drift detection) besides the periodic compare. */
  watch: boolean;
  /** How often the ACME certificate is checked for renewal (Let's Encrypt's are valid 90 days). */
  certificateIntervalMs: number;
  /**
   * After acme-client failed: the next try. An hour keeps a node whose DNS is not ready within Let's
   * Encrypt's limit of 5 failed validations per hostname and hour.
   */
  certificateRetryMs: number;
}

export const DEFAULT_HEALER_TUNING: HealerTuning = {
  intervalMs: 15_000,
  jitter: 0.2,
  debounceMs: 250,
  restart: DEFAULT_RESTART_POLICY,
  driftRepairsPerHour: 30,
  graceMs: null,
  watch: true,
  certificateIntervalMs: 12 * 3_600_000,
  certificateRetryMs: 3_600_000,
};

export type HealerTuningInput = Partial<Omit<HealerTuning, "restart">> & { restart?: Partial<RestartPolicy> };

export interface HealerOptions {
  engine: Pick<ApplyEngine, "enforce">;
  /** The owner of the services' life (its starts are announced to the health monitor), or rcctl. */
  services: ServiceManager | ServiceLife;
  /** Prefix of every managed path ("/" on the VM). */
  root: string;
  accounts: AccountResolver;
  log: Logger;
  tuning?: HealerTuningInput;
  clock?: Clock;
  random?: () => number;
  /** True while the daemon applies a desired state: the healer does nothing then. */
  busy?: () => boolean;
  /** Every repair, give-up and recovery, as the protocol's AgentEvent (never a secret). */
  onEvent?: (event: AgentEvent) => void;
  /** A service's state (ok/starting/backoff/failed) changed. */
  onChange?: () => void;
}

const HOUR_MS = 3_600_000;

/** Timers that keep the process alive: without a coordinator the healer is what the agent is for. */
const liveClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Await {
  component: string;
  cures: ReadonlySet<string>;
  settle: (cured: boolean) => void;
}

interface EnforceOutcome {
  written: string[];
  restarted: string[];
  failed: string[];
  /** The apply's setup-action items (the certificate check reads its own). */
  actions: ApplyResult["actions"];
}

export class Healer {
  readonly tuning: HealerTuning;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #life: ServiceLife;
  readonly #work = new Serial();
  #desired: NodeDesired | null = null;
  readonly #records = new Map<string, ServiceRecord>();
  readonly #running = new Map<string, boolean>();
  /** Last known (re)start of each service by anyone the healer hears of (itself, an apply). */
  readonly #startedAt = new Map<string, number>();
  readonly #phases = new Map<string, ServicePhase>();
  #timer: unknown = null;
  #debounce: unknown = null;
  #certTimer: unknown = null;
  /** Certificate checks run (tests wait on it instead of sleeping). */
  #certChecks = 0;
  #watcher: DriftWatcher | null = null;
  readonly #driftRuns: number[] = [];
  /**
   * Restores that failed to write (ENOSPC on a full /etc or /var, EIO...) in a row, and when the next may
   * be tried: each failure doubles the wait from intervalMs up to 64 intervals (16 min by default), so a
   * full disk gets a few attempts an hour instead of one per pass and per watch event (the failed write's
   * own temp file sets off the watch); the first pass after the wait, or a push, converges once space is back.
   */
  #driftFailures = { count: 0, retryAt: Number.NEGATIVE_INFINITY };
  readonly #remedyRuns = new Map<string, number[]>();
  readonly #limitedAt = new Map<string, number>();
  readonly #awaits = new Set<Await>();
  readonly #activePlans = new Set<string>();
  readonly #inflight = new Set<Promise<void>>();
  #started = false;
  #stopped = false;
  #passes = 0;

  constructor(private readonly o: HealerOptions) {
    const t = o.tuning ?? {};
    this.tuning = {
      ...DEFAULT_HEALER_TUNING,
      ...Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)),
      restart: { ...DEFAULT_RESTART_POLICY, ...(t.restart ?? {}) },
    } as HealerTuning;
    this.#clock = o.clock ?? liveClock;
    this.#random = o.random ?? Math.random;
    this.#life = ServiceLife.of(o.services);
  }

  /** Completed periodic passes (tests wait on it instead of sleeping). */
  get passes(): number {
    return this.#passes;
  }

  /** Completed certificate checks. */
  get certificateChecks(): number {
    return this.#certChecks;
  }

  /**
   * The desired state in force, after the daemon's start and after every apply. A new desired state may
   * fix what failed, so every service's attempt count and give-up are reset; the services the apply
   * (re)started get their grace period (failures logged while a JVM comes up are expected).
   */
  configure(desired: NodeDesired | null, restarted: readonly string[] = []): void {
    this.#desired = desired;
    const now = this.#clock.now();
    const names = new Set((desired?.services ?? []).map((s) => s.name));
    for (const name of [...this.#records.keys()]) if (!names.has(name)) this.#forget(name);
    for (const name of names) {
      const old = this.#records.get(name);
      this.#records.set(name, { ...newRecord(), restarts: old?.restarts ?? 0 });
    }
    for (const name of restarted) if (names.has(name)) this.#startedAt.set(name, now);
    this.#watcher?.watch((desired?.files ?? []).map((f) => f.path));
    // The apply that brought this state ran the certificate check itself; should acme-client have failed
    // there, the retry delay is the sooner time to look again.
    if (this.#started) this.#armCertificate(true);
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    if (this.tuning.watch) {
      this.#watcher = new DriftWatcher({
        root: this.o.root,
        log: this.o.log,
        onEvent: (managed) => this.#onWatch(managed),
      });
      this.#watcher.watch((this.#desired?.files ?? []).map((f) => f.path));
    }
    this.#arm();
    this.#armCertificate(true);
  }

  /** Idempotent. Waits (briefly) for the repair in progress; an await for a reconnect is abandoned. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#clearTimer("timer");
    this.#clearTimer("debounce");
    this.#clearTimer("cert");
    this.#watcher?.close();
    for (const a of [...this.#awaits]) a.settle(false);
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#inflight, this.#work.run(async () => {})]),
      new Promise((r) => {
        bound = setTimeout(r, 5000);
      }),
    ]);
    clearTimeout(bound);
  }

  /** One full pass now (drift compare, then services), queued behind the repair in progress. */
  pass(): Promise<void> {
    return this.#work.run(() => this.#pass());
  }

  /** The service's state as the healer sees it, for the status report; undefined before its first check. */
  serviceHint(name: string): ServiceHealthHint | undefined {
    const rec = this.#records.get(name);
    const running = this.#running.get(name);
    if (!rec || running === undefined) return undefined;
    const state = this.#phase(name, rec, running);
    const p = this.tuning.restart;
    let detail: string | undefined;
    if (rec.gaveUp && !running)
      detail = `gave up after ${rec.attempts} starts that did not last${rec.lastError ? ` (last: ${rec.lastError})` : ""}; fix it, then rcctl start ${name} or push again`;
    else if (state === "backoff") {
      const wait = Math.max(0, Math.ceil((rec.nextAttemptAt - this.#clock.now()) / 1000));
      detail = `start attempt ${rec.attempts} of ${p.maxAttempts} did not last${rec.lastError ? ` (${rec.lastError})` : ""}; next in ${wait} s`;
    }
    return { state, restarts: rec.restarts, ...(detail ? { detail: detail.slice(0, 2000) } : {}) };
  }

  /**
   * A classified log signal of this node (health pipeline). A cure ends a remedy's wait; a failure with a
   * remedy in remedies.ts starts it, unless the same remedy runs already, the service is inside its grace
   * period after a (re)start (failures are expected then), or its hourly budget is spent.
   */
  onSignal(signal: HealthSignal): void {
    if (this.#stopped) return;
    for (const a of [...this.#awaits])
      if (a.component === signal.component && a.cures.has(signal.signal)) a.settle(true);
    const desired = this.#desired;
    if (!desired) return;
    const plan = remedyFor(signal, desired.role);
    if (!plan || !desired.services.some((s) => s.name === plan.service)) return;
    const key = `${plan.id}/${plan.service}`;
    if (this.#activePlans.has(key)) return;
    const since = this.#startedAt.get(plan.service);
    if (since !== undefined && this.#clock.now() - since < this.#grace(plan.service)) {
      this.o.log.debug(
        { signal: signal.signal, service: plan.service },
        "inside the grace period; no remedy",
      );
      return;
    }
    this.#activePlans.add(key);
    const run = this.#runPlan(plan)
      .catch((err: unknown) =>
        this.o.log.error({ err: (err as Error).message, remedy: plan.id }, "remedy crashed"),
      )
      .finally(() => {
        this.#activePlans.delete(key);
        this.#inflight.delete(run);
      });
    this.#inflight.add(run);
  }

  /**
   * Restarts a managed service now (a cross-node repair the coordinator ordered, once the protocol carries
   * one), reported as an event. Returns whether rcctl check finds it running afterwards.
   */
  restartService(name: string, reason: string): Promise<boolean> {
    return this.#work.run(async () => {
      const r = await this.#start(name, "restart");
      this.#event(
        "repair-service",
        r.ok ? "degraded" : "failed",
        r.ok ? `restarted ${name}: ${reason}` : `restart of ${name} failed (${reason}): ${r.error}`,
        name,
      );
      return r.ok;
    });
  }

  // --- periodic pass ---------------------------------------------------------------------------------

  #arm(): void {
    if (this.#stopped) return;
    this.#clearTimer("timer");
    const { intervalMs, jitter } = this.tuning;
    let delay = intervalMs * (1 + jitter * (2 * this.#random() - 1));
    // A service waiting for its next start attempt is looked at when that time comes, not a pass later.
    const now = this.#clock.now();
    for (const [name, rec] of this.#records) {
      if (rec.gaveUp || rec.attempts === 0 || this.#running.get(name) !== false) continue;
      delay = Math.min(delay, rec.nextAttemptAt - now);
    }
    this.#timer = this.#clock.setTimeout(() => this.#tick(), Math.max(20, Math.round(delay)));
  }

  #tick(): void {
    this.#timer = null;
    this.pass()
      .catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, "heal pass failed"))
      .finally(() => this.#arm());
  }

  async #pass(): Promise<void> {
    if (this.#stopped || !this.#desired) return;
    if (this.o.busy?.()) return;
    this.#watcher?.rearm();
    await this.#repairDrift("periodic");
    await this.#checkServices();
    this.#passes += 1;
    this.o.log.debug({ passes: this.#passes }, "heal pass");
  }

  async #checkServices(): Promise<void> {
    const desired = this.#desired;
    if (!desired) return;
    const p = this.tuning.restart;
    for (const s of [...desired.services].sort((a, b) => a.order - b.order)) {
      if (this.#stopped || this.o.busy?.() || this.#desired !== desired) return;
      let running: boolean;
      try {
        running = await this.#life.check(s.name);
      } catch (err) {
        this.o.log.warn({ service: s.name, err: (err as Error).message }, "rcctl check failed");
        continue;
      }
      const now = this.#clock.now();
      let rec = settle(this.#records.get(s.name) ?? newRecord(), running, now, p);
      const d = decide(rec, running, now, p);
      if (d.kind === "recovered") {
        rec = { ...newRecord(), restarts: rec.restarts };
        this.#event(
          "service-recovered",
          "healthy",
          `${s.name} runs again; restarting it on failure again`,
          s.name,
        );
      } else if (d.kind === "give-up") {
        rec = { ...rec, gaveUp: true };
        this.#event(
          "service-failed",
          "failed",
          `gave up on ${s.name} after ${rec.attempts} starts that did not last${rec.lastError ? ` (last: ${rec.lastError})` : ""}; fix it, then rcctl start ${s.name} or push a new generation`,
          s.name,
        );
      } else if (d.kind === "start") {
        const r = await this.#start(s.name, "start");
        rec = afterAttempt(rec, this.#clock.now(), p, r.ok, r.ok ? null : r.error);
        running = r.ok;
        const of = `attempt ${d.attempt} of ${p.maxAttempts}`;
        const next = Math.round((rec.nextAttemptAt - this.#clock.now()) / 1000);
        this.#event(
          "repair-service",
          r.ok ? "degraded" : "failed",
          r.ok
            ? `${s.name} was not running: started it (${of})`
            : `${s.name} was not running and did not start (${of}): ${r.error}; ${d.attempt >= p.maxAttempts ? "giving up unless it runs" : "next attempt"} in ${next} s`,
          s.name,
        );
      }
      this.#records.set(s.name, rec);
      this.#running.set(s.name, running);
    }
    this.#notifyPhases();
  }

  /** Start or restart through the service owner, which checks after it and tells the health monitor. */
  async #start(
    name: string,
    verb: "start" | "restart",
  ): Promise<{ ok: true } | { ok: false; error: string }> {
    try {
      const r = verb === "start" ? await this.#life.start(name) : await this.#life.restart(name);
      this.#startedAt.set(name, this.#clock.now());
      if (!r.ok) return { ok: false, error: r.detail.slice(0, 500) };
      this.#running.set(name, true);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: (err as Error).message.slice(0, 500) };
    }
  }

  // --- certificate -----------------------------------------------------------------------------------

  #hasCertificate(): boolean {
    return this.#desired?.actions.some((a) => a.kind === "acme-certificate") ?? false;
  }

  /**
   * One timer for the certificate check, armed only while the desired state has an acme-certificate.
   * `soon`: after certificateRetryMs (acme-client failed, or an apply ran whose outcome the healer does not
   * see), else after certificateIntervalMs.
   */
  #armCertificate(soon: boolean): void {
    this.#clearTimer("cert");
    if (this.#stopped || !this.#hasCertificate()) return;
    const { certificateIntervalMs, certificateRetryMs, jitter } = this.tuning;
    const base = soon ? certificateRetryMs : certificateIntervalMs;
    const delay = Math.max(20, Math.round(base * (1 + jitter * (2 * this.#random() - 1))));
    this.#certTimer = this.#clock.setTimeout(() => {
      this.#certTimer = null;
      this.#work
        .run(() => this.#checkCertificate())
        .catch((err: unknown) => {
          this.o.log.error({ err: (err as Error).message }, "certificate check failed");
          return true;
        })
        .then((retry) => {
          this.#certChecks += 1;
          if (!this.#stopped && this.#certTimer === null) this.#armCertificate(retry);
        });
    }, delay);
  }

  /**
   * Re-applies the desired state, whose acme-certificate action runs acme-client only when the
   * certificate is the placeholder or due; reports what it did. True: try again after certificateRetryMs.
   */
  async #checkCertificate(): Promise<boolean> {
    // An apply in progress runs the same check.
    if (this.#stopped || !this.#hasCertificate() || this.o.busy?.()) return false;
    const r = await this.#enforce(new Map());
    let retry = r.failed.includes("enforce");
    for (const a of r.actions) {
      if (a.action !== "acme-certificate") continue;
      const deferred = "deferred" in a && a.deferred === true;
      if (a.status === "done") {
        this.#event("certificate-renewed", "healthy", `${a.target}: ${a.detail ?? "renewed"}`, a.target);
      } else if (deferred || a.status === "failed") {
        retry = true;
        this.#event(
          "certificate-pending",
          a.status === "failed" ? "failed" : "degraded",
          `${a.target}: ${a.detail ?? a.status}`,
          a.target,
        );
      }
    }
    return retry;
  }

  // --- drift -----------------------------------------------------------------------------------------

  #onWatch(managed: string | null): void {
    if (this.#stopped) return;
    this.o.log.debug({ path: managed }, "managed file event");
    this.#clearTimer("debounce");
    this.#debounce = this.#clock.setTimeout(() => {
      this.#debounce = null;
      this.#work
        .run(() => this.#repairDrift("watch"))
        .catch((err: unknown) => this.o.log.error({ err: (err as Error).message }, "drift check failed"));
    }, this.tuning.debounceMs);
  }

  async #repairDrift(trigger: "watch" | "periodic"): Promise<void> {
    if (this.#stopped || !this.#desired || this.o.busy?.()) return;
    if (this.#clock.now() < this.#driftFailures.retryAt) return;
    const drift = await driftOf(this.#desired, this.o.root, this.o.accounts);
    if (drift.length === 0) return;
    if (!this.#allow(this.#driftRuns, this.tuning.driftRepairsPerHour)) {
      this.#limited(
        "files",
        `managed files keep changing (${drift.map((d) => d.path).join(", ")}): more than ${this.tuning.driftRepairsPerHour} restores in an hour; not restoring until the hour is over`,
      );
      return;
    }
    this.o.log.warn({ trigger, drift }, "managed files differ from the desired state; restoring");
    const out = await this.#enforce(new Map(drift.map((d) => [d.path, d.why])));
    const filesFailed = out.failed.some((f) => f === "enforce" || drift.some((d) => d.path === f));
    if (!filesFailed) {
      this.#driftFailures = { count: 0, retryAt: Number.NEGATIVE_INFINITY };
      return;
    }
    const count = this.#driftFailures.count + 1;
    const waitMs = this.tuning.intervalMs * 2 ** Math.min(count - 1, 6);
    this.#driftFailures = { count, retryAt: this.#clock.now() + waitMs };
    this.o.log.warn(
      { failures: count, retryInMs: waitMs },
      "restoring managed files failed; waiting before the next try",
    );
  }

  /** ApplyEngine.enforce with every file written and service (re)started reported. */
  async #enforce(why: ReadonlyMap<string, string>): Promise<EnforceOutcome> {
    const out: EnforceOutcome = { written: [], restarted: [], failed: [], actions: [] };
    let res: ApplyResult | null;
    try {
      res = await this.o.engine.enforce();
    } catch (err) {
      this.#event("repair-file", "failed", `cannot re-apply the desired state: ${(err as Error).message}`);
      out.failed.push("enforce");
      return out;
    }
    if (!res) return out;
    out.actions = res.actions;
    const now = this.#clock.now();
    for (const f of res.files) {
      if (f.status === "written") {
        out.written.push(f.path);
        this.#event(
          "repair-file",
          "degraded",
          `restored ${f.path} (${why.get(f.path) ?? "differed"})`,
          f.path,
        );
      } else if (f.status === "failed" || f.status === "refused") {
        out.failed.push(f.path);
        // A refused state names why in its refusals (a link or a FIFO where the file was, say).
        const why = f.detail ?? res.refusals.find((r) => r.item === `file ${f.path}`)?.reason ?? f.status;
        this.#event("repair-file", "failed", `cannot restore ${f.path}: ${why}`, f.path);
      }
    }
    const files = out.written.length > 0 ? ` after restoring ${out.written.join(", ")}` : "";
    for (const s of res.services) {
      const acted = s.steps.filter((x) => x === "started" || x === "restarted" || x === "reloaded");
      if (acted.length > 0) {
        // (The engine's service manager announced the start to the health monitor as it happened.)
        this.#startedAt.set(s.name, now);
        out.restarted.push(s.name);
        this.#event("repair-service", "degraded", `${acted.join(", ")} ${s.name}${files}`, s.name);
      }
      if (s.status === "failed") {
        out.failed.push(s.name);
        this.#event("repair-service", "failed", `${s.name}: ${s.detail ?? "failed"}${files}`, s.name);
      }
    }
    return out;
  }

  // --- remedies --------------------------------------------------------------------------------------

  async #runPlan(plan: RepairPlan): Promise<void> {
    const did: string[] = [];
    const restarted = new Set<string>();
    let budget = false;
    let ok = true;
    const take = () => {
      if (budget) return true;
      const runs = this.#remedyRuns.get(plan.id) ?? [];
      this.#remedyRuns.set(plan.id, runs);
      if (!this.#allow(runs, plan.maxPerHour)) {
        this.#limited(
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
        const waitMs = this.#grace(step.service);
        if (await this.#awaitCure(step)) {
          this.o.log.info(
            { remedy: plan.id, component: step.component },
            "recovered within its grace period",
          );
          return;
        }
        if (this.#stopped) return;
        did.push(`${step.component} did not recover within ${Math.round(waitMs / 1000)} s`);
        continue;
      }
      if (!take()) return;
      if (step.kind === "enforce") {
        const r = await this.#work.run(() => this.#enforce(new Map()));
        for (const s of r.restarted) restarted.add(s);
        did.push(r.written.length > 0 ? `reinstalled ${r.written.join(", ")}` : "files already as desired");
        if (r.failed.length > 0) ok = false;
      } else if (step.kind === "restart") {
        if (restarted.has(step.service)) continue;
        const r = await this.#work.run(() => this.#start(step.service, "restart"));
        restarted.add(step.service);
        did.push(r.ok ? `restarted ${step.service}` : `restart of ${step.service} failed: ${r.error}`);
        if (!r.ok) ok = false;
      }
    }
    this.#event(
      `remedy-${plan.id}`,
      ok ? "degraded" : "failed",
      `${plan.trigger.component} logged ${plan.trigger.signal}: ${did.join("; ")}`,
      plan.service,
    );
  }

  #awaitCure(step: Extract<RepairStep, { kind: "await-cure" }>): Promise<boolean> {
    return new Promise((resolve) => {
      let timer: unknown = null;
      const a: Await = {
        component: step.component,
        cures: new Set(step.cures),
        settle: (cured) => {
          if (!this.#awaits.delete(a)) return;
          if (timer !== null) this.#clock.clearTimeout(timer);
          resolve(cured);
        },
      };
      this.#awaits.add(a);
      timer = this.#clock.setTimeout(() => a.settle(false), this.#grace(step.service));
    });
  }

  // --- helpers ---------------------------------------------------------------------------------------

  #grace(service: string): number {
    if (this.tuning.graceMs !== null) return this.tuning.graceMs;
    const s = this.#desired?.services.find((x) => x.name === service);
    return (s?.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000;
  }

  #phase(name: string, rec: ServiceRecord, running: boolean): ServicePhase {
    return phaseOf(rec, running, this.#clock.now(), this.#grace(name), this.#startedAt.get(name) ?? null);
  }

  #notifyPhases(): void {
    let changed = false;
    for (const [name, rec] of this.#records) {
      const running = this.#running.get(name);
      if (running === undefined) continue;
      const ph = this.#phase(name, rec, running);
      if (this.#phases.get(name) !== ph) {
        this.#phases.set(name, ph);
        changed = true;
      }
    }
    if (changed) this.o.onChange?.();
  }

  #forget(name: string): void {
    this.#records.delete(name);
    this.#running.delete(name);
    this.#startedAt.delete(name);
    this.#phases.delete(name);
  }

  /** Sliding one-hour budget: true (and counted) while fewer than `perHour` runs happened in the last hour. */
  #allow(runs: number[], perHour: number): boolean {
    const now = this.#clock.now();
    while (runs.length > 0 && now - runs[0]! >= HOUR_MS) runs.shift();
    if (runs.length >= perHour) return false;
    runs.push(now);
    return true;
  }

  /** One "heal-limited" event per key and hour: a spent budget is reported, not repeated. */
  #limited(key: string, message: string): void {
    const now = this.#clock.now();
    const last = this.#limitedAt.get(key);
    if (last !== undefined && now - last < HOUR_MS) return;
    this.#limitedAt.set(key, now);
    this.#event("heal-limited", "failed", message, key);
  }

  #event(kind: string, label: HealthLabel, message: string, target?: string): void {
    const event: AgentEvent = {
      at: new Date(this.#clock.now()).toISOString(),
      kind,
      label,
      message: message.slice(0, 2000),
      ...(target ? { target: target.slice(0, 1024) } : {}),
    };
    const log = label === "failed" ? this.o.log.warn.bind(this.o.log) : this.o.log.info.bind(this.o.log);
    log({ kind, target, label }, message.slice(0, 500));
    this.o.onEvent?.(event);
  }

  #clearTimer(which: "timer" | "debounce" | "cert"): void {
    const t = which === "timer" ? this.#timer : which === "debounce" ? this.#debounce : this.#certTimer;
    if (t !== null) this.#clock.clearTimeout(t);
    if (which === "timer") this.#timer = null;
    else if (which === "debounce") this.#debounce = null;
    else this.#certTimer = null;
  }
}
