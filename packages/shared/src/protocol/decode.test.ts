import { describe, expect, it } from "vitest";
import { ErrorCode, MAX_FRAME_BYTES, PROTOCOL_VERSION } from "./codes.js";
import { decodeAgentFrame, decodeCoordinatorFrame, encodeFrame } from "./decode.js";

const hello = {
  type: "hello",
  protocol: PROTOCOL_VERSION,
  node: "jicofo",
  role: "jicofo",
  agentVersion: "0.1.0",
  generation: 3,
};

describe("decodeAgentFrame", () => {
  it("accepts a hello and round-trips through encodeFrame", () => {
    const res = decodeAgentFrame(JSON.stringify(hello));
    expect(res).toEqual({ ok: true, frame: hello });
    if (res.ok) expect(decodeAgentFrame(encodeFrame(res.frame))).toEqual(res);
  });

  it("names the field that is wrong", () => {
    const res = decodeAgentFrame(JSON.stringify({ ...hello, node: "Bad Name" }));
    expect(res.ok).toBe(false);
    if (!res.ok) {
      expect(res.code).toBe(ErrorCode.badFrame);
      expect(res.message).toMatch(/^hello frame: node: /);
    }
  });

  it("rejects unknown keys rather than ignoring them", () => {
    const res = decodeAgentFrame(JSON.stringify({ ...hello, extra: 1 }));
    expect(res.ok).toBe(false);
  });

  it("reports unknown frame types and non-JSON", () => {
    const unknown = decodeAgentFrame(JSON.stringify({ type: "launch-missiles", id: "x1" }));
    expect(unknown).toMatchObject({ ok: false, code: ErrorCode.unknownType, id: "x1" });
    expect(decodeAgentFrame("{not json")).toMatchObject({ ok: false, code: ErrorCode.badFrame });
    expect(decodeAgentFrame("null")).toMatchObject({ ok: false, code: ErrorCode.badFrame });
  });

  it("refuses frames over the size limit before parsing them", () => {
    const res = decodeAgentFrame(" ".repeat(MAX_FRAME_BYTES + 1));
    expect(res).toMatchObject({ ok: false, code: ErrorCode.tooLarge });
  });

  it("a coordinator frame is not an agent frame", () => {
    const welcome = {
      type: "welcome",
      protocol: 1,
      coordinatorVersion: "0.1.0",
      node: "web",
      heartbeatMs: 1000,
    };
    expect(decodeAgentFrame(JSON.stringify(welcome)).ok).toBe(false);
    expect(decodeCoordinatorFrame(JSON.stringify(welcome)).ok).toBe(true);
  });
});

describe("decodeCoordinatorFrame", () => {
  it("validates the desired state inside a desired frame", () => {
    const desired = {
      type: "desired",
      id: "push-1",
      generation: 4,
      desired: {
        node: "jicofo",
        role: "jicofo",
        files: [
          {
            path: "/etc/jicofo/jicofo.conf",
            content: "jicofo {}\n",
            mode: "0640",
            owner: "root",
            group: "_jicofo",
          },
        ],
        services: [{ name: "jicofo", flags: "--host=example.org", order: 20 }],
        actions: [],
        health: { release: 9646 },
      },
    };
    const res = decodeCoordinatorFrame(JSON.stringify(desired));
    expect(res.ok).toBe(true);
    if (res.ok && res.frame.type === "desired") expect(res.frame.desired.files[0]?.encoding).toBe("utf8");
    const badMode = structuredClone(desired);
    badMode.desired.files[0]!.mode = "777";
    const bad = decodeCoordinatorFrame(JSON.stringify(badMode));
    expect(bad).toMatchObject({ ok: false, id: "push-1" });
    if (!bad.ok) expect(bad.message).toContain("desired.files.0.mode");
  });
});
