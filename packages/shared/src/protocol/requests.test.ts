import { describe, expect, it } from "vitest";
import type { AgentToCoordinator } from "./agentToCoordinator.js";
import { ErrorCode } from "./codes.js";
import { checkReply, REPLIES } from "./requests.js";

const applyResult: AgentToCoordinator = {
  type: "apply-result",
  replyTo: "c1",
  generation: 2,
  ok: true,
  unchanged: false,
  items: [],
};
const snapshot: AgentToCoordinator = {
  type: "snapshot",
  replyTo: "c1",
  status: { generation: 2, applying: null, files: [], services: [], health: [], metrics: null },
};

describe("checkReply", () => {
  it("narrows the reply the table names for each request", () => {
    const res = checkReply("desired", applyResult);
    expect(res).toEqual({ ok: true, reply: applyResult });
    // The narrowed type carries the apply result's fields: this line does not compile without the table.
    if (res.ok) expect(res.reply.items).toEqual([]);
    expect(checkReply("repair", applyResult).ok).toBe(true);
    expect(checkReply("snapshot-request", snapshot)).toEqual({ ok: true, reply: snapshot });
  });

  it("rejects a reply of another type, naming the request and both frame types", () => {
    expect(checkReply("desired", snapshot)).toEqual({
      ok: false,
      refused: null,
      message: "answered the desired frame with a snapshot frame (expected apply-result)",
    });
    expect(checkReply("snapshot-request", applyResult)).toMatchObject({
      ok: false,
      message: "answered the snapshot-request frame with a apply-result frame (expected snapshot)",
    });
  });

  it("reports an error frame as a refusal with the agent's code and message", () => {
    const error: AgentToCoordinator = {
      type: "error",
      replyTo: "c1",
      code: ErrorCode.badFrame,
      message: "desired frame: desired.files.0.mode: Invalid string",
    };
    expect(checkReply("repair", error)).toEqual({
      ok: false,
      refused: error,
      message:
        "answered the repair frame with an error (bad-frame): desired frame: desired.files.0.mode: Invalid string",
    });
  });

  it("every request type expects at least one reply type", () => {
    for (const [request, replies] of Object.entries(REPLIES))
      expect(replies.length, request).toBeGreaterThan(0);
  });
});
