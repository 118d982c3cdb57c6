// The status page's view: node states (with the brewery's word on each bridge), flow states, and the push
// progress built from the core's push events. The page itself in a browser: test/status-page.test.ts.
import type { ComponentHealth, NodeStatus } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { paperInput } from "../../../../test/helpers/render.js";
import { ADMIN_METHODS } from "../admin/methods.js";
import { buildStatus } from "../fleet/status.js";
import type { PushEvent } from "./coordinator.js";
import { buildLiveView, nodeState, PushTracker } from "./live.js";

const AT = "2026-01-01T12:00:00.000Z";
const spec = paperInput().spec;

const health = (
  component: ComponentHealth["component"],
  state: ComponentHealth["state"],
  extra: Partial<ComponentHealth> = {},
): ComponentHealth => ({
  component,
  state,
  explain: `${component} ${state}`,
  since: AT,
  signals: [],
  ...extra,
});

const signal = (component: ComponentHealth["component"], name: string, detail: string) => ({
  component,
  signal: name,
  label: "healthy" as const,
  explain: name,
  detail,
  at: AT,
});

function nodeStatus(h: ComponentHealth[], services: NodeStatus["services"] = []): NodeStatus {
  return { generation: 1, applying: null, files: [], services, health: h, metrics: null };
}

const svc = (name: string, state: NodeStatus["services"][number]["state"]) => ({
  name,
  enabled: true,
  running: state === "ok" || state === "starting",
  flags: null,
  state,
  restarts: 0,
});

/** The paper's deployment as the fleet would hold it; `bridges` is what jicofo has in its brewery. */
function fleet(bridges: string[], over: Record<string, NodeStatus | null> = {}) {
  const statuses: Record<string, NodeStatus | null> = {
    vmm: nodeStatus([], [svc("vmd", "ok")]),
    web: nodeStatus([health("nginx", "healthy")], [svc("nginx", "ok")]),
    xmpp: nodeStatus([
      health("prosody", "healthy", {
        signals: [
          signal("prosody", "c2s-authenticated-focus", "focus@auth.jts.fips.de"),
          signal("prosody", "c2s-authenticated-jvb", "jvb@auth.jts.fips.de"),
        ],
      }),
    ]),
    jicofo: nodeStatus([health("jicofo", bridges.length > 0 ? "healthy" : "failed", { bridges })]),
    // jvb's own service is inside its start-up grace: that alone does not make the node "starting".
    jvb: nodeStatus([health("jvb", "healthy")], [svc("jvb", "starting")]),
    ...over,
  };
  const nodes = new Map(
    Object.entries(statuses).map(([name, status]) => [
      name,
      {
        name,
        connected: status !== null,
        remote: null,
        lastSeen: AT,
        agentVersion: "0.1.0",
        status,
        events: [],
        reconnects: 0,
      },
    ]),
  );
  return buildStatus(spec, 1, nodes, new Date(AT), null);
}

describe("the live view", () => {
  it("a conference-ready deployment: every node and every known flow healthy", () => {
    const v = buildLiveView(spec, fleet(["jvb"]), null, []);
    expect(v.verdict.verdict).toBe("conference-ready");
    expect(Object.fromEntries(v.nodes.map((n) => [n.node, n.state]))).toEqual({
      vmm: "healthy",
      web: "healthy",
      xmpp: "healthy",
      jicofo: "healthy",
      jvb: "healthy",
    });
    expect(v.flows["jicofo+jvb>xmpp:tcp/5222"]?.state).toBe("healthy");
    expect(v.flows["web>xmpp:tcp/5280"]?.state).toBe("healthy");
    expect(v.flows["world>jvb:udp/10000"]?.state).toBe("healthy");
    expect(v.flows["web+xmpp+jicofo+jvb>host:tcp/7443"]?.state).toBe("healthy");
    expect(v.brewery).toEqual({ state: "healthy", why: "1 of 1 bridges" });
  });

  it("a bridge jicofo does not have is failed, and so are its media and its login", () => {
    const v = buildLiveView(spec, fleet([]), null, []);
    const jvb = v.nodes.find((n) => n.node === "jvb")!;
    expect(jvb.state).toBe("failed");
    expect(jvb.why).toMatch(/^not in jicofo's brewery/);
    expect(v.flows["world>jvb:udp/10000"]?.state).toBe("failed");
    expect(v.flows["jicofo+jvb>xmpp:tcp/5222"]).toEqual({
      state: "degraded",
      why: "not logged in: jvb (not in the brewery)",
    });
    expect(v.brewery?.state).toBe("failed");
  });

  it("while jicofo starts, a bridge not yet in its brewery is starting; one that left is failed", () => {
    const starting = (signals: ComponentHealth["signals"]) =>
      fleet([], { jicofo: nodeStatus([health("jicofo", "starting", { bridges: [], signals })]) });
    expect(buildLiveView(spec, starting([]), null, []).nodes.find((n) => n.node === "jvb")?.state).toBe(
      "starting",
    );
    const removed = {
      ...signal("jicofo", "brewery-instance-removed", "jvbbrewery@internal.auth.jts.fips.de/jvb"),
      label: "degraded" as const,
    };
    expect(
      buildLiveView(spec, starting([removed]), null, []).nodes.find((n) => n.node === "jvb")?.state,
    ).toBe("failed");
  });

  it("an agent away is offline; a stopped service is failed", () => {
    const away = buildLiveView(spec, fleet(["jvb"], { web: null }), null, []);
    expect(away.nodes.find((n) => n.node === "web")?.state).toBe("offline");
    expect(away.flows["web+xmpp+jicofo+jvb>host:tcp/7443"]).toEqual({
      state: "degraded",
      why: "not connected: web",
    });
    const silent = buildLiveView(spec, fleet(["jvb"], { xmpp: nodeStatus([]) }), null, []);
    expect(silent.flows["jicofo+jvb>xmpp:tcp/5222"]?.state).toBe("unknown");
    const stopped = fleet(["jvb"]).nodes.find((n) => n.node === "web")!;
    stopped.services = [svc("nginx", "stopped")];
    expect(nodeState(stopped)).toEqual({ state: "failed", why: "service nginx is stopped" });
  });
});

describe("PushTracker", () => {
  const ev = (e: Omit<PushEvent, "at" | "generation">): PushEvent => ({ at: AT, generation: 2, ...e });

  it("follows a push stage by stage, each node's phase, and the end", () => {
    const t = new PushTracker();
    t.onEvent(ev({ kind: "accepted", message: "generation 2 accepted" }), spec, "root");
    expect(t.progress?.stages.map((s) => `${s.name}=${s.state}`)).toEqual([
      "host=waiting",
      "xmpp=waiting",
      "focus and bridges=waiting",
      "web=waiting",
    ]);
    t.onEvent(ev({ kind: "stage", stage: "host", message: "stage host: vmm" }), spec, "root");
    t.onEvent(ev({ kind: "stage", stage: "xmpp", message: "stage xmpp: xmpp" }), spec, "root");
    t.onEvent(ev({ kind: "node", node: "xmpp", phase: "gating", message: "waiting" }), spec, "root");
    expect(t.progress?.stages.map((s) => s.state)).toEqual(["passed", "running", "waiting", "waiting"]);
    expect(t.progress?.stages[1]?.nodes).toEqual([{ node: "xmpp", phase: "gating", message: "waiting" }]);
    t.onEvent(ev({ kind: "node", node: "xmpp", phase: "failed", message: "prosody failed" }), spec, "root");
    t.onEvent(ev({ kind: "rollback", message: "restoring generation 1 as 3" }), spec, "root");
    t.onEvent(ev({ kind: "done", message: "generation 2 failed: xmpp: prosody failed" }), spec, "root");
    expect(t.progress).toMatchObject({
      generation: 2,
      by: "root",
      running: false,
      ok: false,
      rollback: "restoring generation 1 as 3",
    });
    expect(t.progress?.stages.map((s) => s.state)).toEqual(["passed", "failed", "waiting", "waiting"]);
    // The next push starts afresh.
    t.onEvent({ ...ev({ kind: "accepted", message: "generation 4 accepted" }), generation: 4 }, spec, "ops");
    expect(t.progress).toMatchObject({ generation: 4, by: "ops", running: true, ok: null, rollback: null });
  });

  it("keeps the bridges' stage running when the web stage starts beside it (both wait for xmpp only)", () => {
    const t = new PushTracker();
    t.onEvent(ev({ kind: "accepted", message: "generation 2 accepted" }), spec, "root");
    for (const stage of ["host", "xmpp", "focus and bridges", "web"])
      t.onEvent(ev({ kind: "stage", stage, message: `stage ${stage}` }), spec, "root");
    expect(t.progress?.stages.map((s) => s.state)).toEqual(["passed", "passed", "running", "running"]);
    t.onEvent(ev({ kind: "done", message: "generation 2 rolled out" }), spec, "root");
    expect(t.progress?.stages.map((s) => s.state)).toEqual(["passed", "passed", "passed", "passed"]);
  });
});

describe("the status report on the admin channel", () => {
  it("passes the status method's result schema unchanged (the CLI checks it and drops no field)", () => {
    const report = fleet(["jvb"], {
      vmm: {
        ...nodeStatus([], [svc("vmd", "ok")]),
        metrics: {
          at: AT,
          load1: 0.5,
          memUsedBytes: 1,
          memTotalBytes: 2,
          disks: [{ mount: "/", usedBytes: 1, sizeBytes: 2 }],
          netErrors: 0,
        },
        vms: [{ name: "web", state: "running", id: 1, memory: "2.0G", wanted: true }],
      },
    });
    const wire: unknown = JSON.parse(JSON.stringify(report));
    expect(ADMIN_METHODS.status.result.parse(wire)).toEqual(wire);
  });
});
