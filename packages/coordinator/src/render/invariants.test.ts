// The invariant check on the paper's deployment; its readers (one per rendered format) are tested in grammar/.
// Whole deployments (test/invariants-hold), one edited file (invariants-xmpp, invariants-media), agreement
// with the real parsers (invariants-parsers) and the CLI's report (invariants-cli) are in test/.
import { describe, expect, it } from "vitest";
import { fakeInput } from "../../../../test/fixtures/material.js";
import { renderDeployment } from "./index.js";
import { checkInvariants, formatViolations, INVARIANT_NAMES } from "./invariants.js";

describe("checkInvariants", () => {
  it("holds for the paper's deployment, one result per invariant in order", () => {
    const input = fakeInput();
    const results = checkInvariants(input.spec, renderDeployment(input));
    expect(results.map((r) => r.name)).toEqual([...INVARIANT_NAMES]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(formatViolations(results)).toEqual([]);
  });

  it("reports a violation as 'invariant: NAME: DETAIL'", () => {
    const input = fakeInput();
    const nodes = renderDeployment(input);
    const jicofo = nodes.jicofo!.files.find((f) => f.path === "/etc/jicofo/jicofo.conf")!;
    jicofo.content = jicofo.content.replace("enabled = false\n  }\n  xmpp", "enabled = true\n  }\n  xmpp");
    expect(formatViolations(checkInvariants(input.spec, nodes))).toEqual([
      "invariant: sctp: jicofo:/etc/jicofo/jicofo.conf jicofo.sctp.enabled is true but jvb:/etc/jvb/jvb.conf videobridge.sctp.enabled is false (no SCTP on OpenBSD: all must be false)",
    ]);
  });

  it("reports a node or file that is not there instead of throwing", () => {
    const input = fakeInput();
    const nodes = renderDeployment(input);
    delete nodes.web;
    const results = checkInvariants(input.spec, nodes);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.name)).toEqual([
      "domain",
      "conference-muc",
      "focus-proxy",
      "prosody-host",
      "colibri-websockets",
    ]);
    for (const r of failed) expect(r.detail).toBe("the rendered deployment has no web node");
  });
});
