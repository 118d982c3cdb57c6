import type { HealthSignal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { RULES } from "../health/rules.js";
import { REMEDIES, remedyFor } from "./remedies.js";

const sig = (component: HealthSignal["component"], signal: string, label: HealthSignal["label"] = "failed") =>
  ({ component, signal, label, explain: "x", at: "2024-05-01T12:00:00.000Z" }) as HealthSignal;

describe("remedy table", () => {
  it("names only signals the classifier can produce, for the components it watches", () => {
    for (const r of REMEDIES) {
      for (const c of r.components) {
        const known = new Set(RULES[c].map((rule) => rule.signal));
        for (const s of r.signals) expect(known, `${c} ${s}`).toContain(s);
      }
    }
  });

  it("truststore rejected on jicofo or jvb: re-enforce, then restart that service, twice an hour at most", () => {
    expect(remedyFor(sig("jicofo", "truststore-rejected"), "jicofo")).toMatchObject({
      id: "truststore",
      service: "jicofo",
      steps: [{ kind: "enforce" }, { kind: "restart", service: "jicofo" }],
      maxPerHour: 2,
    });
    expect(remedyFor(sig("jvb", "truststore-rejected"), "jvb")?.steps).toEqual([
      { kind: "enforce" },
      { kind: "restart", service: "jvb" },
    ]);
  });

  it("lost prosody: wait for a cure within the grace period, otherwise restart", () => {
    for (const s of ["xmpp-not-connected", "xmpp-connection-refused", "xmpp-connect-failed"]) {
      const plan = remedyFor(sig("jvb", s), "jvb");
      expect(plan?.id).toBe("reconnect");
      expect(plan?.steps).toEqual([
        { kind: "await-cure", component: "jvb", service: "jvb", cures: ["brewery-muc-joined"] },
        { kind: "restart", service: "jvb" },
      ]);
    }
    const jicofo = remedyFor(sig("jicofo", "xmpp-not-connected"), "jicofo");
    expect(jicofo?.steps[0]).toMatchObject({
      kind: "await-cure",
      cures: expect.arrayContaining(["brewery-room-joined"]),
    });
  });

  it("does nothing for signals of another node's component, non-failures, or what needs another VM", () => {
    expect(remedyFor(sig("jicofo", "truststore-rejected"), "jvb")).toBeNull();
    // prosody's side of a truststore problem is cured on the jicofo/jvb VMs: the coordinator's.
    expect(remedyFor(sig("prosody", "truststore-rejected"), "xmpp")).toBeNull();
    expect(remedyFor(sig("prosody", "prosody-started", "info"), "xmpp")).toBeNull();
    expect(remedyFor(sig("jicofo", "truststore-rejected", "degraded"), "jicofo")).toBeNull();
    expect(remedyFor(sig("jicofo", "xmpp-auth-failed"), "jicofo")).toBeNull();
    expect(remedyFor(sig("nginx", "port-bind-failed"), "web")).toBeNull();
  });
});
