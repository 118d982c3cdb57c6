// Per-component health: one state machine per component (prosody, jicofo, jvb, nginx) that takes what the
// agent observes about it - `rcctl check`, the HTTP health endpoint and TCP ports of the desired state's
// probe (probes.ts runs them), and the signals the classifier (classify.ts) finds in its logs - and reports
// the ComponentHealth the agent sends. ComponentTracker keeps the latest observation of each kind, the time
// the state last changed and, for jicofo, the bridges currently in the brewery; assess.ts judges them.
import { DEFAULT_GRACE_SECONDS, type HealthSignal, type LogComponent } from "@vmmeet/shared";
import {
  type Assessment,
  assess,
  type ComponentConfig,
  type ComponentHealthReport,
  type ComponentSnapshot,
  type ComponentState,
  type ProcessBounds,
} from "./assess.js";
import type { BreweryState } from "./offsetStore.js";
import { BREWERY_SIGNAL, NO_BRIDGE_EXPLAIN, NO_BRIDGE_FIX } from "./problems.js";

/** Something the agent observed about a component, with the agent's clock (ms since the epoch). */
export type HealthObservation =
  /** The agent (re)started the service: the grace period begins and older history no longer counts. */
  | { kind: "started"; at: number }
  /** `rcctl check SERVICE`. */
  | { kind: "check"; at: number; running: boolean }
  /** GET of the probe's loopback health URL: ok is a 2xx answer; no status means no answer at all. */
  | { kind: "http"; at: number; url: string; ok: boolean; status?: number; error?: string }
  /** TCP connect to a probe port on loopback. */
  | { kind: "port"; at: number; port: number; ok: boolean; error?: string }
  /** A classified log record (HealthSignal.at is when the agent read it). */
  | { kind: "signal"; signal: HealthSignal };

export interface TrackerClock {
  now(): number;
}

const MAX_SIGNALS = 200;

/**
 * The signals of a component's last line of a process that stops cleanly and of the first line of one that
 * starts. The agent announces a (re)start before rcctl runs, so the old process's shutdown lines come after
 * the announcement: up to its last line they are its own, and do not count for the new process.
 *
 * prosody (bjc/prosody): startup.shutdown() logs "Shutdown complete" once the server-stopped event has run,
 * after every session was closed (util/startup.lua: 0.12.5 line 643, 13.0.1 line 884; 0.11.14: the prosody
 * script, line 91); startup.log_greeting() logs "Hello and welcome to Prosody version" (util/startup.lua:
 * 0.11.14 line 441, 0.12.5 line 470, 13.0.1 line 535).
 */
export const PROCESS_BOUNDS: Readonly<Partial<Record<LogComponent, ProcessBounds>>> = {
  prosody: { last: "prosody-stopped", first: "prosody-started" },
};

/**
 * The state machine of one component: feed it observations (observe), ask for its report (report). Keeps
 * only the latest observation of each kind; a "started" observation drops everything older.
 */
export class ComponentTracker {
  readonly config: ComponentConfig;
  private readonly clock: TrackerClock;
  private startedAt: number | undefined;
  private check: ComponentSnapshot["check"];
  private http: ComponentSnapshot["http"];
  private readonly ports = new Map<number, { at: number; ok: boolean; error?: string }>();
  private readonly signals = new Map<string, { at: number; signal: HealthSignal }>();
  /** Bridge MUC JID -> when jicofo last logged it joining the brewery. */
  private readonly bridgeSet = new Map<string, number>();
  /** When the bridge set last changed (for the synthetic brewery signal). */
  private bridgesAt: number | undefined;
  /** Bridges that left the brewery and have not joined again (MUC JIDs). */
  private readonly departed = new Set<string>();
  private expected: ReadonlySet<string> | undefined;
  private state: ComponentState = "unknown";
  private since: number;
  /**
   * After a (re)start of a component with PROCESS_BOUNDS: the lines read since, until it is known whose they
   * are. The old process's last line drops them; the new process's first line, or the end of the grace
   * period, makes them count (a process killed without its last line, or a new one's early warnings).
   */
  private held: HealthSignal[] | null = null;

  constructor(config: ComponentConfig, clock: TrackerClock = { now: () => Date.now() }) {
    this.config = config;
    this.clock = clock;
    this.since = clock.now();
  }

  get component(): LogComponent {
    return this.config.component;
  }

  /** jicofo: the bridges currently in the brewery (full MUC JIDs, e.g. jvbbrewery@internal.auth.x/jvb). */
  bridges(): string[] {
    return [...this.bridgeSet.keys()].sort();
  }

  /** jicofo: when each bridge last joined (ms). A push's gate needs a bridge the push restarted to rejoin. */
  bridgeTimes(): ReadonlyMap<string, number> {
    return this.bridgeSet;
  }

  /** jicofo: the MUC nicknames of the spec's bridges (the desired state's health.bridges). */
  expectBridges(nicknames: readonly string[] | undefined): void {
    this.expected = nicknames === undefined ? undefined : new Set(nicknames.map((n) => n.toLowerCase()));
  }

  /** jicofo: the brewery as it stands, to be kept with the log offsets (undefined for other components). */
  brewery(): BreweryState | undefined {
    if (this.config.component !== "jicofo") return undefined;
    return {
      bridges: Object.fromEntries(this.bridgeSet),
      ...(this.bridgesAt === undefined ? {} : { at: this.bridgesAt }),
    };
  }

  /**
   * jicofo: takes back the brewery kept with the log offsets, before any line after them is read (a new
   * agent process, or trackers rebuilt for a new desired state): the lines that built it are behind the
   * offsets and are not read again.
   */
  restoreBrewery(state: BreweryState): void {
    if (this.config.component !== "jicofo") return;
    this.bridgeSet.clear();
    for (const [jid, at] of Object.entries(state.bridges)) this.bridgeSet.set(jid, at);
    this.bridgesAt = state.at;
  }

  observe(observation: HealthObservation): void {
    switch (observation.kind) {
      case "started":
        // A new process: its predecessor's lines, probes and brewery no longer say anything.
        this.startedAt = observation.at;
        this.held = this.config.bounds ? [] : null;
        this.check = undefined;
        this.http = undefined;
        this.ports.clear();
        this.signals.clear();
        this.clearBridges(observation.at);
        this.departed.clear();
        return;
      case "check":
        // A probe asked before the (re)start is about the old process (probes.ts stamps when it asked).
        if (this.startedAt !== undefined && observation.at < this.startedAt) return;
        if (!observation.running) this.clearBridges(observation.at);
        this.check = { at: observation.at, running: observation.running };
        return;
      case "http":
        if (this.startedAt !== undefined && observation.at < this.startedAt) return;
        this.http = {
          at: observation.at,
          url: observation.url,
          ok: observation.ok,
          ...(observation.status === undefined ? {} : { status: observation.status }),
          ...(observation.error === undefined ? {} : { error: observation.error }),
        };
        return;
      case "port":
        if (this.startedAt !== undefined && observation.at < this.startedAt) return;
        this.ports.set(observation.port, {
          at: observation.at,
          ok: observation.ok,
          ...(observation.error === undefined ? {} : { error: observation.error }),
        });
        return;
      case "signal":
        this.onSignal(observation.signal);
        return;
    }
  }

  private clearBridges(at: number): void {
    if (this.bridgeSet.size > 0) this.bridgesAt = at;
    this.bridgeSet.clear();
  }

  private onSignal(signal: HealthSignal): void {
    if (signal.component !== this.config.component) return;
    const at = Date.parse(signal.at);
    if (this.startedAt !== undefined && at < this.startedAt) return;
    const bounds = this.config.bounds;
    if (this.held !== null && bounds) {
      if (signal.signal === bounds.last) {
        // The old process's last line: everything it said since the announcement was its own.
        this.held = null;
        return;
      }
      if (signal.signal !== bounds.first) {
        if (this.held.length < MAX_SIGNALS) this.held.push(signal);
        return;
      }
      this.release();
    }
    this.keep(signal, at);
  }

  /** The held lines count after all (no last line of the old process came before the new one's first). */
  private release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const s of held) this.keep(s, Date.parse(s.at));
  }

  private keep(signal: HealthSignal, at: number): void {
    this.signals.set(signal.signal, { at, signal });
    // rules.ts puts the bridge's MUC JID (ROOM/NICK) into the detail of both brewery signals.
    if (this.config.component === "jicofo" && signal.detail !== undefined) {
      const jid = signal.detail.toLowerCase();
      if (signal.signal === "brewery-instance-added") {
        // A bridge that restarts quickly may be added again without a removal jicofo logged: keep the latest.
        if (!this.bridgeSet.has(jid)) this.bridgesAt = at;
        this.bridgeSet.set(jid, at);
        this.departed.delete(jid);
      } else if (signal.signal === "brewery-instance-removed") {
        if (this.bridgeSet.delete(jid)) this.bridgesAt = at;
        this.departed.add(jid);
      }
    }
    if (this.signals.size > MAX_SIGNALS) {
      const oldest = [...this.signals.entries()].sort((a, b) => a[1].at - b[1].at)[0];
      if (oldest) this.signals.delete(oldest[0]);
    }
  }

  snapshot(): ComponentSnapshot {
    return {
      ...(this.startedAt === undefined ? {} : { startedAt: this.startedAt }),
      ...(this.check === undefined ? {} : { check: this.check }),
      ...(this.http === undefined ? {} : { http: this.http }),
      ports: new Map(this.ports),
      signals: new Map(this.signals),
      ...(this.held === null
        ? {}
        : { held: this.held.filter((x) => x.label === "degraded" || x.label === "failed").length }),
      ...(this.config.component === "jicofo"
        ? {
            bridges: new Set(this.bridgeSet.keys()),
            departed: new Set(this.departed),
            ...(this.expected === undefined ? {} : { expectedBridges: this.expected }),
          }
        : {}),
    };
  }

  /** The state now (updates `since` when it changed). */
  assess(): Assessment {
    const now = this.clock.now();
    if (
      this.held !== null &&
      this.startedAt !== undefined &&
      now - this.startedAt >= this.config.graceSeconds * 1000
    )
      this.release();
    const a = assess(this.config, this.snapshot(), now);
    if (a.state !== this.state) {
      this.state = a.state;
      this.since = now;
    }
    return a;
  }

  /** The ComponentHealth to report. */
  report(): ComponentHealthReport {
    const a = this.assess();
    const signals = [...this.signals.values()].sort((x, y) => y.at - x.at).map((e) => e.signal);
    if (this.config.component === "jicofo") {
      const b = this.brewerySignal();
      if (b) signals.unshift(b);
    }
    return {
      component: this.config.component,
      state: a.state,
      explain: a.explain.slice(0, 2000),
      ...(a.fix === undefined ? {} : { fix: a.fix.slice(0, 2000) }),
      since: new Date(this.since).toISOString(),
      signals: signals.slice(0, MAX_SIGNALS),
    };
  }

  private brewerySignal(): HealthSignal | undefined {
    const at = this.bridgesAt ?? this.startedAt;
    if (at === undefined) return undefined;
    const list = this.bridges();
    const base = { component: "jicofo" as const, signal: BREWERY_SIGNAL, at: new Date(at).toISOString() };
    if (list.length === 0)
      return { ...base, label: "failed", explain: `${NO_BRIDGE_EXPLAIN}.`, fix: NO_BRIDGE_FIX };
    const detail = `${list.length}: ${list.join(", ")}`;
    return {
      ...base,
      label: "healthy",
      explain: `Bridges in jicofo's brewery (from its "Added/Removed brewery instance" lines).`,
      detail: detail.length > 256 ? `${detail.slice(0, 255)}…` : detail,
    };
  }
}

/** The trackers of a node's components, from its desired state (health probes and service grace). */
export function trackersFor(
  desired: {
    health: {
      logs: readonly { component: LogComponent }[];
      probes: readonly {
        component: LogComponent;
        service: string;
        http?: string;
        ports: readonly number[];
      }[];
    };
    services: readonly { name: string; graceSeconds: number }[];
  },
  options: { clock?: TrackerClock; windowsMs?: Readonly<Record<string, number>> } = {},
): Map<LogComponent, ComponentTracker> {
  const out = new Map<LogComponent, ComponentTracker>();
  const components = new Set<LogComponent>([
    ...desired.health.probes.map((p) => p.component),
    ...desired.health.logs.map((l) => l.component),
  ]);
  for (const component of components) {
    const probe = desired.health.probes.find((p) => p.component === component);
    const service = probe?.service ?? component;
    const grace = desired.services.find((s) => s.name === service)?.graceSeconds ?? DEFAULT_GRACE_SECONDS;
    out.set(
      component,
      new ComponentTracker(
        {
          component,
          service,
          graceSeconds: grace,
          ...(probe?.http === undefined ? {} : { http: probe.http }),
          ports: probe?.ports ?? [],
          ...(options.windowsMs === undefined ? {} : { windowsMs: options.windowsMs }),
          ...(PROCESS_BOUNDS[component] === undefined ? {} : { bounds: PROCESS_BOUNDS[component] }),
        },
        options.clock,
      ),
    );
  }
  return out;
}
