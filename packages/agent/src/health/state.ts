// Per-component health: one state machine per component (prosody, jicofo, jvb, nginx) that combines what
// the agent observes about it - `rcctl check`, the HTTP health endpoint and TCP ports of the desired
// state's probe (probes.ts runs them), and the signals the classifier (classify.ts) finds in its logs -
// into the ComponentHealth the agent reports:
//
//   unknown -> starting (inside the service's grace period after a (re)start: problems do not count yet)
//           -> healthy | degraded | failed
//
// The core, assess(), is pure: a snapshot of observations with their times and a `now` in, a state with an
// explanation and a fix out. ComponentTracker keeps the snapshot, the time the state last changed and, for
// jicofo, the bridges currently in the brewery.
import {
  type ComponentHealth,
  DEFAULT_GRACE_SECONDS,
  type HealthLabel,
  type HealthSignal,
  type LogComponent,
} from "@vmmeet/shared";
import type { BreweryState } from "./offsetStore.js";

/** The ComponentHealth object of the protocol (packages/shared/src/protocol/common.ts). */
export type ComponentHealthReport = ReturnType<(typeof ComponentHealth)["parse"]>;
export type ComponentState = ComponentHealthReport["state"];

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

/** How long a failed or degraded signal counts after it was seen (default for every signal). */
export const DEFAULT_SIGNAL_WINDOW_MS = 10 * 60_000;
/**
 * Shorter windows. nginx logs an upstream error per proxied request and never logs a success to cure it;
 * browsers poll BOSH continuously, so an upstream that is still down is logged again within seconds.
 */
export const DEFAULT_WINDOWS_MS: Readonly<Record<string, number>> = Object.fromEntries(
  ["bosh", "websocket", "colibri-ws"].flatMap((p) =>
    ["upstream-connect-failed", "upstream-timeout", "upstream-error", "http-5xx"].map((s) => [
      `${p}-${s}`,
      60_000,
    ]),
  ),
);
/** Probe results older than this are ignored (the prober is expected to run every few seconds). */
export const DEFAULT_PROBE_STALE_MS = 5 * 60_000;

/**
 * Which later healthy signals show that a problem is over, per component. A problem not listed here ends
 * only when its window runs out or the service restarts. Names are the classifier's (rules.ts); a test
 * checks they exist there.
 */
const XMPP_CLIENT_PROBLEMS = [
  "truststore-rejected",
  "xmpp-auth-failed",
  "component-auth-failed",
  "xmpp-connection-refused",
  "xmpp-dns-unknown-host",
  "xmpp-domain-unknown",
  "xmpp-not-connected",
  "xmpp-connect-failed",
  // The connection lost and retried while prosody restarts (catalogRules.ts: "heals on reconnect").
  "xmpp-connection-lost",
  "xmpp-reconnecting",
  "xmpp-reconnect-failed",
];
const JICOFO_IN_MUC = ["brewery-room-joined", "brewery-instance-added", "bridge-added"];
const JICOFO_HAS_BRIDGE = ["brewery-instance-added", "bridge-added"];
const PROSODY_LOGIN = ["c2s-authenticated-focus", "c2s-authenticated-jvb"];

function table(entries: [readonly string[], readonly string[]][]): ReadonlyMap<string, readonly string[]> {
  const m = new Map<string, readonly string[]>();
  for (const [problems, cures] of entries) for (const p of problems) m.set(p, cures);
  return m;
}

export const RESOLVED_BY: Readonly<Record<LogComponent, ReadonlyMap<string, readonly string[]>>> = {
  jicofo: table([
    [XMPP_CLIENT_PROBLEMS, JICOFO_IN_MUC],
    [["brewery-join-failed"], JICOFO_IN_MUC],
    [
      [
        "bridge-health-failed",
        "jicofo-health-failed",
        "no-operational-bridges",
        "bridge-selection-failed",
        "no-bridge-available",
        "brewery-instance-removed",
        "bridge-removed",
        "colibri-participant-missing",
      ],
      JICOFO_HAS_BRIDGE,
    ],
  ]),
  jvb: table([
    [[...XMPP_CLIENT_PROBLEMS, "brewery-muc-join-failed"], ["brewery-muc-joined"]],
    [["health-check-failed"], ["health-check-ok"]],
    [["port-bind-retry"], ["udp-harvester-bound"]],
  ]),
  // prosody cannot tell which client failed: any later login of focus or jvb counts (a client that keeps
  // failing logs its failure again at its next attempt).
  prosody: table([
    [["truststore-rejected", "c2s-tls-handshake-failed", "c2s-auth-failed-disconnect"], PROSODY_LOGIN],
    [["component-auth-failed", "component-not-connected"], ["component-authenticated"]],
  ]),
  nginx: table([]),
};

/** The synthetic signal that carries jicofo's brewery (detail: "N: jid, jid"); not a log rule. */
export const BREWERY_SIGNAL = "brewery-bridges";

export const NO_BRIDGE_EXPLAIN = "jicofo has no bridge in the brewery";
export const NO_BRIDGE_FIX =
  "Check that jvb runs (rcctl check jvb on the jvb VM) and logs in as jvb@auth.DOMAIN, that jvb.conf's " +
  "muc_jids equals jicofo's brewery-jid (JvbBrewery@internal.auth.DOMAIN) and that prosody has the " +
  'Component "internal.auth.DOMAIN" "muc"; a bridge counts once jicofo logs "Added brewery instance" ' +
  "(paper, section XVII).";

export interface ComponentConfig {
  component: LogComponent;
  /** The rc.d service that runs it. */
  service: string;
  /** ServiceEntry.graceSeconds. */
  graceSeconds: number;
  /** The probe's health URL, if it has one. */
  http?: string;
  /** The probe's TCP ports. */
  ports?: readonly number[];
  /** Per-signal windows overriding DEFAULT_WINDOWS_MS and DEFAULT_SIGNAL_WINDOW_MS. */
  windowsMs?: Readonly<Record<string, number>>;
  defaultWindowMs?: number;
  probeStaleMs?: number;
}

/** What assess() looks at: the latest observation of each kind since the last (re)start. */
export interface ComponentSnapshot {
  startedAt?: number;
  check?: { at: number; running: boolean };
  http?: { at: number; url: string; ok: boolean; status?: number; error?: string };
  ports: ReadonlyMap<number, { at: number; ok: boolean; error?: string }>;
  /** Latest signal of each name, with its time in ms. */
  signals: ReadonlyMap<string, { at: number; signal: HealthSignal }>;
  /** jicofo: bridges in the brewery (full MUC JIDs); undefined for other components. */
  bridges?: ReadonlySet<string>;
  /** jicofo: bridges that left the brewery and did not join again since (full MUC JIDs). */
  departed?: ReadonlySet<string>;
  /**
   * jicofo: the MUC nicknames of the bridges of the spec (the desired state's health.bridges); undefined
   * when the desired state does not say.
   */
  expectedBridges?: ReadonlySet<string>;
}

/** jicofo's signals of a bridge that left its brewery (rules.ts). */
const BRIDGE_LEFT: ReadonlySet<string> = new Set(["brewery-instance-removed", "bridge-removed"]);

/** The MUC nickname of a bridge's occupant JID (ROOM@SERVICE/NICK), lower case. */
const bridgeNick = (jid: string) => jid.slice(jid.indexOf("/") + 1).toLowerCase();

/**
 * With the spec's bridges known, a bridge-left signal is a problem exactly while a bridge of the spec is
 * out of the brewery (another bridge joining does not make up for it). A bridge the spec took out was
 * expected to leave (jicofo logs its removal when its VM goes away): no problem. The signals' details
 * cannot tell it alone (jicofo's "Lost a bridge" line carries no JID the rules take). Undefined: the spec's
 * bridges are not known, RESOLVED_BY decides.
 */
function specBridgeOut(snap: ComponentSnapshot): boolean | undefined {
  const expected = snap.expectedBridges;
  if (expected === undefined) return undefined;
  return [...(snap.departed ?? [])].some((jid) => expected.has(bridgeNick(jid)));
}

export interface Assessment {
  state: ComponentState;
  explain: string;
  fix?: string;
}

const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

function activeProblems(cfg: ComponentConfig, snap: ComponentSnapshot, now: number, label: HealthLabel) {
  const cures = RESOLVED_BY[cfg.component];
  const out: { at: number; signal: HealthSignal }[] = [];
  for (const [name, e] of snap.signals) {
    if (e.signal.label !== label || name === BREWERY_SIGNAL) continue;
    const window =
      cfg.windowsMs?.[name] ?? DEFAULT_WINDOWS_MS[name] ?? cfg.defaultWindowMs ?? DEFAULT_SIGNAL_WINDOW_MS;
    if (now - e.at >= window) continue;
    const specOut = BRIDGE_LEFT.has(name) ? specBridgeOut(snap) : undefined;
    if (specOut === false) continue;
    const cured =
      specOut === undefined &&
      (cures.get(name) ?? []).some((c) => {
        const later = snap.signals.get(c);
        return later !== undefined && later.at > e.at;
      });
    if (!cured) out.push(e);
  }
  return out.sort((a, b) => b.at - a.at);
}

/**
 * The verdict `state` from the newest of `problems` (activeProblems sorts newest first), saying how many
 * others there are; undefined when there are none.
 */
function newestProblem(
  state: "failed" | "degraded",
  problems: readonly { signal: HealthSignal }[],
): Assessment | undefined {
  const first = problems[0];
  if (!first) return undefined;
  const others = problems.length - 1;
  const explain = first.signal.explain;
  return {
    state,
    explain: others > 0 ? `${explain} (and ${others} other problem${others > 1 ? "s" : ""})` : explain,
    ...(first.signal.fix === undefined ? {} : { fix: first.signal.fix }),
  };
}

/** The state before the grace period is applied. */
function judge(cfg: ComponentConfig, snap: ComponentSnapshot, now: number): Assessment {
  const stale = cfg.probeStaleMs ?? DEFAULT_PROBE_STALE_MS;
  const fresh = <T extends { at: number }>(o: T | undefined): T | undefined =>
    o !== undefined && now - o.at < stale ? o : undefined;
  const svc = cfg.service;
  const check = fresh(snap.check);
  if (check && !check.running) {
    return {
      state: "failed",
      explain: `${svc} is not running (rcctl check ${svc} fails)`,
      fix: `rcctl start ${svc}; if it stops again, read why in its log (/var/log/daemon, or the component's own log).`,
    };
  }
  for (const port of cfg.ports ?? []) {
    const p = fresh(snap.ports.get(port));
    if (p && !p.ok) {
      return {
        state: "failed",
        explain: `${svc} does not accept connections on 127.0.0.1:${port}${p.error ? ` (${p.error})` : ""}`,
        fix: `Check ${svc}'s log for a bind or startup error (fstat | grep :${port} shows who holds the port), then rcctl restart ${svc}.`,
      };
    }
  }
  const http = cfg.http === undefined ? undefined : fresh(snap.http);
  if (http && !http.ok && http.status === undefined) {
    return {
      state: "failed",
      explain: `${svc}'s health endpoint ${http.url} does not answer${http.error ? ` (${http.error})` : ""}`,
      fix: `Check that ${svc} finished starting (the JVM is slow: be patient) and its log; rcctl restart ${svc}.`,
    };
  }
  const failed = newestProblem("failed", activeProblems(cfg, snap, now, "failed"));
  if (failed) return failed;
  const bridges = snap.bridges;
  if (cfg.component === "jicofo" && bridges !== undefined && bridges.size === 0 && !(http?.ok ?? false)) {
    return { state: "failed", explain: NO_BRIDGE_EXPLAIN, fix: NO_BRIDGE_FIX };
  }
  if (http && !http.ok) {
    return {
      state: "failed",
      explain: `${svc}'s health endpoint ${http.url} answers ${http.status}`,
      fix: `Read ${svc}'s log around its health check failure for the cause.`,
    };
  }
  const degraded = newestProblem("degraded", activeProblems(cfg, snap, now, "degraded"));
  if (degraded) return degraded;
  const proofs: string[] = [];
  if (check?.running) proofs.push(`${svc} is running`);
  const openPorts = (cfg.ports ?? []).filter((p) => fresh(snap.ports.get(p))?.ok);
  if (openPorts.length > 0) proofs.push(`accepts connections on ${openPorts.join(", ")}`);
  if (http?.ok) proofs.push(`${http.url} answers ${http.status ?? "2xx"}`);
  if (cfg.component === "jicofo" && bridges !== undefined) {
    proofs.push(
      bridges.size > 0
        ? `${bridges.size} bridge${bridges.size > 1 ? "s" : ""} in the brewery`
        : "its health check passes, so it has a bridge",
    );
  }
  const healthySignals = [...snap.signals.values()].filter((e) => e.signal.label === "healthy");
  if (proofs.length === 0 && healthySignals.length === 0) {
    return { state: "unknown", explain: "no check, probe result or log line seen yet" };
  }
  if (proofs.length === 0) {
    const latest = healthySignals.sort((a, b) => b.at - a.at)[0] as { signal: HealthSignal };
    proofs.push(latest.signal.explain.replace(/\.$/, ""));
  }
  return { state: "healthy", explain: proofs.join("; ") };
}

/**
 * Pure: the component's state at `now`. Inside the grace period after a (re)start only "healthy" and
 * "not running" are final; every other finding is reported as "starting" (the JVMs need a minute or
 * more: the paper's "be really patient").
 */
export function assess(cfg: ComponentConfig, snap: ComponentSnapshot, now: number): Assessment {
  const verdict = judge(cfg, snap, now);
  const started = snap.startedAt;
  const graceMs = cfg.graceSeconds * 1000;
  if (started === undefined || now - started >= graceMs) return verdict;
  if (verdict.state === "healthy") return verdict;
  if (
    verdict.state === "failed" &&
    snap.check !== undefined &&
    !snap.check.running &&
    snap.check.at >= started
  ) {
    // rc.subr's start returns once the process exists: a process gone after that has exited, it is not slow.
    return verdict;
  }
  const base = `${cfg.service} (re)started ${secs(now - started)} ago; problems do not count during its ${cfg.graceSeconds}s grace period`;
  return {
    state: "starting",
    explain: verdict.state === "unknown" ? base : `${base} (so far: ${verdict.explain})`,
    ...(verdict.fix === undefined ? {} : { fix: verdict.fix }),
  };
}

export interface TrackerClock {
  now(): number;
}

const MAX_SIGNALS = 200;

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

  observe(o: HealthObservation): void {
    switch (o.kind) {
      case "started":
        // A new process: its predecessor's lines, probes and brewery no longer say anything.
        this.startedAt = o.at;
        this.check = undefined;
        this.http = undefined;
        this.ports.clear();
        this.signals.clear();
        this.clearBridges(o.at);
        this.departed.clear();
        return;
      case "check":
        // A probe asked before the (re)start is about the old process (probes.ts stamps when it asked).
        if (this.startedAt !== undefined && o.at < this.startedAt) return;
        if (!o.running) this.clearBridges(o.at);
        this.check = { at: o.at, running: o.running };
        return;
      case "http":
        if (this.startedAt !== undefined && o.at < this.startedAt) return;
        this.http = {
          at: o.at,
          url: o.url,
          ok: o.ok,
          ...(o.status === undefined ? {} : { status: o.status }),
          ...(o.error === undefined ? {} : { error: o.error }),
        };
        return;
      case "port":
        if (this.startedAt !== undefined && o.at < this.startedAt) return;
        this.ports.set(o.port, { at: o.at, ok: o.ok, ...(o.error === undefined ? {} : { error: o.error }) });
        return;
      case "signal":
        this.onSignal(o.signal);
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
  opts: { clock?: TrackerClock; windowsMs?: Readonly<Record<string, number>> } = {},
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
          ...(opts.windowsMs === undefined ? {} : { windowsMs: opts.windowsMs }),
        },
        opts.clock,
      ),
    );
  }
  return out;
}
