// The status report behind `vmmeet status`: per node what the coordinator knows, and the deployment verdict.
// Pure: built from the fleet's records and the generation in force.
import { deploymentVerdict, type NodeRole, type Spec } from "@vmmeet/shared";
import type { NodeReport, StatusReport } from "../admin/methods.js";
import type { NodeLive } from "./fleet.js";

export type { NodeReport, StatusReport } from "../admin/methods.js";

export function buildStatus(
  spec: Spec | null,
  desiredGeneration: number,
  nodes: Map<string, NodeLive>,
  now: Date,
  pushRunning: StatusReport["pushRunning"],
  alarm: StatusReport["alarm"] = null,
): StatusReport {
  const order: { name: string; role: string }[] = spec
    ? [
        { name: spec.host.name, role: "host" },
        ...spec.nodes.map((n) => ({ name: n.name, role: n.role as string })),
      ]
    : [...nodes.keys()].map((name) => ({ name, role: nodes.get(name)?.status ? "?" : "?" }));
  for (const name of nodes.keys())
    if (!order.some((entry) => entry.name === name)) order.push({ name, role: "unknown (not in the spec)" });
  const reports = order.map(({ name, role }): NodeReport => {
    const live = nodes.get(name);
    const st = live?.status ?? null;
    return {
      node: name,
      role,
      connected: live?.connected ?? false,
      lastSeen: live?.lastSeen ?? null,
      agentVersion: live?.agentVersion ?? null,
      generation: { applied: st?.generation ?? 0, desired: desiredGeneration },
      services: st?.services ?? [],
      health: (st?.health ?? []).map((h) => ({
        ...h,
        ageSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(h.since)) / 1000)),
      })),
      metrics: st?.metrics ?? null,
      ...(st?.vms ? { vms: st.vms } : {}),
      events: live?.events.slice(-20) ?? [],
      ...(live?.clock ? { clock: live.clock } : {}),
    };
  });
  const roles = new Set(["web", "xmpp", "jicofo", "jvb", "turn", "host"]);
  const verdict = deploymentVerdict(
    reports
      .filter((r) => roles.has(r.role))
      .map((r) => ({
        node: r.node,
        role: r.role as NodeRole,
        health: r.health,
        // A node that has reported before and is away now: named in the verdict (its health may be stale).
        ...(!r.connected && nodes.get(r.node)?.status ? { unreachableSince: r.lastSeen } : {}),
      })),
  );
  return { at: now.toISOString(), verdict, alarm, desiredGeneration, pushRunning, nodes: reports };
}
