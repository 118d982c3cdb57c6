// Health gates of the rollout stages, evaluated on what the agents report. Pure.
import type { NodeStatus, Spec } from "@vmmeet/shared";
import { jvbNickname } from "@vmmeet/shared";
import { backSince, type Recovery, recoveryProblems } from "./recovery.js";
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

export interface GateContext {
  /**
   * Nodes whose services this push (re)started, with when their apply began (ms). A bridge on such a node
   * counts for the brewery only once jicofo logged it joining after that moment.
   */
  restartedSince?: ReadonlyMap<string, number>;
  /** Nodes whose component rides through a dependency's restart (recovery.ts). */
  recovering?: ReadonlyMap<string, Recovery>;
  /** Now on the coordinator's clock (ms): where a recovery window stands. */
  now: number;
}

export function evaluateGate(
  gate: Gate,
  spec: Spec,
  status: (node: string) => NodeStatus | null,
  node: string,
  ctx: GateContext,
): GateResult {
  const base = baseGate(gate, spec, status, node, ctx.restartedSince ?? new Map());
  const rec = ctx.recovering?.get(node);
  if (!rec || gate === "applied") return base;
  return withRecovery(base, rec, spec, status, node, ctx.now);
}

const secs = (ms: number) => `${Math.max(0, Math.round(ms / 1000))}s`;

/**
 * A dependent inside its recovery window: reconnect-type problems are waited out, a permanent one fails at
 * once; the gate passes only once the dependent is back (a BACK_SIGNALS line since the restart). After the
 * window, whatever still stands is a failure.
 */
function withRecovery(
  base: GateResult,
  rec: Recovery,
  spec: Spec,
  status: (node: string) => NodeStatus | null,
  node: string,
  now: number,
): GateResult {
  const st = status(node);
  const left = rec.since + rec.windowMs - now;
  const window = `${Math.round(rec.windowMs / 1000)}s recovery window`;
  const found = recoveryProblems(st, rec);
  if (found.permanent)
    return {
      passed: false,
      waitingFor: rec.component,
      failed: `${rec.component} on ${node} failed after ${rec.cause}, and waiting will not heal it: ${found.permanent}`,
    };
  if (rec.ownStart) return base;
  let missing: string | null = null;
  if (!base.passed && !(rec.component === "nginx" && upstreamBack(spec, status, st, rec))) {
    missing = base.failed ?? base.waitingFor;
  } else if (!backSince(st, rec)) {
    missing = `${rec.component} back in the brewery`;
  }
  if (missing === null) return { passed: true, waitingFor: "" };
  if (left > 0)
    return {
      passed: false,
      waitingFor: `${rec.component} to reconnect after ${rec.cause} (${secs(now - rec.since)} of its ${window}): ${missing}`,
    };
  return {
    passed: false,
    waitingFor: missing,
    failed: `${rec.component} on ${node} did not come back within its ${window} after ${rec.cause}: ${missing}`,
  };
}

/**
 * nginx keeps logging no success that would cure an upstream error: once prosody is healthy again and
 * every problem nginx logged since the restart is an upstream error from before that, BOSH is served again.
 */
function upstreamBack(
  spec: Spec,
  status: (node: string) => NodeStatus | null,
  st: NodeStatus | null,
  rec: Recovery,
): boolean {
  const nginx = component(st, "nginx");
  if (nginx?.state !== "degraded") return false;
  const xmpp = spec.nodes.find((n) => n.role === "xmpp");
  const prosody = xmpp ? component(status(xmpp.name), "prosody") : undefined;
  if (prosody?.state !== "healthy") return false;
  const upSince = Date.parse(prosody.since);
  return nginx.signals
    .filter((s) => (s.label === "failed" || s.label === "degraded") && Date.parse(s.at) >= rec.since)
    .every((s) => Date.parse(s.at) <= upSince);
}

function baseGate(
  gate: Gate,
  spec: Spec,
  status: (node: string) => NodeStatus | null,
  node: string,
  restartedSince: ReadonlyMap<string, number>,
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
          // jicofo's times reach here on the coordinator's clock (its agent's skew is measured and taken
          // out as its frames arrive: fleet/clock.ts), as `restarted` is. A bridge that joined before the
          // push began is stale.
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
