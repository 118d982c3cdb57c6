// The deployment's verdict from every node's component health (what agents report in NodeStatus.health):
// can a conference happen now? Pure, for the coordinator's status view and its CLI.
//
//   conference-ready  nginx (web) healthy, prosody (xmpp) healthy and has seen focus and jvb log in,
//                     jicofo has at least one bridge in its brewery, and no component is degraded or failed
//   down              a component a conference needs (nginx, prosody, jicofo) is failed, not yet up or not
//                     reporting, or jicofo has no bridge
//   degraded          everything else: conferences work, something needs attention
//
// A node whose agent is away (cut off, its link found dead) is named first among the reasons, with when it
// was last heard from: its health is what it last reported, which may no longer hold. It keeps the verdict
// from conference-ready; what it last reported still counts for down.
import type * as z from "zod";
import type { ComponentHealth } from "./protocol/common.js";
import type { NodeRole } from "./spec.js";

type Health = z.infer<typeof ComponentHealth>;

export interface NodeHealth {
  node: string;
  role: NodeRole;
  health: readonly Health[];
  /** Its agent is not connected: when the coordinator last heard from it (ISO time); absent when connected. */
  unreachableSince?: string | null;
}

export type DeploymentVerdict = "conference-ready" | "degraded" | "down";

export interface VerdictResult {
  verdict: DeploymentVerdict;
  /** Why (the problems, worst first); for conference-ready, the facts that make it so. */
  reasons: string[];
}

/** jicofo's synthetic signal with the bridges in its brewery (agent health/problems.ts BREWERY_SIGNAL). */
const BREWERY_SIGNAL = "brewery-bridges";

const ESSENTIAL: readonly { role: NodeRole; component: Health["component"] }[] = [
  { role: "web", component: "nginx" },
  { role: "xmpp", component: "prosody" },
  { role: "jicofo", component: "jicofo" },
];

const RANK: Record<Health["state"], number> = { healthy: 0, degraded: 1, starting: 2, unknown: 3, failed: 4 };

interface Found {
  node: string;
  h: Health;
}

function componentsOf(nodes: readonly NodeHealth[], role: NodeRole, component: Health["component"]): Found[] {
  const out: Found[] = [];
  for (const n of nodes) {
    if (n.role !== role) continue;
    for (const h of n.health) if (h.component === component) out.push({ node: n.node, h });
  }
  return out;
}

const problem = (f: Found) => `${f.h.component} on ${f.node} is ${f.h.state}: ${f.h.explain}`;

/** Bridges in jicofo's brewery: a count, "some" when only its state tells (healthy implies one), or 0. */
function bridgeCount(f: Found): number | "some" {
  const s = f.h.signals.find((x) => x.signal === BREWERY_SIGNAL);
  if (s !== undefined) {
    if (s.label !== "healthy") return 0;
    const n = Number(/^(\d+):/.exec(s.detail ?? "")?.[1]);
    return Number.isInteger(n) && n > 0 ? n : "some";
  }
  return f.h.state === "healthy" || f.h.state === "degraded" ? "some" : 0;
}

export function deploymentVerdict(nodes: readonly NodeHealth[]): VerdictResult {
  const down: string[] = [];
  const degraded: string[] = [];
  const facts: string[] = [];
  const away: string[] = [];
  for (const n of nodes)
    if (n.unreachableSince !== undefined)
      away.push(
        `${n.node} unreachable ${n.unreachableSince === null ? "(never connected)" : `since ${n.unreachableSince}`}: its health is what it last reported`,
      );

  for (const { role, component } of ESSENTIAL) {
    const found = componentsOf(nodes, role, component).sort((a, b) => RANK[a.h.state] - RANK[b.h.state]);
    const best = found[0];
    if (best === undefined) {
      down.push(`no ${role} node reports ${component} health`);
      continue;
    }
    if (best.h.state === "healthy") facts.push(`${component} on ${best.node} is healthy`);
    else if (best.h.state === "degraded") degraded.push(problem(best));
    else down.push(problem(best));
  }

  const prosody = componentsOf(nodes, "xmpp", "prosody")[0];
  if (prosody !== undefined) {
    const seen = (name: string) => prosody.h.signals.find((s) => s.signal === name);
    const focus = seen("c2s-authenticated-focus");
    const jvb = seen("c2s-authenticated-jvb");
    if (focus === undefined) degraded.push(`prosody on ${prosody.node} has not seen focus (jicofo) log in`);
    if (jvb === undefined) degraded.push(`prosody on ${prosody.node} has not seen a jvb log in`);
    if (focus && jvb)
      facts.push(
        `prosody on ${prosody.node} has seen ${focus.detail ?? "focus"} and ${jvb.detail ?? "jvb"} log in`,
      );
  }

  const jicofo = componentsOf(nodes, "jicofo", "jicofo").sort((a, b) => RANK[a.h.state] - RANK[b.h.state])[0];
  if (jicofo !== undefined) {
    const n = bridgeCount(jicofo);
    if (n === 0) down.unshift(`jicofo on ${jicofo.node} has no bridge in the brewery`);
    else
      facts.push(
        `jicofo on ${jicofo.node} has ${n === "some" ? "a" : n} bridge${n === 1 || n === "some" ? "" : "s"} in the brewery`,
      );
  }

  const jvbs = nodes.filter((n) => n.role === "jvb");
  if (jvbs.length === 0) degraded.push("no jvb node reports health");
  for (const n of jvbs) {
    const h = n.health.find((x) => x.component === "jvb");
    if (h === undefined) degraded.push(`jvb on ${n.node} reports no health`);
    else if (h.state !== "healthy") degraded.push(problem({ node: n.node, h }));
  }

  // Components beyond the essentials (a second nginx, ...) that are not healthy.
  for (const n of nodes) {
    for (const h of n.health) {
      if (h.component === "jvb" || h.state === "healthy") continue;
      const essential = ESSENTIAL.some((e) => e.role === n.role && e.component === h.component);
      if (!essential) degraded.push(problem({ node: n.node, h }));
    }
  }

  if (down.length > 0) return { verdict: "down", reasons: [...away, ...down, ...degraded] };
  if (degraded.length > 0 || away.length > 0) return { verdict: "degraded", reasons: [...away, ...degraded] };
  return { verdict: "conference-ready", reasons: facts };
}
