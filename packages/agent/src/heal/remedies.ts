// Signal-driven remedies: a small explicit table from a classified log signal (health/rules.ts names) to a
// bounded repair on this node. Pure: a signal and the node's role in, a plan (or null) out; the healer
// (healer.ts) runs the plan, counts it against its hourly budget and reports it as an event.
//
// Deliberately short. Only failures with a known mechanical cure are here; everything else is reported by
// the health pipeline for an admin. Remedies that need another VM are the coordinator's (fleet/heal.ts):
// - prosody's "truststore-rejected" (a client aborted TLS): the truststore to fix is on the jicofo/jvb VMs;
// - "prosody-started": jicofo and jvb on other VMs must reconnect, in the paper's order (prosody, jicofo,
//   jvb); on their own VMs the "reconnect" remedy below restarts them if they do not within their grace.
import type { HealthSignal, LogComponent, NodeRole } from "@vmmeet/shared";
import { RESOLVED_BY } from "../health/problems.js";

export type RepairStep =
  /** Re-apply the persisted desired state: rewrites every managed file that differs (and restarts what it notifies). */
  | { kind: "enforce" }
  /** rcctl restart, unless an earlier step of the plan already restarted the service. */
  | { kind: "restart"; service: string }
  /**
   * Wait up to the service's grace period (ServiceEntry.graceSeconds) for one of `cures` from `component`;
   * if one comes, the plan ends there (the component repaired itself).
   */
  | { kind: "await-cure"; component: LogComponent; service: string; cures: readonly string[] };

export interface RepairPlan {
  /** Event kind `remedy-<id>`, and the key of the hourly budget. */
  id: string;
  trigger: { component: LogComponent; signal: string };
  /** Node-local service the plan is about (the event's target). */
  service: string;
  steps: RepairStep[];
  /** Runs per hour at most; beyond that the signal is reported and left to an admin. */
  maxPerHour: number;
  /** One line for the event and the log. */
  summary: string;
}

interface Remedy {
  id: string;
  signals: readonly string[];
  /** Components (on their own node) the remedy applies to. */
  components: readonly LogComponent[];
  maxPerHour: number;
  steps: (component: LogComponent, service: string) => RepairStep[];
  summary: (component: LogComponent, service: string) => string;
}

/** The rc.d service that runs each log component (net/jitsi and prosody ports; docs/openbsd-rc.md section 3). */
export const SERVICE_OF: Readonly<Record<LogComponent, string>> = {
  prosody: "prosody",
  jicofo: "jicofo",
  jvb: "jvb",
  nginx: "nginx",
};

/** Which component's log a node of each role tails (one VM per component, nginx on "web"). */
export const COMPONENTS_OF: Readonly<Record<NodeRole, readonly LogComponent[]>> = {
  web: ["nginx"],
  xmpp: ["prosody"],
  jicofo: ["jicofo"],
  jvb: ["jvb"],
  turn: [],
  host: [],
};

/** The XMPP-client failures that a reconnect (prosody back up) cures. */
const LOST_PROSODY = ["xmpp-not-connected", "xmpp-connection-refused", "xmpp-connect-failed"] as const;

export const REMEDIES: readonly Remedy[] = [
  {
    // The JVM does not trust prosody's certificate (paper, section VIII.B and XVII "wrong/missing
    // keystore"): the truststore file on this VM differs from the rendered one (edited, replaced by a
    // package update) or the JVM still holds the old one. Re-enforcing rewrites it (and restarts the
    // service it notifies); the restart makes the JVM read it, which it does only at start.
    id: "truststore",
    signals: ["truststore-rejected"],
    components: ["jicofo", "jvb"],
    maxPerHour: 2,
    steps: (_c, service) => [{ kind: "enforce" }, { kind: "restart", service }],
    summary: (c, service) =>
      `${c} rejected prosody's certificate: reinstalled the truststore from the desired state and restarted ${service}`,
  },
  {
    // prosody went away (restart, VM reboot): smack reconnects on its own once prosody is back; a client
    // still not back after its grace period is restarted (the paper: "after a prosody restart restart them
    // too"). The cures are the health state machine's for these problems (health/problems.ts RESOLVED_BY).
    id: "reconnect",
    signals: LOST_PROSODY,
    components: ["jicofo", "jvb"],
    maxPerHour: 4,
    steps: (component, service) => [
      {
        kind: "await-cure",
        component,
        service,
        cures: RESOLVED_BY[component].get(LOST_PROSODY[0]) ?? [],
      },
      { kind: "restart", service },
    ],
    summary: (c, service) =>
      `${c} lost prosody and did not reconnect within its grace period: restarted ${service}`,
  },
];

/** The repair for a signal seen on a node of this role, or null when there is none to do here. */
export function remedyFor(signal: HealthSignal, role: NodeRole): RepairPlan | null {
  if (signal.label !== "failed") return null;
  if (!COMPONENTS_OF[role].includes(signal.component)) return null;
  const r = REMEDIES.find(
    (x) => x.signals.includes(signal.signal) && x.components.includes(signal.component),
  );
  if (!r) return null;
  const service = SERVICE_OF[signal.component];
  return {
    id: r.id,
    trigger: { component: signal.component, signal: signal.signal },
    service,
    steps: r.steps(signal.component, service),
    maxPerHour: r.maxPerHour,
    summary: r.summary(signal.component, service),
  };
}
