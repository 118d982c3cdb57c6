import type { AgentToCoordinator, CoordinatorToAgent, NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { type ApplyResult, Fleet, ReplyError } from "./fleet.js";
import type { AgentConnection } from "./link.js";

const desired: NodeDesired = {
  node: "jicofo",
  role: "jicofo",
  files: [],
  services: [],
  actions: [],
  health: { release: 9646, logs: [], probes: [] },
};

/** A fleet with one connected node whose agent answers every request with `answer(request)`. */
function fleetWith(answer: (frame: CoordinatorToAgent & { id: string }) => AgentToCoordinator | null) {
  const fleet = new Fleet();
  const sent: CoordinatorToAgent[] = [];
  const conn: AgentConnection = {
    node: "jicofo",
    remote: "127.0.0.1",
    send(frame) {
      sent.push(frame);
      if ("id" in frame) {
        const reply = answer(frame);
        if (reply) queueMicrotask(() => fleet.receive("jicofo", reply));
      }
      return true;
    },
    close() {},
  };
  fleet.attach(conn, "0.1.0");
  return { fleet, sent };
}

const result = (replyTo: string, over: Partial<ApplyResult> = {}): ApplyResult => ({
  type: "apply-result",
  replyTo,
  generation: 3,
  ok: true,
  unchanged: false,
  items: [],
  ...over,
});

describe("Fleet.request", () => {
  it("gives the request its id and resolves with the reply of its type", async () => {
    const { fleet, sent } = fleetWith((f) => result(f.id));
    const reply = await fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
    expect(reply).toMatchObject({ type: "apply-result", generation: 3, ok: true });
    expect(sent).toEqual([{ type: "desired", id: "c1", generation: 3, desired }]);
  });

  it("rejects a reply of the wrong type with an error naming the node and the frame types", async () => {
    const { fleet } = fleetWith((f) => ({
      type: "snapshot",
      replyTo: f.id,
      status: { generation: 3, applying: null, files: [], services: [], health: [], metrics: null },
    }));
    const err = await fleet
      .request("jicofo", { type: "desired", generation: 3, desired }, 5000)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReplyError);
    expect(err).toMatchObject({
      node: "jicofo",
      request: "desired",
      code: null,
      message: "jicofo answered the desired frame with a snapshot frame (expected apply-result)",
    });
  });

  it("rejects an error frame with the agent's code", async () => {
    const { fleet } = fleetWith((f) => ({
      type: "error",
      replyTo: f.id,
      code: "bad-frame",
      message: "repair frame: service: Invalid string",
    }));
    const err = await fleet
      .request("jicofo", { type: "repair", service: "jicofo", action: "restart", reason: "test" }, 5000)
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: "ReplyError",
      code: "bad-frame",
      message:
        "jicofo answered the repair frame with an error (bad-frame): repair frame: service: Invalid string",
    });
  });

  it("rejects at once for a node that is not connected", async () => {
    await expect(new Fleet().request("xmpp", { type: "snapshot-request" }, 5000)).rejects.toThrow(
      "xmpp is not connected",
    );
  });
});
