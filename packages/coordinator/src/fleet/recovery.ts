// Who depends on whom in the deployment, and which of a dependent's problems a reconnect heals. Pure.
//
// jicofo and every jvb log in to prosody (XMPP c2s), nginx proxies BOSH (and the XMPP websocket) to prosody,
// and jicofo finds the bridges in its brewery MUC. When a push restarts prosody or a jvb, those dependents
// drop and come back by themselves (smack's reconnection, the bridges' MUC rejoin); the rollout gives them
// their recovery window (spec operations.recoverySeconds) instead of failing on the dip.
import type { LogComponent, NodeStatus, Spec } from "@vmmeet/shared";

export type DependentComponent = "jicofo" | "jvb" | "nginx";

export interface Dependent {
  node: string;
  component: DependentComponent;
  /** What it uses the dependency for, for the plan and the live lines. */
  via: string;
}

/** A dependent that this push expects to drop and come back. */
export interface Recovery {
  component: DependentComponent;
  /** When the dependency's apply (that restarted it) was sent, ms on the coordinator's clock. */
  since: number;
  windowMs: number;
  /** "prosody on xmpp restarted", for the live line and the failure report. */
  cause: string;
  /**
   * The push (re)started this component itself: its grace period covers the slow start, but a problem
   * waiting cannot heal (a rejected password) still fails the gate at once. No window, no "back" check.
   */
  ownStart?: boolean;
}

/** The components that reconnect by themselves when `node`'s service restarts. */
export function dependentsOf(spec: Spec, node: string): Dependent[] {
  const role = spec.nodes.find((n) => n.name === node)?.role;
  const of = (r: string) => spec.nodes.filter((n) => n.role === r).map((n) => n.name);
  if (role === "xmpp") {
    return [
      ...of("jicofo").map((n) => ({ node: n, component: "jicofo" as const, via: "XMPP (5222)" })),
      ...of("jvb").map((n) => ({ node: n, component: "jvb" as const, via: "XMPP (5222), the brewery" })),
      ...of("web").map((n) => ({
        node: n,
        component: "nginx" as const,
        via: spec.xmppWebsocket ? "BOSH, XMPP websocket" : "BOSH",
      })),
    ];
  }
  if (role === "jvb")
    return of("jicofo").map((n) => ({ node: n, component: "jicofo" as const, via: "the brewery" }));
  return [];
}

/** The services whose restart the dependents ride through. */
export const DEPENDENCY_SERVICES: ReadonlySet<string> = new Set(["prosody", "jvb"]);
/** The dependents' services: one (re)started by the push itself is covered by its grace period instead. */
export const DEPENDENT_SERVICES: ReadonlySet<string> = new Set(["jicofo", "jvb", "nginx"]);

/** An XMPP client's connection dropping and coming back: jicofo's and every jvb's, while prosody restarts. */
const XMPP_RECONNECT_SIGNALS = [
  "xmpp-connection-refused",
  "xmpp-connection-lost",
  "xmpp-reconnecting",
  "xmpp-reconnect-failed",
  "xmpp-not-connected",
  "xmpp-connect-failed",
] as const;

/**
 * The signals (rules.ts names) a reconnect heals, per dependent component: a refused or closed connection
 * while prosody restarts, the brewery emptying and refilling, jicofo's health check failing while no bridge
 * is back, nginx's upstream errors while prosody does not listen. Any other new problem (authentication
 * rejected, truststore rejected, a configuration error) fails the gate at once, as does a service that is
 * not running. New reconnect-type signals of the classifier belong here.
 */
export const RECOVERABLE_SIGNALS: Readonly<Record<DependentComponent, ReadonlySet<string>>> = {
  jicofo: new Set([
    ...XMPP_RECONNECT_SIGNALS,
    "brewery-join-failed",
    "brewery-instance-removed",
    "bridge-removed",
    "brewery-bridges",
    "no-operational-bridges",
    "jicofo-health-failed",
    "bridge-health-failed",
    "bridge-selection-failed",
    "no-bridge-available",
  ]),
  jvb: new Set([...XMPP_RECONNECT_SIGNALS, "brewery-muc-join-failed"]),
  nginx: new Set(
    ["bosh", "websocket"].flatMap((p) =>
      ["upstream-connect-failed", "upstream-timeout", "upstream-error", "http-5xx"].map((s) => `${p}-${s}`),
    ),
  ),
};

/**
 * Problems no wait heals, which fail even a component inside its grace period after the push (re)started
 * it: rejected credentials or certificates, an unknown XMPP domain or host, a configuration the program
 * refuses, a port it cannot bind. (A component starting up logs other failures on its way, which its grace
 * period is for.)
 */
export const PERMANENT_SIGNALS: ReadonlySet<string> = new Set([
  "truststore-rejected",
  "xmpp-auth-failed",
  "component-auth-failed",
  "xmpp-domain-unknown",
  "xmpp-dns-unknown-host",
  "config-invalid",
  "tls-certificate-load-failed",
  "port-bind-failed",
]);

/** The signals that show a dependent is back: logged after the dependency's restart. */
export const BACK_SIGNALS: Readonly<Record<DependentComponent, readonly string[]>> = {
  // jicofo joined the brewery room again (each bridge's return is checked on its own, by bridgesSince).
  jicofo: ["brewery-room-joined", "brewery-instance-added", "bridge-added"],
  jvb: ["brewery-muc-joined"],
  nginx: [],
};

export interface RecoveryVerdict {
  /** A problem waiting cannot heal: fail now. */
  permanent?: string;
  /** Only reconnect-type problems so far (or none). */
  problems: string[];
}

/**
 * The dependent's problems since the restart: a service that is not running, or a new failed/degraded
 * signal outside RECOVERABLE_SIGNALS, is permanent. (Signals from before the restart are left out: the
 * report keeps the latest signal of each name even when a later one cured it.)
 */
/**
 * A component the push restarted: the agent marks the restart when it begins, so the old process's last
 * lines (a login it kept failing until it was stopped) can be read after the mark, within the few seconds
 * the stop takes. A failure counts when it was logged this long after the restart began (the report keeps
 * the latest line of each kind: a new process that keeps failing moves it on) and no healthy line came
 * after it. The real programs retry a login every 5 s at most often, and a JVM takes longer to start.
 */
export const OWN_START_CONFIRM_MS = 5000;

export function recoveryProblems(st: NodeStatus | null, rec: Recovery): RecoveryVerdict {
  const service = rec.component === "nginx" ? "nginx" : rec.component;
  const svc = st?.services.find((s) => s.name === service);
  if (svc && (svc.state === "failed" || (!svc.running && svc.state !== "starting")))
    return { permanent: `${service} is not running${svc.detail ? ` (${svc.detail})` : ""}`, problems: [] };
  const h = st?.health.find((x) => x.component === (rec.component as LogComponent));
  const signals = h?.signals ?? [];
  const problems: string[] = [];
  for (const s of signals) {
    if (s.label !== "failed" && (s.label !== "degraded" || rec.ownStart)) continue;
    const at = Date.parse(s.at);
    if (at < rec.since) continue;
    const cured = signals.some((x) => x.label === "healthy" && Date.parse(x.at) > at);
    const permanent = rec.ownStart
      ? PERMANENT_SIGNALS.has(s.signal) && !cured && at - rec.since >= OWN_START_CONFIRM_MS
      : !RECOVERABLE_SIGNALS[rec.component].has(s.signal);
    if (permanent) return { permanent: `${s.explain}${s.fix ? ` (fix: ${s.fix})` : ""}`, problems };
    problems.push(s.signal);
  }
  return { problems };
}

/** Whether a BACK_SIGNALS line was logged since the restart. */
export function backSince(st: NodeStatus | null, rec: Recovery): boolean {
  const want = BACK_SIGNALS[rec.component];
  if (want.length === 0) return true;
  const h = st?.health.find((x) => x.component === (rec.component as LogComponent));
  return (h?.signals ?? []).some((s) => want.includes(s.signal) && Date.parse(s.at) >= rec.since);
}
