// The one owner of a service's life on the agent: every start, restart and reload goes through here,
// each followed by one `rcctl check`, because rcctl prints "(ok)" even when the process pattern never
// matched (rc_bg=YES waits daemon_timeout and still says ok; docs/openbsd-rc.md section 2). It keeps what
// it last saw of each service (running or not, its flags, when the agent last (re)started it) and its
// grace period, and tells its listeners as it happens: the health monitor begins a grace period on
// "starting" and probes on "running" and "stopped"; the healer reads the start times, grace periods and
// last observations from here, and its restarter looks again at a service the owner says "stopped"; so
// nobody has to pass rcctl's answers along by hand.
import { DEFAULT_GRACE_SECONDS } from "@vmmeet/shared";
import type { ServiceActionResult, ServiceManager, ServiceOutcome } from "./manager.js";

/** What a service action did, as the apply result and the healer's events name it. */
export type LifeStep = "started" | "restarted" | "reloaded";

export type LifeEvent =
  /** The agent is about to (re)start the service: its grace period begins, older log lines are the old process's. */
  | { kind: "starting"; service: string; at: number }
  /**
   * The check after a start, restart or reload found the process; or, with `step` null, a check found
   * running again a service last seen stopped (someone else started it: an admin's `rcctl restart`).
   */
  | { kind: "running"; service: string; at: number; step: LifeStep | null }
  /** The service was running as last seen, and a check (or the check after an action) finds no process. */
  | { kind: "stopped"; service: string; at: number };

export type LifeEventKind = LifeEvent["kind"];

export type LifeResult =
  | { ok: true; step: LifeStep; running: true }
  | {
      ok: false;
      /** The action that ran, when rcctl said ok but the check found no process; null when it failed. */
      step: LifeStep | null;
      running: false;
      outcome: ServiceOutcome;
      /** Why, for the apply result and the event log (rcctl's own output: service names only). */
      detail: string;
    };

/** Another program than rcctl makes a running daemon re-read its config (vmd: vmctl reload); null: rcctl. */
export type Reloader = (service: string) => Promise<ServiceActionResult> | null;

export interface ServiceLifeOptions {
  /**
   * Time source of its observations and start times: the VM's clock (the agent's --clock-offset), the one
   * the healer reads too; tests drive it by hand.
   */
  now?: () => number;
  /**
   * How long an observation answers "is it running?" (and "which flags?") without asking rcctl again: long
   * enough for the status snapshot and the probe right after a restart, short enough that a process that
   * dies is seen at the next health probe or heal pass.
   */
  freshMs?: number;
}

interface Seen<T> {
  value: T;
  at: number;
}

export const DEFAULT_FRESH_MS = 1000;

export class ServiceLife {
  readonly #now: () => number;
  readonly #freshMs: number;
  readonly #running = new Map<string, Seen<boolean>>();
  /** What the last check said (or false after an action rcctl failed), however old: see lastSeen. */
  readonly #last = new Map<string, boolean>();
  readonly #flags = new Map<string, Seen<string>>();
  readonly #startedAt = new Map<string, number>();
  readonly #graceMs = new Map<string, number>();
  readonly #listeners = new Map<LifeEventKind, Set<(e: LifeEvent) => void>>();
  /** While an apply runs: its "running" events, told when it ends (see hold). */
  #held: Extract<LifeEvent, { kind: "running" }>[] | null = null;
  /** While an apply runs: the services it asked rcctl about, whose answers count as of its end. */
  readonly #heldSeen = new Set<string>();

  constructor(
    readonly manager: ServiceManager,
    options: ServiceLifeOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
    this.#freshMs = options.freshMs ?? DEFAULT_FRESH_MS;
  }

  /** The owner of `services`: itself when it is one already (shared by the daemon and the health monitor). */
  static of(services: ServiceManager | ServiceLife, options?: ServiceLifeOptions): ServiceLife {
    return services instanceof ServiceLife ? services : new ServiceLife(services, options);
  }

  /** The desired state's services: their grace periods (ServiceEntry.graceSeconds). */
  configure(services: readonly { name: string; graceSeconds?: number }[]): void {
    this.#graceMs.clear();
    for (const s of services) this.#graceMs.set(s.name, (s.graceSeconds ?? DEFAULT_GRACE_SECONDS) * 1000);
  }

  /** Milliseconds after a (re)start during which the service's failures are expected. */
  graceMs(service: string): number {
    return this.#graceMs.get(service) ?? DEFAULT_GRACE_SECONDS * 1000;
  }

  /** When the agent last (re)started the service (through this owner), or undefined. */
  startedAt(service: string): number | undefined {
    return this.#startedAt.get(service);
  }

  /**
   * Whether the service is inside its grace period after the agent (re)started it, measured on this
   * owner's clock; `graceMs` overrides the desired state's (the healer's test tuning).
   */
  inGrace(service: string, graceMs = this.graceMs(service)): boolean {
    const at = this.#startedAt.get(service);
    return at !== undefined && this.#now() - at < graceMs;
  }

  /** Subscribes to one kind of event; returns the unsubscribe function. */
  on<K extends LifeEventKind>(kind: K, listener: (e: Extract<LifeEvent, { kind: K }>) => void): () => void {
    let set = this.#listeners.get(kind);
    if (!set) {
      set = new Set();
      this.#listeners.set(kind, set);
    }
    const l = listener as (e: LifeEvent) => void;
    set.add(l);
    return () => set.delete(l);
  }

  /**
   * Runs `job` (one apply) with its "running" events held until it ends, then told once per service: a
   * probe made between two services' restarts would see a component whose dependency is still being
   * restarted, and a component's probe after its own start would come before the apply's setup steps
   * (prosody's accounts) are done. "starting" is told at once: the grace period begins with the start.
   * What the apply saw counts as seen at its end: an apply of several services with its setup steps takes
   * longer than an observation stays fresh, and the status snapshot sent right after it takes these
   * answers instead of asking rcctl again, as it took the apply's own result before.
   */
  async hold<T>(job: () => Promise<T>): Promise<T> {
    if (this.#held) return job();
    this.#held = [];
    try {
      return await job();
    } finally {
      const held = this.#held;
      this.#held = null;
      const at = this.#now();
      for (const service of this.#heldSeen) {
        const r = this.#running.get(service);
        if (r) r.at = at;
        const f = this.#flags.get(service);
        if (f) f.at = at;
      }
      this.#heldSeen.clear();
      const last = new Map(held.map((e) => [e.service, e]));
      for (const e of last.values()) this.#emit(e);
    }
  }

  // --- is it running? --------------------------------------------------------------------------------

  /** `rcctl check` now; the answer is kept. */
  async check(service: string): Promise<boolean> {
    const running = await this.manager.check(service);
    this.#see(service, running);
    return running;
  }

  /** Whether the service runs: the last observation while it is fresh, else `rcctl check`. */
  running(service: string): Promise<boolean> {
    const seen = this.cached(service);
    return seen !== undefined ? Promise.resolve(seen) : this.check(service);
  }

  /** The fresh observation of whether the service runs, or undefined when there is none. */
  cached(service: string): boolean | undefined {
    const s = this.#running.get(service);
    return s !== undefined && this.#now() - s.at < this.#freshMs ? s.value : undefined;
  }

  /**
   * Whether the service ran when last seen, however long ago (undefined: never asked): what the healer
   * reports between its checks. False after a start or restart rcctl failed.
   */
  lastSeen(service: string): boolean | undefined {
    return this.#last.get(service);
  }

  // --- rc.conf.local ---------------------------------------------------------------------------------

  /** `rcctl get NAME flags` now ("NO" when disabled); the answer is kept. */
  async getFlags(service: string): Promise<string> {
    const flags = await this.manager.getFlags(service);
    this.#flags.set(service, { value: flags, at: this.#now() });
    if (this.#held) this.#heldSeen.add(service);
    return flags;
  }

  /** The effective flags: the last answer while it is fresh, else `rcctl get NAME flags`. */
  flags(service: string): Promise<string> {
    const s = this.#flags.get(service);
    return s !== undefined && this.#now() - s.at < this.#freshMs
      ? Promise.resolve(s.value)
      : this.getFlags(service);
  }

  isEnabled(service: string): Promise<boolean> {
    return this.manager.isEnabled(service);
  }

  async enable(service: string): Promise<void> {
    // What `get flags` prints changes ("NO" before).
    this.#flags.delete(service);
    await this.manager.enable(service);
  }

  async setFlags(service: string, flags: string): Promise<void> {
    // What `get flags` prints now is rcctl's business (quoting): asked again when needed.
    this.#flags.delete(service);
    await this.manager.setFlags(service, flags);
  }

  // --- actions ---------------------------------------------------------------------------------------

  /** `rcctl start`, then `rcctl check`. */
  start(service: string): Promise<LifeResult> {
    return this.#startAndCheck(service, "start");
  }

  /** `rcctl restart` (a stopped service is started), then `rcctl check`. */
  restart(service: string): Promise<LifeResult> {
    return this.#startAndCheck(service, "restart");
  }

  /**
   * Makes the running daemon re-read its config: `reloader` when it has its own tool (vmctl reload), else
   * `rcctl reload`; a script with rc_reload=NO (jicofo, jvb) is restarted instead, the only way to make them
   * re-read their config. Then `rcctl check`.
   */
  async reload(service: string, reloader?: Reloader): Promise<LifeResult> {
    const r = (await reloader?.(service)) ?? (await this.manager.reload(service));
    if (r.outcome === "unsupported") return this.restart(service);
    return this.#after(service, "reload", "reloaded", r);
  }

  async #startAndCheck(service: string, verb: "start" | "restart"): Promise<LifeResult> {
    // Announced before rcctl runs: the health monitor discards what the old process logged, and a JVM may
    // log its first lines before rcctl returns.
    const at = this.#now();
    this.#startedAt.set(service, at);
    this.#running.delete(service);
    this.#emit({ kind: "starting", service, at });
    const r = verb === "start" ? await this.manager.start(service) : await this.manager.restart(service);
    return this.#after(service, verb, verb === "start" ? "started" : "restarted", r);
  }

  async #after(
    service: string,
    verb: "start" | "restart" | "reload",
    step: LifeStep,
    r: ServiceActionResult,
  ): Promise<LifeResult> {
    if (!r.ok) {
      // After a failed action nothing is known of the process: the next question asks rcctl.
      this.#running.delete(service);
      if (verb !== "reload") this.#last.set(service, false);
      return {
        ok: false,
        step: null,
        running: false,
        outcome: r.outcome,
        detail: `rcctl ${verb}: ${r.outcome} ${r.output.trim()}`.trim(),
      };
    }
    if (!(await this.check(service))) {
      return {
        ok: false,
        step,
        running: false,
        outcome: r.outcome,
        detail: `rcctl ${verb} said ${r.outcome}, but rcctl check finds no process (it exited, or its pexp never matches)`,
      };
    }
    this.#tellRunning(service, this.#now(), step);
    return { ok: true, step, running: true };
  }

  /** Tells "running" (held while an apply runs: see hold). */
  #tellRunning(service: string, at: number, step: LifeStep | null): void {
    const e = { kind: "running", service, at, step } as const;
    if (this.#held) this.#held.push(e);
    else this.#emit(e);
  }

  #see(service: string, running: boolean): void {
    const before = this.#running.get(service)?.value;
    const at = this.#now();
    this.#running.set(service, { value: running, at });
    this.#last.set(service, running);
    if (this.#held) this.#heldSeen.add(service);
    if (before === true && !running) this.#emit({ kind: "stopped", service, at });
    else if (before === false && running) this.#tellRunning(service, at, null);
  }

  #emit(e: LifeEvent): void {
    for (const l of [...(this.#listeners.get(e.kind) ?? [])]) l(e);
  }
}
