import { describe, expect, it } from "vitest";
import { classify } from "./classify.js";
import { SessionCorrelator } from "./correlator.js";

function run(lines: string[], c = new SessionCorrelator()) {
  return lines.map((l) => c.refine(l, classify("prosody", l)));
}

describe("SessionCorrelator", () => {
  it("keeps the paper's wrong-password pattern failed", () => {
    const out = run([
      "Sep 16 14:36:20 c2s60b1aced0c0  info    Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)",
      "Sep 16 14:36:21 c2s60b1aced0c0  info    Client disconnected: connection closed",
    ]);
    expect(out[1]).toMatchObject({ signal: "c2s-auth-failed-disconnect", label: "failed" });
  });

  it("a disconnect after a login is a normal disconnect", () => {
    const out = run([
      "Sep 16 14:37:00 c2s60a5b549900  info    Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)",
      "Sep 16 14:37:01 c2s60a5b549900  info    Authenticated as focus@auth.jts.fips.de",
      "Sep 16 15:00:00 c2s60a5b549900  info    Client disconnected: connection closed",
    ]);
    expect(out.map((r) => r.label)).toEqual(["info", "healthy", "info"]);
    expect(out[2]?.signal).toBe("c2s-client-disconnected");
  });

  it("only the same session counts", () => {
    const out = run([
      "Sep 16 14:37:00 c2saaaa01  info    Stream encrypted (TLSv1.3)",
      "Sep 16 14:37:01 c2saaaa01  info    Authenticated as jvb@auth.example.org",
      "Sep 16 14:37:02 c2sbbbb02  info    Stream encrypted (TLSv1.3)",
      "Sep 16 14:37:03 c2sbbbb02  info    Client disconnected: connection closed",
    ]);
    expect(out[3]?.label).toBe("failed");
  });

  it("a session closed before TLS (a port probe) is info", () => {
    const out = run([
      "Sep 16 14:37:00 c2s1234ab  info    Client connected",
      "Sep 16 14:37:00 c2s1234ab  info    Client disconnected: connection closed",
    ]);
    expect(out[1]?.label).toBe("info");
  });

  it("a BOSH session disconnect is info", () => {
    const out = run(["May 08 07:55:18 bosh2cba40db-ce3f-4afa\tinfo\tClient disconnected: connection closed"]);
    expect(out[0]).toMatchObject({ signal: "bosh-client-disconnected", label: "info" });
  });

  it("an unseen session keeps the line's label, and ended sessions are forgotten", () => {
    const c = new SessionCorrelator({ maxSessions: 2 });
    const out = run(["c2sdead01 info Client disconnected: connection closed"], c);
    expect(out[0]?.label).toBe("failed");
    run(
      ["c2s0001 info Client connected", "c2s0002 info Client connected", "c2s0003 info Client connected"],
      c,
    );
    expect(c.size).toBe(2);
    // c2s0001 was evicted: its disconnect is judged on the line alone
    expect(run(["c2s0001 info Client disconnected: connection closed"], c)[0]?.label).toBe("failed");
    expect(run(["c2s0003 info Client disconnected: connection closed"], c)[0]?.label).toBe("info");
    expect(c.size).toBe(1);
  });
});
