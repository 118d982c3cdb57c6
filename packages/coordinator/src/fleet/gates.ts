// Health gates of the rollout stages, evaluated on what the agents report. Pure.
import type { NodeStatus, Spec } from "@vmmeet/shared";
import { jvbNickname } from "@vmmeet/shared";
import type { Gate } from "./stages.js";

export interface GateResult {
  passed: boolean;
  /** What is still missing, for the live line and the failure report. */
  waitingFor: string;
  /** A failure that will not heal by waiting (a failed component), with the agent's explanation. */
  failed?: string;
}

function component(status: NodeStatus | null, name: string) {
  return status?.health.find((h) => h.component === name);
}

/**
 * restartedSince: nodes whose services this push (re)started, with when their apply began (ms). A bridge
 * on such a node counts for the brewery only once jicofo logged it joining after that moment.
 */
export function evaluateGate(
  gate: Gate,
  spec: Spec,
  status: (node: string) => NodeStatus | null,
  node: string,
  restartedSince: ReadonlyMap<string, number> = new Map(),
): GateResult {
  const st = status(node);
  switch (gate) {
    case "applied":
      return { passed: true, waitingFor: "" };
    case "xmpp-healthy":
      return componentGate(st, "prosody");
    case "web-healthy": {
      const role = spec.nodes.find((n) => n.name === node)?.role;
      return role === "web" ? componentGate(st, "nginx") : serviceGate(st);
    }
    case "brewery-complete": {
      const role = spec.nodes.find((n) => n.name === node)?.role;
      if (role === "jvb") return serviceGate(st);
      const jicofo = component(st, "jicofo");
      const since = new Map(
        Object.entries(jicofo?.bridgesSince ?? {}).map(([k, v]) => [k.toLowerCase(), Date.parse(v)]),
      );
      const have = new Set((jicofo?.bridges ?? []).map((b) => b.toLowerCase()));
      const missing = spec.nodes
        .filter((n) => n.role === "jvb")
        .filter((n) => {
          const nick = jvbNickname(n).toLowerCase();
          if (!have.has(nick)) return true;
          const restarted = restartedSince.get(n.name);
          // Times of different machines are compared: this assumes the VMs' and the host's clocks agree
          // (ntpd, or vmd's guests syncing from the host). A bridge that joined before the push began is stale.
          return restarted !== undefined && (since.get(nick) ?? 0) < restarted;
        })
        .map((n) => jvbNickname(n).toLowerCase());
      if (jicofo?.state === "failed")
        return { passed: false, waitingFor: "jicofo", failed: `jicofo failed: ${jicofo.explain}` };
      if (missing.length === 0 && jicofo && jicofo.state !== "unknown")
        return { passed: true, waitingFor: "" };
      return {
        passed: false,
        waitingFor: `bridges in jicofo's brewery: ${missing.join(", ") || "jicofo health"}`,
      };
    }
  }
}

function componentGate(st: NodeStatus | null, name: string): GateResult {
  const c = component(st, name);
  if (!c) return { passed: false, waitingFor: `${name} health` };
  if (c.state === "healthy") return { passed: true, waitingFor: "" };
  if (c.state === "failed")
    return {
      passed: false,
      waitingFor: name,
      failed: `${name} failed: ${c.explain}${c.fix ? ` (fix: ${c.fix})` : ""}`,
    };
  return { passed: false, waitingFor: `${name} ${c.state}: ${c.explain}` };
}

function serviceGate(st: NodeStatus | null): GateResult {
  const failed = st?.services.find((s) => s.state === "failed");
  if (failed)
    return {
      passed: false,
      waitingFor: failed.name,
      failed: `${failed.name} failed${failed.detail ? `: ${failed.detail}` : ""}`,
    };
  const notRunning = st?.services.find((s) => !s.running);
  if (!st || notRunning)
    return { passed: false, waitingFor: notRunning ? `${notRunning.name} running` : "status" };
  return { passed: true, waitingFor: "" };
}
