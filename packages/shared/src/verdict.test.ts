import { describe, expect, it } from "vitest";
import { deploymentVerdict, type NodeHealth } from "./verdict.js";

const AT = "2024-05-01T12:00:00.000Z";
type Health = NodeHealth["health"][number];
type Sig = Health["signals"][number];

const sig = (component: Sig["component"], signal: string, label: Sig["label"], detail?: string): Sig => ({
  component,
  signal,
  label,
  explain: `${signal}.`,
  at: AT,
  ...(detail === undefined ? {} : { detail }),
});

function h(
  component: Health["component"],
  state: Health["state"],
  signals: Sig[] = [],
  explain = "ok",
): Health {
  return { component, state, explain, since: AT, signals };
}

const BREWERY = "jvbbrewery@internal.auth.jts.fips.de";
const prosodyOk = h("prosody", "healthy", [
  sig("prosody", "c2s-authenticated-focus", "healthy", "focus@auth.jts.fips.de"),
  sig("prosody", "c2s-authenticated-jvb", "healthy", "jvb@auth.jts.fips.de"),
]);
const jicofoOk = h("jicofo", "healthy", [sig("jicofo", "brewery-bridges", "healthy", `1: ${BREWERY}/jvb`)]);

function deployment(over: Partial<Record<"web" | "xmpp" | "jicofo" | "jvb", Health[]>> = {}): NodeHealth[] {
  return [
    { node: "vmm", role: "host", health: [] },
    { node: "web", role: "web", health: over.web ?? [h("nginx", "healthy")] },
    { node: "xmpp", role: "xmpp", health: over.xmpp ?? [prosodyOk] },
    { node: "jicofo", role: "jicofo", health: over.jicofo ?? [jicofoOk] },
    { node: "jvb", role: "jvb", health: over.jvb ?? [h("jvb", "healthy")] },
  ];
}

describe("deploymentVerdict", () => {
  it("is conference-ready when nginx and prosody are healthy, focus and jvb logged in and jicofo has a bridge", () => {
    const r = deploymentVerdict(deployment());
    expect(r.verdict).toBe("conference-ready");
    expect(r.reasons).toContain("jicofo on jicofo has 1 bridge in the brewery");
    expect(r.reasons).toContain(
      "prosody on xmpp has seen focus@auth.jts.fips.de and jvb@auth.jts.fips.de log in",
    );
  });

  it("is down without a bridge, even when every component is healthy otherwise", () => {
    const jicofo = h("jicofo", "healthy", [sig("jicofo", "brewery-bridges", "failed")]);
    const r = deploymentVerdict(deployment({ jicofo: [jicofo] }));
    expect(r).toMatchObject({ verdict: "down" });
    expect(r.reasons[0]).toBe("jicofo on jicofo has no bridge in the brewery");
  });

  it("is down when an essential component is failed, starting or missing", () => {
    const failed = deploymentVerdict(
      deployment({ xmpp: [h("prosody", "failed", [], "prosody is not running")] }),
    );
    expect(failed.verdict).toBe("down");
    expect(failed.reasons).toContain("prosody on xmpp is failed: prosody is not running");
    expect(deploymentVerdict(deployment({ web: [h("nginx", "starting")] })).verdict).toBe("down");
    const missing = deploymentVerdict(deployment({ web: [] }));
    expect(missing).toMatchObject({ verdict: "down", reasons: ["no web node reports nginx health"] });
    // a failed jicofo without the brewery signal has no bridge either
    const j = deploymentVerdict(
      deployment({ jicofo: [h("jicofo", "failed", [], "jicofo has no bridge in the brewery")] }),
    );
    expect(j.reasons.slice(0, 2)).toEqual([
      "jicofo on jicofo has no bridge in the brewery",
      "jicofo on jicofo is failed: jicofo has no bridge in the brewery",
    ]);
  });

  it("is degraded when conferences work but something needs attention", () => {
    const noJvbLogin = h("prosody", "healthy", [sig("prosody", "c2s-authenticated-focus", "healthy")]);
    expect(deploymentVerdict(deployment({ xmpp: [noJvbLogin] }))).toEqual({
      verdict: "degraded",
      reasons: ["prosody on xmpp has not seen a jvb log in"],
    });
    const r = deploymentVerdict(deployment({ web: [h("nginx", "degraded", [], "upstream timed out")] }));
    expect(r).toEqual({ verdict: "degraded", reasons: ["nginx on web is degraded: upstream timed out"] });
    // one of two bridges is down: jicofo still has one
    const nodes = [
      ...deployment(),
      { node: "jvb2", role: "jvb" as const, health: [h("jvb", "failed", [], "jvb is not running")] },
    ];
    expect(deploymentVerdict(nodes)).toEqual({
      verdict: "degraded",
      reasons: ["jvb on jvb2 is failed: jvb is not running"],
    });
  });

  it("counts the bridges from jicofo's brewery signal, or trusts a healthy jicofo without it", () => {
    const two = h("jicofo", "healthy", [
      sig("jicofo", "brewery-bridges", "healthy", `2: ${BREWERY}/a, ${BREWERY}/b`),
    ]);
    expect(deploymentVerdict(deployment({ jicofo: [two] })).reasons).toContain(
      "jicofo on jicofo has 2 bridges in the brewery",
    );
    expect(deploymentVerdict(deployment({ jicofo: [h("jicofo", "healthy")] })).reasons).toContain(
      "jicofo on jicofo has a bridge in the brewery",
    );
  });

  it("names a node whose agent is away first, with when it was last heard from, and is not conference-ready", () => {
    const nodes = deployment().map((n) =>
      n.node === "jvb" ? { ...n, unreachableSince: "2024-05-01T12:03:00.000Z" } : n,
    );
    const v = deploymentVerdict(nodes);
    expect(v.verdict).toBe("degraded");
    expect(v.reasons[0]).toBe(
      "jvb unreachable since 2024-05-01T12:03:00.000Z: its health is what it last reported",
    );
    // A problem it last reported still counts for down, after the node's name.
    const down = deployment({ web: [h("nginx", "failed", [], "nginx is not running")] }).map((n) =>
      n.node === "web" ? { ...n, unreachableSince: null } : n,
    );
    expect(deploymentVerdict(down)).toMatchObject({
      verdict: "down",
      reasons: [
        "web unreachable (never connected): its health is what it last reported",
        "nginx on web is failed: nginx is not running",
      ],
    });
  });
});
