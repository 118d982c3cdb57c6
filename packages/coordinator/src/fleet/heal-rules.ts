// The heal schedule's decisions (fleet/heal.ts runs them every tick), pure: which nodes get the generation in
// force again, which cross-node restarts are due and in which order, when the deployment alarm goes up or
// down. Times are given.
import { entryDigest } from "@vmmeet/node";
import type { ComponentHealth, NodeDesired, NodeRole, NodeStatus, Spec, VerdictResult } from "@vmmeet/shared";
import { rolloutStages } from "./stages.js";

export interface NodeView {
  node: string;
  role: NodeRole;
  connected: boolean;
  status: NodeStatus | null;
}

export interface Reassert {
  node: string;
  why: "lagging" | "drift";
  detail: string;
}

/** Files whose reported hash or mode differs from the rendered entry (paths only: never content). */
export function driftedFiles(desired: NodeDesired, status: NodeStatus): string[] {
  const seen = new Map(status.files.map((f) => [f.path, f]));
  const out: string[] = [];
  for (const f of desired.files) {
    const s = seen.get(f.path);
    const want = entryDigest(f);
    if (!s || s.sha256 !== want || s.mode !== f.mode) out.push(f.path);
  }
  return out;
}

/**
 * Which connected nodes need the generation in force again, in the given order: behind it, or at it but
 * reporting files that differ (an agent without a healer, or one whose repair failed). A node in the middle
 * of an apply is left alone.
 */
export function reassertPlan(
  order: readonly string[],
  generation: number,
  desired: Readonly<Record<string, NodeDesired>>,
  nodes: ReadonlyMap<string, NodeView>,
): Reassert[] {
  const out: Reassert[] = [];
  for (const name of order) {
    const d = desired[name];
    const n = nodes.get(name);
    if (!d || !n?.connected) continue;
    const st = n.status;
    if (st?.applying != null) continue;
    const applied = st?.generation ?? 0;
    if (applied < generation) {
      out.push({ node: name, why: "lagging", detail: `applied ${applied}, in force ${generation}` });
      continue;
    }
    if (st && applied === generation) {
      const drift = driftedFiles(d, st);
      if (drift.length > 0)
        out.push({ node: name, why: "drift", detail: `files differ: ${drift.join(", ")}` });
    }
  }
  return out;
}

/** The signals of jicofo and jvb that say they lost prosody (agent health/rules.ts names). */
export const LOST_PROSODY: ReadonlySet<string> = new Set([
  "xmpp-not-connected",
  "xmpp-connection-refused",
  "xmpp-connect-failed",
]);

export interface CrossRepair {
  node: string;
  service: string;
  reason: string;
}

export interface CrossNodeInput {
  nodes: readonly NodeView[];
  now: number;
  /** ServiceEntry.graceSeconds of that node's service, in ms. */
  graceMs: (node: string, service: string) => number;
  /** When this coordinator last restarted that service (ms), if it did. */
  lastRepair: (node: string, service: string) => number | null;
}

const CLIENTS: readonly { role: NodeRole; component: ComponentHealth["component"]; service: string }[] = [
  { role: "jicofo", component: "jicofo", service: "jicofo" },
  { role: "jvb", component: "jvb", service: "jvb" },
];

/**
 * Cross-node repairs due now, one stage at a time in the paper's order: nothing while prosody is not
 * healthy (no client can log in; the xmpp node's agent restarts prosody itself), then the jicofo nodes
 * that still have lost prosody a grace period after prosody came up, and the bridges only once no jicofo
 * is being repaired or still starting. A service restarted since prosody came up is not restarted again
 * for the same outage.
 */
export function crossNodeRepairs(input: CrossNodeInput): CrossRepair[] {
  const prosody = input.nodes
    .filter((n) => n.role === "xmpp")
    .flatMap((n) => (n.status?.health ?? []).filter((h) => h.component === "prosody"))
    .find((h) => h.state === "healthy");
  if (!prosody) return [];
  const upSince = Date.parse(prosody.since);
  for (const c of CLIENTS) {
    const due: CrossRepair[] = [];
    let waiting = false;
    for (const n of input.nodes) {
      if (n.role !== c.role) continue;
      const h = n.status?.health.find((x) => x.component === c.component);
      if (!h) continue;
      if (h.state === "starting") {
        waiting = true;
        continue;
      }
      if (h.state === "healthy") continue;
      const lost = h.signals.find((s) => LOST_PROSODY.has(s.signal) && s.label === "failed");
      if (!lost) continue;
      const grace = input.graceMs(n.node, c.service);
      const last = input.lastRepair(n.node, c.service);
      if (input.now - upSince < grace) {
        waiting = true;
        continue;
      }
      if (last !== null && last >= upSince) {
        // Restarted for this outage already; give it its grace period before the next stage goes.
        if (input.now - last < grace) waiting = true;
        continue;
      }
      if (!n.connected) continue;
      due.push({
        node: n.node,
        service: c.service,
        reason: `${c.component} on ${n.node} has not reconnected to prosody (${lost.signal}) ${Math.round((input.now - upSince) / 1000)} s after prosody came up`,
      });
    }
    if (due.length > 0) return due;
    if (waiting) return [];
  }
  return [];
}

export interface AlarmState {
  downSince: number | null;
  raised: boolean;
  reasons: string[];
}

export const NO_ALARM: AlarmState = { downSince: null, raised: false, reasons: [] };

/** Raised once the verdict has been "down" for afterMs; cleared by any other verdict. */
export function alarmStep(
  prev: AlarmState,
  verdict: VerdictResult,
  now: number,
  afterMs: number,
): { state: AlarmState; change: "raised" | "cleared" | null } {
  if (verdict.verdict !== "down") return { state: NO_ALARM, change: prev.raised ? "cleared" : null };
  const downSince = prev.downSince ?? now;
  if (!prev.raised && now - downSince >= afterMs)
    return { state: { downSince, raised: true, reasons: verdict.reasons }, change: "raised" };
  return { state: { downSince, raised: prev.raised, reasons: verdict.reasons }, change: null };
}

/** Nodes in rollout order (host, xmpp, jicofo and bridges, web), then any others the generation has. */
export function nodeOrder(spec: Spec, names: readonly string[]): string[] {
  const out = rolloutStages(spec).flatMap((s) => s.nodes);
  for (const n of names) if (!out.includes(n)) out.push(n);
  return out.filter((n) => names.includes(n));
}
