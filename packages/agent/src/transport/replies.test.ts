import type { AgentToCoordinator, NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { ApplyAnswers, KEPT_ANSWERS } from "./replies.js";

const state = (content: string): NodeDesired => ({
  node: "jicofo",
  role: "jicofo",
  files: [
    {
      path: "/etc/jicofo/jicofo.conf",
      content,
      encoding: "utf8",
      mode: "0640",
      owner: "root",
      group: "_jicofo",
      secret: false,
      notify: [{ service: "jicofo", action: "restart" }],
    },
  ],
  services: [],
  actions: [],
  health: { release: 9646, logs: [], probes: [] },
});
const desired = (id: string, generation: number, content = "a") =>
  ({ type: "desired", id, generation, desired: state(content) }) as const;
const answer = (replyTo: string, generation: number): AgentToCoordinator => ({
  type: "apply-result",
  replyTo,
  generation,
  ok: true,
  unchanged: false,
  items: [{ kind: "service", target: "jicofo", status: "restarted" }],
});

describe("ApplyAnswers", () => {
  it("applies a new request, and answers its resend from the apply's answer, kept even when it could not go", () => {
    const a = new ApplyAnswers();
    expect(a.seen(desired("c1", 3))).toEqual({ kind: "apply" });
    expect(a.answered(answer("c1", 3))).toEqual([]);
    expect(a.seen(desired("c1", 3))).toEqual({ kind: "answer", frame: answer("c1", 3) });
    expect(a.seen(desired("c1", 3))).toEqual({ kind: "answer", frame: answer("c1", 3) });
  });

  it("answers a resend of a generation whose pf.conf was reverted since as failed, and only that generation's", () => {
    const a = new ApplyAnswers();
    a.seen(desired("c1", 2));
    a.answered(answer("c1", 2));
    a.seen(desired("c2", 3, "b"));
    a.answered(answer("c2", 3));
    a.revoke(3, "pf.conf of generation 3 was not confirmed");
    expect(a.seen(desired("c2", 3, "b"))).toEqual({
      kind: "answer",
      frame: { ...answer("c2", 3), ok: false, error: "pf.conf of generation 3 was not confirmed" },
    });
    expect(a.seen(desired("c1", 2))).toEqual({ kind: "answer", frame: answer("c1", 2) });
  });

  it("leaves a resend that comes while its apply runs to that apply's answer", () => {
    const a = new ApplyAnswers();
    a.seen(desired("c1", 3));
    expect(a.seen(desired("c1", 3))).toEqual({ kind: "running", request: "c1" });
    expect(a.answered(answer("c1", 3))).toEqual([]);
  });

  it("answers another request for the state being applied with a copy of that apply's answer", () => {
    const a = new ApplyAnswers();
    a.seen(desired("c1", 3));
    expect(a.seen(desired("c2", 3))).toEqual({ kind: "running", request: "c1" });
    expect(a.seen(desired("c2", 3))).toEqual({ kind: "running", request: "c1" });
    expect(a.answered(answer("c1", 3))).toEqual([answer("c2", 3)]);
    // and a resend of c2 later is answered too
    expect(a.seen(desired("c2", 3))).toEqual({ kind: "answer", frame: answer("c2", 3) });
  });

  it("applies a new request for a generation already applied (the heal schedule restores drift that way)", () => {
    const a = new ApplyAnswers();
    a.seen(desired("c1", 3));
    a.answered(answer("c1", 3));
    expect(a.seen(desired("c9", 3))).toEqual({ kind: "apply" });
  });

  it("takes an id it knows with another state or generation for a new request (another coordinator's ids)", () => {
    const a = new ApplyAnswers();
    a.seen(desired("c1", 3));
    a.answered(answer("c1", 3));
    expect(a.seen(desired("c1", 3, "b"))).toEqual({ kind: "apply" });
    expect(a.seen(desired("c1", 4, "b"))).toEqual({ kind: "apply" });
  });

  it("keeps the last KEPT_ANSWERS requests only", () => {
    const a = new ApplyAnswers();
    for (let i = 0; i <= KEPT_ANSWERS; i++) {
      a.seen(desired(`c${i}`, i));
      a.answered(answer(`c${i}`, i));
    }
    expect(a.seen(desired("c0", 0))).toEqual({ kind: "apply" });
    expect(a.seen(desired(`c${KEPT_ANSWERS}`, KEPT_ANSWERS)).kind).toBe("answer");
  });

  it("keeps nothing for frames that answer no desired state it saw", () => {
    const a = new ApplyAnswers();
    expect(a.answered(answer("r1", 3))).toEqual([]);
    const event: AgentToCoordinator = {
      type: "event",
      event: { kind: "x", at: "2026-01-01T00:00:00.000Z", label: "info", message: "m" },
    };
    expect(a.answered(event)).toEqual([]);
  });
});
