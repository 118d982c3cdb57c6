// What the status page shows, built from the coordinator's status report, the spec in force, the push in
// progress and the recent events. Pure: the page server (statuspage.ts) feeds it; tests call it directly.
//
// Each node gets one state for the picture (the worst of its components' health and its services, or
// offline when its agent is away), each flow of flows.ts a state where the health knows it (jicofo and the
// bridges logged in to prosody, the bridges in jicofo's brewery, nginx and prosody for BOSH, the agents
// connected), and the push in progress its stages with each node's phase.
import { jvbNickname, type Spec } from "@vmmeet/shared";
import { rolloutStages } from "../fleet/stages.js";
import type { StatusReport } from "../fleet/status.js";
import { deploymentFlows, type Flow, HOST, WORLD } from "../render/flows.js";
import type { NodePhase, PushEvent } from "./coordinator.js";
import type { FeedEvent } from "./feed.js";

export type LiveState = "healthy" | "degraded" | "starting" | "failed" | "unknown" | "offline";

const RANK: Record<LiveState, number> = {
  healthy: 0,
  degraded: 1,
  starting: 2,
  unknown: 3,
  failed: 4,
  offline: 5,
};
const worst = (a: LiveState, b: LiveState) => (RANK[b] > RANK[a] ? b : a);

export interface PushProgress {
  generation: number;
  by: string | null;
  startedAt: string;
  running: boolean;
  ok: boolean | null;
  message: string;
  stages: {
    name: string;
    state: "waiting" | "running" | "passed" | "failed";
    nodes: { node: string; phase: NodePhase; message: string }[];
  }[];
  rollback: string | null;
}

export interface LiveNode {
  node: string;
  role: string;
  state: LiveState;
  why: string;
  report: StatusReport["nodes"][number];
}

export interface LiveView {
  at: string;
  domain: string | null;
  generation: number;
  verdict: StatusReport["verdict"];
  alarm: StatusReport["alarm"];
  pushRunning: StatusReport["pushRunning"];
  nodes: LiveNode[];
  flows: Record<string, { state: LiveState; why: string }>;
  brewery: { state: LiveState; why: string } | null;
  push: PushProgress | null;
  events: FeedEvent[];
}

/**
 * One state for a node: offline without its agent, else the worst of its components' health and of its
 * services that do not run (a service inside its start-up grace counts through its component's health,
 * which knows whether it came up).
 */
export function nodeState(n: StatusReport["nodes"][number]): { state: LiveState; why: string } {
  if (!n.connected)
    return { state: "offline", why: `its agent is not connected (last seen ${n.lastSeen ?? "never"})` };
  let state: LiveState = n.health.length === 0 && n.services.length === 0 ? "unknown" : "healthy";
  let why = state === "unknown" ? "nothing reported yet" : "every service and component is healthy";
  for (const s of n.services) {
    if (s.state === "ok" || s.state === "starting" || state === "failed") continue;
    state = "failed";
    why = `service ${s.name} is ${s.state}${s.detail ? `: ${s.detail}` : ""}`;
  }
  for (const h of n.health) {
    if (RANK[h.state] > RANK[state]) {
      state = h.state;
      why = `${h.component} is ${h.state}: ${h.explain}`;
    }
  }
  for (const vm of n.vms ?? []) {
    if (vm.wanted !== false && vm.state !== "running" && RANK.degraded > RANK[state]) {
      state = "degraded";
      why = `VM ${vm.name} is ${vm.state}`;
    }
  }
  return { state, why };
}

/**
 * Every node's state. A bridge that jicofo does not have in its brewery is failed whatever its own VM says
 * (no conference can use it; the paper: "Added brewery instance" is a usable bridge) once it has left the
 * brewery or jicofo is past its start-up; while jicofo is still starting, the bridge is starting too.
 */
export function nodeStates(
  spec: Spec | null,
  status: StatusReport,
): Map<string, { state: LiveState; why: string }> {
  const out = new Map(status.nodes.map((n) => [n.node, nodeState(n)]));
  const jicofo = spec?.nodes.find((n) => n.role === "jicofo");
  const report = jicofo ? status.nodes.find((n) => n.node === jicofo.name) : undefined;
  const h = report?.health.find((x) => x.component === "jicofo");
  if (!spec || !report?.connected || h?.bridges === undefined) return out;
  const jicofoUp = h.state !== "unknown" && h.state !== "starting";
  for (const n of spec.nodes.filter((x) => x.role === "jvb")) {
    const nick = jvbNickname(n);
    const cur = out.get(n.name);
    if (!cur || cur.state === "offline" || h.bridges.includes(nick)) continue;
    // jicofo's "Removed brewery instance" line names the bridge's MUC JID, ending in /NICKNAME.
    const left = h.signals.find(
      (s) => s.signal === "brewery-instance-removed" && (s.detail ?? "").endsWith(`/${nick}`),
    );
    if (left || jicofoUp)
      out.set(n.name, {
        state: "failed",
        why: `not in jicofo's brewery${left ? ` (${left.explain})` : ""}; on its VM: ${cur.why}`,
      });
    else if (RANK[cur.state] < RANK.starting)
      out.set(n.name, { state: "starting", why: `waiting to join jicofo's brewery; on its VM: ${cur.why}` });
  }
  return out;
}

/** The state of each flow the health knows something about; the others are left out (not coloured). */
export function flowStates(
  spec: Spec,
  status: StatusReport,
  states: Map<string, { state: LiveState; why: string }> = nodeStates(spec, status),
): LiveView["flows"] {
  const flows = deploymentFlows(spec, { coordinatorPort: spec.host.coordinatorPort });
  const node = new Map(status.nodes.map((n) => [n.node, n]));
  const health = (name: string, component: string) =>
    node.get(name)?.health.find((h) => h.component === component);
  const byRole = (role: string) => spec.nodes.filter((n) => n.role === role);
  const jicofo = byRole("jicofo")[0];
  const prosody = byRole("xmpp")[0];
  const bridges = new Set(jicofo ? (health(jicofo.name, "jicofo")?.bridges ?? []) : []);
  const signal = (name: string) =>
    prosody ? health(prosody.name, "prosody")?.signals.find((s) => s.signal === name) : undefined;
  const of = (name: string) => states.get(name) ?? { state: "unknown" as const, why: "not reported" };
  const out: LiveView["flows"] = {};
  const set = (f: Flow, state: LiveState, why: string) => {
    out[f.id] = { state, why };
  };
  for (const f of flows) {
    const target = f.to[0]!;
    if (f.kind === "internal" && f.ports[0] === "5222" && !(prosody && health(prosody.name, "prosody"))) {
      set(f, "unknown", "prosody reports no health yet");
    } else if (f.kind === "internal" && f.ports[0] === "5222") {
      // jicofo and each bridge log in to prosody; a bridge in jicofo's brewery has.
      const missing: string[] = [];
      for (const from of f.from) {
        const n = spec.nodes.find((x) => x.name === from)!;
        if (n.role === "jicofo" && !signal("c2s-authenticated-focus")) missing.push(`${from} (focus)`);
        if (n.role === "jvb" && !bridges.has(jvbNickname(n))) missing.push(`${from} (not in the brewery)`);
      }
      if (missing.length === 0) set(f, "healthy", "focus logged in; every bridge is in the brewery");
      else if (missing.length < f.from.length) set(f, "degraded", `not logged in: ${missing.join(", ")}`);
      else set(f, "failed", `not logged in: ${missing.join(", ")}`);
    } else if (f.kind === "internal" && f.ports[0] === "5280") {
      const [a, b] = [of(f.from[0]!), of(target)];
      set(f, worst(a.state, b.state), `${f.from[0]}: ${a.why}; ${target}: ${b.why}`);
    } else if (f.kind === "public" && (f.from[0] === WORLD || f.to[0] === WORLD)) {
      const vm = f.from[0] === WORLD ? target : f.from[0]!;
      const s = of(vm);
      set(f, s.state === "offline" ? "unknown" : s.state, `${vm}: ${s.why}`);
    } else if (f.kind === "control" && target === HOST) {
      const away = f.from.filter((n) => !node.get(n)?.connected);
      set(
        f,
        away.length === 0 ? "healthy" : away.length < f.from.length ? "degraded" : "failed",
        away.length === 0 ? "every agent is connected" : `not connected: ${away.join(", ")}`,
      );
    }
  }
  return out;
}

function breweryState(spec: Spec, status: StatusReport): LiveView["brewery"] {
  const jicofo = spec.nodes.find((n) => n.role === "jicofo");
  if (!jicofo) return null;
  const h = status.nodes.find((n) => n.node === jicofo.name)?.health.find((x) => x.component === "jicofo");
  const want = spec.nodes.filter((n) => n.role === "jvb").map(jvbNickname);
  const have = new Set(h?.bridges ?? []);
  const missing = want.filter((b) => !have.has(b));
  if (h === undefined) return { state: "unknown", why: "jicofo reports no health yet" };
  if (missing.length === 0) return { state: "healthy", why: `${want.length} of ${want.length} bridges` };
  return {
    state: missing.length === want.length ? "failed" : "degraded",
    why: `missing from the brewery: ${missing.join(", ")}`,
  };
}

export function buildLiveView(
  spec: Spec | null,
  status: StatusReport,
  push: PushProgress | null,
  events: readonly FeedEvent[],
): LiveView {
  const states = nodeStates(spec, status);
  return {
    at: status.at,
    domain: spec?.domain ?? null,
    generation: status.desiredGeneration,
    verdict: status.verdict,
    alarm: status.alarm,
    pushRunning: status.pushRunning,
    nodes: status.nodes.map((n) => ({ node: n.node, role: n.role, ...states.get(n.node)!, report: n })),
    flows: spec ? flowStates(spec, status, states) : {},
    brewery: spec ? breweryState(spec, status) : null,
    push,
    events: [...events],
  };
}

/** Follows the core's push events: the stages of the push in progress (or the last one) with each node. */
export class PushTracker {
  #p: PushProgress | null = null;
  /** Per stage, the stages it starts after (fleet/stages.ts): its start means those passed. */
  #after = new Map<string, readonly string[]>();

  get progress(): PushProgress | null {
    return this.#p;
  }

  /** `spec` is the spec being pushed (the core's current record once the push is accepted). */
  onEvent(e: PushEvent, spec: Spec | null, by: string | null): void {
    // Every event of a push, its rollback included, carries the generation the push accepted.
    if (e.kind === "accepted" || this.#p === null || this.#p.generation !== e.generation) {
      const stages = spec ? rolloutStages(spec) : [];
      this.#after = new Map(stages.map((s) => [s.name, s.after]));
      this.#p = {
        generation: e.generation,
        by,
        startedAt: e.at,
        running: true,
        ok: null,
        message: e.message,
        stages: stages
          .filter((s) => s.nodes.length > 0)
          .map((s) => ({
            name: s.name,
            state: "waiting" as const,
            nodes: s.nodes.map((node) => ({ node, phase: "waiting" as NodePhase, message: "" })),
          })),
        rollback: null,
      };
    }
    const p = this.#p!;
    p.message = e.message;
    if (e.kind === "stage") {
      // Stages run side by side once their dependencies passed: a stage's start tells only those passed.
      const after = this.#after.get(e.stage ?? "") ?? [];
      for (const s of p.stages) if (s.state === "running" && after.includes(s.name)) s.state = "passed";
      const s = p.stages.find((x) => x.name === e.stage);
      if (s) s.state = "running";
    } else if (e.kind === "node" && e.node && e.phase) {
      for (const s of p.stages) {
        const n = s.nodes.find((x) => x.node === e.node);
        if (!n) continue;
        n.phase = e.phase;
        n.message = e.message;
        if (e.phase === "failed") s.state = "failed";
      }
    } else if (e.kind === "rollback") {
      p.rollback = e.message;
      for (const s of p.stages) if (s.state === "running") s.state = "failed";
    } else if (e.kind === "done") {
      p.running = false;
      p.ok = p.rollback === null && !p.stages.some((s) => s.state === "failed");
      for (const s of p.stages) if (s.state === "running") s.state = p.ok ? "passed" : "failed";
    }
  }
}
