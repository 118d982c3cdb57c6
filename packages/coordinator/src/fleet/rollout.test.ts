import { ManualClock } from "@vmmeet/node";
import {
  type ComponentHealth,
  type CoordinatorToAgent,
  type HealthSignal,
  type NodeDesired,
  NodeDesired as NodeDesiredSchema,
  type NodeStatus,
} from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { fleetSpec as spec } from "../../../../test/helpers/fleet-spec.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import type { PushEvent, PushOutcome } from "../admin/methods.js";
import type { AuditEntry, GenerationRecord } from "../state/store.js";
import { type ApplyResult, Fleet } from "./fleet.js";
import type { AgentConnection } from "./link.js";
import { applyProblem, Rollout, type RolloutRun, type RolloutStore } from "./rollout.js";

const NODES = ["vmm", "web", "xmpp", "jicofo", "jvb"] as const;
type Node = (typeof NODES)[number];
const ROLE: Record<Node, NodeDesired["role"]> = {
  vmm: "host",
  web: "web",
  xmpp: "xmpp",
  jicofo: "jicofo",
  jvb: "jvb",
};
const COMPONENT: Partial<Record<Node, ComponentHealth["component"]>> = {
  web: "nginx",
  xmpp: "prosody",
  jicofo: "jicofo",
  jvb: "jvb",
};

// Far from the machine's clock on purpose: a decision taken on Date.now() instead of the injected clock
// would see every window open and every deadline far away.
const T = Date.parse("2031-03-01T10:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function record(generation: number, content = `generation ${generation}`): GenerationRecord {
  const nodes: Record<string, NodeDesired> = {};
  for (const n of NODES)
    nodes[n] = NodeDesiredSchema.parse({
      node: n,
      role: ROLE[n],
      files: [{ path: "/etc/x.conf", content, mode: "0644", owner: "root", group: "wheel" }],
      services: [],
      actions: [],
      health: { release: 9646 },
    });
  return { generation, createdAt: iso(T), by: "test", specText: "", spec, nodes };
}

/** A node's report: its service running and its component healthy (jicofo with every bridge, since `at`). */
function healthy(node: Node, generation: number, at: number): NodeStatus {
  const component = COMPONENT[node];
  return {
    generation,
    applying: null,
    files: [],
    services: component
      ? [{ name: component, enabled: true, running: true, flags: null, state: "ok", restarts: 0 }]
      : [],
    health: component
      ? [
          {
            component,
            state: "healthy",
            explain: "ok",
            since: iso(at),
            signals: [],
            ...(node === "jicofo" ? { bridges: ["jvb"], bridgesSince: { jvb: iso(at) } } : {}),
          },
        ]
      : [],
    metrics: null,
  };
}

interface Script {
  /** What the node's agent answers a desired state with (default: applied, nothing restarted). */
  answer?: (node: Node, generation: number) => Partial<ApplyResult>;
  /** What it reports after applying (default: healthy at the clock's time). */
  report?: (node: Node, generation: number) => NodeStatus;
}

/** A fleet of scripted agents (one per node, connected), a store in memory, and a rollout on a manual clock. */
function scripted(script: Script = {}) {
  const clock = new ManualClock(T);
  const fleet = new Fleet(() => new Date(clock.now()));
  const sent: { node: string; generation: number }[] = [];
  for (const node of NODES) {
    const conn: AgentConnection = {
      node,
      remote: "127.0.0.1",
      send(frame: CoordinatorToAgent) {
        if (frame.type !== "desired" || !("id" in frame)) return true;
        sent.push({ node, generation: frame.generation });
        const over = script.answer?.(node, frame.generation) ?? {};
        queueMicrotask(() => {
          const result: ApplyResult = {
            type: "apply-result",
            replyTo: frame.id,
            generation: frame.generation,
            ok: true,
            unchanged: false,
            items: [],
            ...over,
          };
          const generation = result.ok ? frame.generation : 0;
          const status = script.report?.(node, generation) ?? healthy(node, generation, clock.now());
          fleet.receive(node, { type: "snapshot", status });
          fleet.receive(node, result);
        });
        return true;
      },
      close() {},
    };
    fleet.attach(conn, "0.1.0");
    fleet.receive(node, { type: "snapshot", status: healthy(node, 1, T - 600_000) });
  }
  const generations = new Map<number, GenerationRecord>([[1, record(1)]]);
  const audit: Omit<AuditEntry, "at">[] = [];
  const pointers: { desired: number; good: number }[] = [];
  const store: RolloutStore = {
    loadGeneration: async (n) => generations.get(n) ?? null,
    saveGeneration: async (rec) => {
      generations.set(rec.generation, rec);
    },
    setCurrent: async (p) => {
      pointers.push(p);
    },
    audit: async (e) => {
      audit.push(e);
    },
  };
  const inForce: number[] = [];
  const rollout = new Rollout({
    fleet,
    store,
    clock,
    inForce: (rec) => inForce.push(rec.generation),
  });
  const events: Omit<PushEvent, "at" | "generation">[] = [];
  const run: RolloutRun = {
    by: "test",
    timeoutMs: 600_000,
    emit: (e) => events.push(e),
    good: 1,
    readyBefore: false,
  };
  return { clock, fleet, sent, store, audit, pointers, inForce, rollout, events, run, generations };
}

describe("Rollout.apply", () => {
  it("reads an apply result: applied, or the agent's failed items", async () => {
    const s = scripted({
      answer: (node) =>
        node === "jvb"
          ? {
              ok: false,
              items: [{ kind: "service", target: "jvb", status: "failed", detail: "rcctl check: failed" }],
            }
          : {},
    });
    const d = record(2).nodes.web!;
    const ok = await s.rollout.apply("web", 2, d);
    expect(ok).toMatchObject({ ok: true, result: { type: "apply-result", generation: 2 } });
    const bad = await s.rollout.apply("jvb", 2, d);
    expect(bad).toMatchObject({ ok: false, problem: "service jvb: failed (rcctl check: failed)" });
    expect(bad.result).not.toBeNull();
    expect(s.sent).toEqual([
      { node: "web", generation: 2 },
      { node: "jvb", generation: 2 },
    ]);
  });

  it("turns no answer into a problem without a result, never a rejection", async () => {
    const s = scripted();
    const away = await s.rollout.apply("nobody", 2, record(2).nodes.web!);
    expect(away).toEqual({ ok: false, problem: "nobody is not connected", result: null });
  });
});

describe("applyProblem", () => {
  const result = (over: Partial<ApplyResult> = {}): ApplyResult => ({
    type: "apply-result",
    replyTo: "c1",
    generation: 3,
    ok: true,
    unchanged: false,
    items: [],
    ...over,
  });

  it("is null for a success, else the agent's error or its failed items", () => {
    expect(applyProblem(result())).toBeNull();
    expect(applyProblem(result({ ok: false, error: "refused: /etc/x: outside the allow-list" }))).toBe(
      "refused: /etc/x: outside the allow-list",
    );
    const items: ApplyResult["items"] = [
      { kind: "file", target: "/etc/a", status: "written" },
      { kind: "service", target: "jicofo", status: "failed", detail: "rcctl check: failed" },
    ];
    expect(applyProblem(result({ ok: false, items }))).toBe("service jicofo: failed (rcctl check: failed)");
  });
});

describe("Rollout.run", () => {
  it("rolls out in the paper's order, gate by gate, and makes the generation the good one", async () => {
    const s = scripted();
    const outcome = await s.rollout.run(record(2), s.run, s.generations.get(1)!);
    expect(outcome).toMatchObject({ ok: true, generation: 2, message: "generation 2 rolled out" });
    expect(Object.values(outcome.nodes)).toEqual(NODES.map(() => "healthy"));
    const order = s.sent.map((x) => x.node);
    expect(order.slice(0, 2)).toEqual(["vmm", "xmpp"]);
    expect(new Set(order.slice(2))).toEqual(new Set(["jicofo", "jvb", "web"]));
    expect(s.events.filter((e) => e.kind === "stage").map((e) => e.stage)).toEqual([
      "host",
      "xmpp",
      "focus and bridges",
      "web",
    ]);
    expect(s.pointers).toEqual([{ desired: 2, good: 2 }]);
    expect(s.audit.map((e) => e.kind)).toEqual(["push-succeeded"]);
  });

  it("rolls back a failed apply by applying the good generation's content as the next generation", async () => {
    const s = scripted({
      answer: (node, generation) =>
        node === "jicofo" && generation === 2
          ? { ok: false, error: "refused: /etc/jicofo/jicofo.conf: outside the allow-list" }
          : {},
    });
    const outcome = await s.rollout.run(record(2), s.run, s.generations.get(1)!);
    expect(outcome).toMatchObject({ ok: false, generation: 2, rolledBackTo: 1 });
    expect(outcome.message).toContain(
      "jicofo: apply failed: refused: /etc/jicofo/jicofo.conf: outside the allow-list",
    );
    expect(s.inForce).toEqual([3]);
    expect(s.generations.get(3)?.nodes).toEqual(record(1).nodes);
    // Every node the push reached gets generation 3 (the good content), in the rollout's order again.
    const restore = s.sent.filter((x) => x.generation === 3).map((x) => x.node);
    expect(new Set(restore)).toEqual(new Set(NODES));
    expect(restore.slice(0, 2)).toEqual(["vmm", "xmpp"]);
    expect(s.pointers).toEqual([{ desired: 3, good: 3 }]);
    expect(s.audit.map((e) => e.kind)).toEqual(["push-failed", "rollback"]);
  });

  it("measures a dependent's recovery window on the injected clock, not the machine's", async () => {
    // The push restarts prosody; jicofo then reports it lost prosody and never comes back.
    const lost = (at: number): HealthSignal => ({
      component: "jicofo",
      signal: "xmpp-not-connected",
      label: "failed",
      explain: "jicofo is not connected to prosody",
      at: iso(at),
    });
    const jicofoDown: NodeStatus = {
      ...healthy("jicofo", 2, T),
      health: [
        {
          component: "jicofo",
          state: "degraded",
          explain: "jicofo is not connected to prosody",
          since: iso(T + 1000),
          signals: [lost(T + 1000)],
          bridges: [],
        },
      ],
    };
    const s = scripted({
      answer: (node, generation) =>
        node === "xmpp" && generation === 2
          ? { items: [{ kind: "service", target: "prosody", status: "restarted" }] }
          : {},
      report: (node, generation) =>
        node === "jicofo" && generation === 2 ? jicofoDown : healthy(node, generation, T),
    });
    let outcome: PushOutcome | null = null;
    void s.rollout.run(record(2), s.run, s.generations.get(1)!).then((o) => {
      outcome = o;
    });
    const gating = (text: string) =>
      s.events.find((e) => e.node === "jicofo" && e.phase === "gating" && e.message.includes(text));
    await waitFor(() => gating("(0s of its 45s recovery window)"), {
      what: "jicofo waiting in its recovery window",
      intervalMs: 0,
    });
    // 44 s on the injected clock (a moment on the machine's): still inside the window.
    s.clock.advance(44_000);
    await waitFor(() => gating("(44s of its 45s recovery window)"), {
      what: "jicofo still waiting 44 s later",
      intervalMs: 0,
    });
    expect(outcome).toBeNull();
    // The window closes on the injected clock: the gate fails and the push is rolled back.
    s.clock.advance(2_000);
    const done = await waitFor(() => outcome, { what: "the push's outcome", intervalMs: 0 });
    expect(done.ok).toBe(false);
    expect(done.message).toContain(
      "jicofo on jicofo did not come back within its 45s recovery window after prosody on xmpp restarted",
    );
    expect(s.inForce).toEqual([3]);
  });
});
