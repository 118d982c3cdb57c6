import { createHash } from "node:crypto";
import {
  type ComponentHealth,
  type NodeDesired,
  type NodeDesiredInput,
  NodeDesired as NodeDesiredSchema,
  type NodeStatus,
} from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import {
  alarmStep,
  type CrossNodeInput,
  crossNodeRepairs,
  driftedFiles,
  NO_ALARM,
  type NodeView,
  reassertPlan,
} from "./heal-rules.js";

const T = Date.parse("2024-05-01T12:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function desired(node: string, content = "a = 1\n"): NodeDesired {
  const d: NodeDesiredInput = {
    node,
    role: "jvb",
    files: [{ path: "/etc/jvb/jvb.conf", content, mode: "0640", owner: "root", group: "_jvb" }],
    services: [{ name: "jvb", flags: null, order: 20, graceSeconds: 90 }],
    actions: [],
    health: { release: 9646 },
  };
  return NodeDesiredSchema.parse(d);
}

function status(generation: number, content = "a = 1\n", extra: Partial<NodeStatus> = {}): NodeStatus {
  return {
    generation,
    applying: null,
    files: [
      {
        path: "/etc/jvb/jvb.conf",
        sha256: createHash("sha256").update(content).digest("hex"),
        mode: "0640",
        owner: "root",
        group: "_jvb",
      },
    ],
    services: [],
    health: [],
    metrics: null,
    ...extra,
  };
}

const view = (node: string, role: NodeView["role"], st: NodeStatus | null, connected = true): NodeView => ({
  node,
  role,
  connected,
  status: st,
});

describe("re-asserting the generation in force", () => {
  it("re-pushes nodes that lag or report drifted files, in the given order, and no others", () => {
    const d = { a: desired("a"), b: desired("b"), c: desired("c"), d: desired("d"), e: desired("e") };
    const nodes = new Map([
      ["a", view("a", "jvb", status(3))],
      ["b", view("b", "jvb", status(2))],
      ["c", view("c", "jvb", status(3, "hand edit\n"))],
      ["d", view("d", "jvb", null)],
      ["e", view("e", "jvb", status(1), false)],
    ]);
    expect(reassertPlan(["d", "c", "b", "a", "e"], 3, d, nodes)).toEqual([
      { node: "d", why: "lagging", detail: "applied 0, in force 3" },
      { node: "c", why: "drift", detail: "files differ: /etc/jvb/jvb.conf" },
      { node: "b", why: "lagging", detail: "applied 2, in force 3" },
    ]);
  });

  it("leaves a node alone while it applies, and compares modes and base64 content", () => {
    const d = { a: desired("a") };
    expect(
      reassertPlan(["a"], 3, d, new Map([["a", view("a", "jvb", status(2, "x", { applying: 3 }))]])),
    ).toEqual([]);
    const st = status(3);
    st.files[0]!.mode = "0644";
    expect(driftedFiles(d.a, st)).toEqual(["/etc/jvb/jvb.conf"]);
    const b64 = NodeDesiredSchema.parse({
      ...d.a,
      files: [{ ...d.a.files[0]!, content: Buffer.from("a = 1\n").toString("base64"), encoding: "base64" }],
    });
    expect(driftedFiles(b64, status(3))).toEqual([]);
  });
});

function health(
  component: ComponentHealth["component"],
  state: ComponentHealth["state"],
  since: number,
  signals: [string, "failed" | "healthy"][] = [],
): ComponentHealth {
  return {
    component,
    state,
    explain: "test",
    since: iso(since),
    signals: signals.map(([signal, label]) => ({
      component,
      signal,
      label,
      explain: "test",
      at: iso(since),
    })),
  };
}

describe("cross-node repairs", () => {
  const input = (
    prosody: ComponentHealth,
    jicofo: ComponentHealth,
    jvb: ComponentHealth,
    now: number,
    last: Record<string, number> = {},
  ): CrossNodeInput => ({
    nodes: [
      view("xmpp", "xmpp", status(1, "", { health: [prosody] })),
      view("jicofo", "jicofo", status(1, "", { health: [jicofo] })),
      view("jvb", "jvb", status(1, "", { health: [jvb] })),
      view("jvb2", "jvb", status(1, "", { health: [health("jvb", "healthy", T)] })),
    ],
    now,
    graceMs: () => 90_000,
    lastRepair: (node, service) => last[`${node}/${service}`] ?? null,
  });
  const lost = (c: ComponentHealth["component"]) =>
    health(c, "failed", T - 60_000, [["xmpp-not-connected", "failed"]]);
  const up = health("prosody", "healthy", T);

  it("does nothing while prosody is not healthy, or before a client's grace period after prosody came up", () => {
    const down = health("prosody", "failed", T);
    expect(crossNodeRepairs(input(down, lost("jicofo"), lost("jvb"), T + 3_600_000))).toEqual([]);
    expect(crossNodeRepairs(input(up, lost("jicofo"), lost("jvb"), T + 89_000))).toEqual([]);
  });

  it("restarts jicofo first, the bridges only once jicofo is up again", () => {
    const now = T + 90_000;
    expect(crossNodeRepairs(input(up, lost("jicofo"), lost("jvb"), now))).toEqual([
      {
        node: "jicofo",
        service: "jicofo",
        reason:
          "jicofo on jicofo has not reconnected to prosody (xmpp-not-connected) 90 s after prosody came up",
      },
    ]);
    // Restarted for this outage: not again, and the bridges wait for its grace period or its recovery.
    const repaired = { "jicofo/jicofo": now };
    expect(crossNodeRepairs(input(up, lost("jicofo"), lost("jvb"), now + 10_000, repaired))).toEqual([]);
    const starting = health("jicofo", "starting", now);
    expect(crossNodeRepairs(input(up, starting, lost("jvb"), now + 10_000, repaired))).toEqual([]);
    const back = health("jicofo", "healthy", now + 20_000);
    expect(crossNodeRepairs(input(up, back, lost("jvb"), now + 30_000, repaired))).toEqual([
      expect.objectContaining({ node: "jvb", service: "jvb" }),
    ]);
  });

  it("leaves failures that are not a lost prosody to the agents and the admin", () => {
    const other = health("jicofo", "failed", T, [["xmpp-auth-failed", "failed"]]);
    expect(crossNodeRepairs(input(up, other, health("jvb", "degraded", T), T + 3_600_000))).toEqual([]);
  });
});

describe("deployment alarm", () => {
  const down = { verdict: "down" as const, reasons: ["jicofo has no bridge"] };
  it("is raised once after the verdict stayed down for the threshold, and cleared by any other verdict", () => {
    let s = alarmStep(NO_ALARM, down, T, 300_000);
    expect(s).toEqual({ state: { downSince: T, raised: false, reasons: down.reasons }, change: null });
    s = alarmStep(s.state, down, T + 299_999, 300_000);
    expect(s.change).toBeNull();
    s = alarmStep(s.state, down, T + 300_000, 300_000);
    expect(s).toMatchObject({ change: "raised", state: { raised: true, downSince: T } });
    s = alarmStep(s.state, down, T + 900_000, 300_000);
    expect(s.change).toBeNull();
    s = alarmStep(s.state, { verdict: "degraded", reasons: [] }, T + 900_001, 300_000);
    expect(s).toEqual({ state: NO_ALARM, change: "cleared" });
    // A short outage raises nothing.
    s = alarmStep(NO_ALARM, down, T, 300_000);
    s = alarmStep(s.state, { verdict: "conference-ready", reasons: [] }, T + 1000, 300_000);
    expect(s.change).toBeNull();
  });
});
