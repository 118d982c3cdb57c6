import { type ComponentHealth, type HealthSignal, type NodeStatus, SpecSchema } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { fleetSpec as spec } from "../../../../test/helpers/fleet-spec.js";
import { evaluateGate } from "./gates.js";
import { dependentsOf, type Recovery } from "./recovery.js";

const T = Date.parse("2026-12-06T09:00:00Z");
const iso = (ms: number) => new Date(ms).toISOString();

function signal(
  component: HealthSignal["component"],
  name: string,
  label: HealthSignal["label"],
  at: number,
) {
  return { component, signal: name, label, explain: `${name} explained`, at: iso(at) } satisfies HealthSignal;
}

function node(
  service: string,
  health: Partial<ComponentHealth> & Pick<ComponentHealth, "component" | "state">,
  running = true,
): NodeStatus {
  return {
    generation: 1,
    applying: null,
    files: [],
    services: [
      { name: service, enabled: true, running, flags: null, state: running ? "ok" : "stopped", restarts: 0 },
    ],
    health: [{ explain: "", since: iso(T - 60_000), signals: [], ...health }],
    metrics: null,
  };
}

/** jicofo after prosody's restart at T: the given signals and bridges. */
function jicofo(state: ComponentHealth["state"], signals: HealthSignal[], bridgesSince?: number): NodeStatus {
  return node("jicofo", {
    component: "jicofo",
    state,
    explain: state === "failed" ? "jicofo cannot open a TCP connection to prosody's client port" : "ok",
    signals,
    ...(bridgesSince === undefined
      ? { bridges: [] }
      : { bridges: ["jvb"], bridgesSince: { jvb: iso(bridgesSince) } }),
  });
}

const prosodyRestart = (component: Recovery["component"]): Recovery => ({
  component,
  since: T,
  windowMs: 45_000,
  cause: "prosody on xmpp restarted",
});

const gate = (
  g: Parameters<typeof evaluateGate>[0],
  name: string,
  nodes: Record<string, NodeStatus>,
  now: number,
  recovering: Record<string, Recovery> = {},
) =>
  evaluateGate(g, spec, (n) => nodes[n] ?? null, name, {
    now,
    recovering: new Map(Object.entries(recovering)),
    restartedSince: new Map(Object.keys(recovering).includes("jvb") ? [["jvb", T]] : []),
  });

describe("dependentsOf", () => {
  it("prosody's dependents are jicofo, every jvb and web; a jvb's is jicofo; the others have none", () => {
    expect(dependentsOf(spec, "xmpp").map((d) => `${d.node}:${d.component}`)).toEqual([
      "jicofo:jicofo",
      "jvb:jvb",
      "web:nginx",
    ]);
    expect(dependentsOf(spec, "jvb").map((d) => d.node)).toEqual(["jicofo"]);
    expect(dependentsOf(spec, "web")).toEqual([]);
    expect(dependentsOf(spec, "jicofo")).toEqual([]);
  });
});

describe("a gate while a dependency restarts", () => {
  const refused = signal("jicofo", "xmpp-connection-refused", "failed", T + 1000);
  const recovering = { jicofo: prosodyRestart("jicofo") };
  /** jicofo's brewery gate at `now` with jicofo failed on `signals`, while prosody's restart at T recovers. */
  const failedJicofoGate = (signals: HealthSignal[], now: number) =>
    gate("brewery-complete", "jicofo", { jicofo: jicofo("failed", signals) }, now, recovering);

  it("without a recovery, jicofo's refused connection fails the gate at once (the old behaviour)", () => {
    const r = gate("brewery-complete", "jicofo", { jicofo: jicofo("failed", [refused]) }, T + 2000);
    expect(r.failed).toMatch(/jicofo failed/);
  });

  it("inside the window, a refused connection is recovering: waiting, not failed", () => {
    const r = failedJicofoGate([refused], T + 2000);
    expect(r.failed).toBeUndefined();
    expect(r.passed).toBe(false);
    expect(r.waitingFor).toMatch(/jicofo to reconnect after prosody on xmpp restarted \(2s of its 45s/);
  });

  it("an authentication failure after the restart fails at once, inside the window", () => {
    const auth = signal("jicofo", "xmpp-auth-failed", "failed", T + 3000);
    const r = failedJicofoGate([auth, refused], T + 4000);
    expect(r.failed).toMatch(/waiting will not heal it: xmpp-auth-failed explained/);
  });

  it("a non-recoverable signal from before the restart does not count (it was cured then)", () => {
    const old = signal("jicofo", "xmpp-auth-failed", "failed", T - 60_000);
    const r = failedJicofoGate([refused, old], T + 2000);
    expect(r.failed).toBeUndefined();
  });

  it("after the window, what still stands is a failure naming the window", () => {
    const r = failedJicofoGate([refused], T + 46_000);
    expect(r.failed).toMatch(
      /did not come back within its 45s recovery window after prosody on xmpp restarted/,
    );
  });

  it("healthy is not enough: the bridge must have joined the brewery again since the restart", () => {
    const stale = jicofo(
      "healthy",
      [signal("jicofo", "brewery-room-joined", "healthy", T + 5000)],
      T - 60_000,
    );
    const r = gate("brewery-complete", "jicofo", { jicofo: stale }, T + 6000, {
      ...recovering,
      jvb: prosodyRestart("jvb"),
    });
    expect(r.passed).toBe(false);
    expect(r.waitingFor).toMatch(/bridges in jicofo's brewery: jvb/);
    const back = jicofo(
      "healthy",
      [
        signal("jicofo", "brewery-room-joined", "healthy", T + 5000),
        signal("jicofo", "brewery-instance-added", "healthy", T + 5500),
      ],
      T + 5500,
    );
    expect(gate("brewery-complete", "jicofo", { jicofo: back }, T + 6000, recovering).passed).toBe(true);
  });

  it("a jvb passes once it joined the brewery MUC again; a jvb that is not running fails at once", () => {
    const jvbRec = { jvb: prosodyRestart("jvb") };
    const running = node("jvb", { component: "jvb", state: "healthy" });
    expect(gate("brewery-complete", "jvb", { jvb: running }, T + 1000, jvbRec).passed).toBe(false);
    const joined = node("jvb", {
      component: "jvb",
      state: "healthy",
      signals: [signal("jvb", "brewery-muc-joined", "healthy", T + 3000)],
    });
    expect(gate("brewery-complete", "jvb", { jvb: joined }, T + 4000, jvbRec).passed).toBe(true);
    const gone = node("jvb", { component: "jvb", state: "failed" }, false);
    expect(gate("brewery-complete", "jvb", { jvb: gone }, T + 1000, jvbRec).failed).toMatch(
      /jvb is not running/,
    );
  });

  it("nginx degraded by BOSH upstream errors from before prosody came back serves again", () => {
    const nginx = node("nginx", {
      component: "nginx",
      state: "degraded",
      signals: [signal("nginx", "bosh-upstream-connect-failed", "degraded", T + 1000)],
    });
    const prosody = node("prosody", { component: "prosody", state: "healthy", since: iso(T + 4000) });
    const rec = { web: prosodyRestart("nginx") };
    expect(gate("web-healthy", "web", { web: nginx, xmpp: prosody }, T + 5000, rec).passed).toBe(true);
    // An upstream error after prosody is back is not the restart's: wait, then fail at the window's end.
    const later = node("nginx", {
      component: "nginx",
      state: "degraded",
      signals: [signal("nginx", "bosh-upstream-connect-failed", "degraded", T + 4500)],
    });
    expect(gate("web-healthy", "web", { web: later, xmpp: prosody }, T + 5000, rec).passed).toBe(false);
    expect(gate("web-healthy", "web", { web: later, xmpp: prosody }, T + 50_000, rec).failed).toMatch(
      /did not come back/,
    );
  });

  it("a component the push restarted itself: its grace covers startup noise, a rejected password fails at once", () => {
    const own = {
      jicofo: {
        component: "jicofo" as const,
        since: T,
        windowMs: 0,
        cause: "its own restart",
        ownStart: true,
      },
    };
    const starting = (signals: HealthSignal[]) => jicofo("starting", signals);
    const noisy = gate("brewery-complete", "jicofo", { jicofo: starting([refused]) }, T + 2000, own);
    expect(noisy.failed).toBeUndefined();
    expect(noisy.passed).toBe(false);
    // A line of the old process read while the restart stopped it: not the new process's failure.
    const stale = signal("jicofo", "xmpp-auth-failed", "failed", T + 1000);
    expect(
      gate("brewery-complete", "jicofo", { jicofo: starting([stale]) }, T + 9000, own).failed,
    ).toBeUndefined();
    // The new process refused too (logged well after the restart began): fails, unless a login cured it.
    const auth = signal("jicofo", "xmpp-auth-failed", "failed", T + 6000);
    const cured = starting([auth, signal("jicofo", "brewery-room-joined", "healthy", T + 6500)]);
    expect(gate("brewery-complete", "jicofo", { jicofo: cured }, T + 9000, own).failed).toBeUndefined();
    const r = gate("brewery-complete", "jicofo", { jicofo: starting([auth]) }, T + 6100, own);
    expect(r.failed).toMatch(/jicofo on jicofo failed after its own restart, and waiting will not heal it/);
  });
});

describe("operations.recoverySeconds", () => {
  it("defaults to the real programs' reconnect timing and refuses nonsense at its path", () => {
    expect(spec.operations.recoverySeconds).toEqual({ jicofo: 45, jvb: 30, nginx: 20 });
    const base = { ...(spec as object), operations: { recoverySeconds: { jicofo: 0, web: 5 } } };
    const r = SpecSchema.safeParse(base);
    expect(r.success).toBe(false);
    const paths = (r.error?.issues ?? []).map((i) => i.path.join("."));
    expect(paths).toContain("operations.recoverySeconds.jicofo");
    expect(paths).toContain("operations.recoverySeconds");
  });
});
