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
    expect(sent).toEqual([
      { type: "desired", id: expect.stringMatching(/^c[0-9a-f]{8}\.1$/), generation: 3, desired },
    ]);
  });

  it("gives ids another coordinator (a restart) does not give: an agent remembers the ids it applied", async () => {
    const ids = await Promise.all(
      [0, 1].map(async () => {
        const { fleet, sent } = fleetWith((f) => result(f.id));
        await fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
        return (sent[0] as { id: string }).id;
      }),
    );
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("takes an applied generation from the answer, not only from the next snapshot; a failed one changes nothing", async () => {
    let ok = true;
    const { fleet } = fleetWith((f) => result(f.id, { generation: 3, ok }));
    const status = { generation: 2, applying: null, files: [], services: [], health: [], metrics: null };
    fleet.receive("jicofo", { type: "snapshot", status });
    ok = false;
    await fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
    expect(fleet.node("jicofo").status?.generation).toBe(2);
    ok = true;
    await fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
    expect(fleet.node("jicofo").status).toEqual({ ...status, generation: 3 });
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

/** A link of jicofo that records what it was sent and answers nothing by itself. */
function link(sent: CoordinatorToAgent[], open = true): AgentConnection {
  return {
    node: "jicofo",
    remote: "127.0.0.1",
    send(frame) {
      if (open) sent.push(frame);
      return open;
    },
    close() {},
  };
}

describe("Fleet.request across a dropped link", () => {
  it("sends a desired state again, the same frame, when the node connects again, and takes the answer there", async () => {
    const fleet = new Fleet();
    const first: CoordinatorToAgent[] = [];
    const a = link(first);
    fleet.attach(a, "0.1.0");
    const reply = fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
    fleet.detach(a);
    const second: CoordinatorToAgent[] = [];
    fleet.attach(link(second), "0.1.0");
    expect(second).toEqual(first);
    expect(fleet.resends).toBe(1);
    fleet.receive("jicofo", result((second[0] as { id: string }).id));
    await expect(reply).resolves.toMatchObject({ type: "apply-result", generation: 3, ok: true });
  });

  it("sends it again on a link that replaces one never seen closing", async () => {
    const fleet = new Fleet();
    const first: CoordinatorToAgent[] = [];
    fleet.attach(link(first), "0.1.0");
    const reply = fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
    const second: CoordinatorToAgent[] = [];
    fleet.attach(link(second), "0.1.0");
    expect(second).toEqual(first);
    fleet.receive("jicofo", result((first[0] as { id: string }).id));
    await expect(reply).resolves.toMatchObject({ ok: true });
  });

  it("waits for the next link when the one it is sent on is already closing", async () => {
    const fleet = new Fleet();
    const closing = link([], false);
    fleet.attach(closing, "0.1.0");
    const reply = fleet.request("jicofo", { type: "desired", generation: 3, desired }, 5000);
    fleet.detach(closing);
    const sent: CoordinatorToAgent[] = [];
    fleet.attach(link(sent), "0.1.0");
    expect(sent).toMatchObject([{ type: "desired", generation: 3 }]);
    fleet.receive("jicofo", result((sent[0] as { id: string }).id));
    await expect(reply).resolves.toMatchObject({ ok: true });
  });

  it("gives up within its own timeout when the node does not come back, saying so", async () => {
    const fleet = new Fleet();
    const a = link([]);
    fleet.attach(a, "0.1.0");
    const reply = fleet.request("jicofo", { type: "desired", generation: 3, desired }, 1000);
    fleet.detach(a);
    await expect(reply).rejects.toThrow("jicofo disconnected and did not connect again within 1 s");
  });

  it("still fails a repair or a snapshot request at once when the link drops (never sent twice)", async () => {
    const fleet = new Fleet();
    const sent: CoordinatorToAgent[] = [];
    const a = link(sent);
    fleet.attach(a, "0.1.0");
    const repair = fleet.request(
      "jicofo",
      { type: "repair", service: "jicofo", action: "restart", reason: "test" },
      5000,
    );
    fleet.detach(a);
    await expect(repair).rejects.toThrow("jicofo disconnected");
    const again: CoordinatorToAgent[] = [];
    fleet.attach(link(again), "0.1.0");
    expect(again).toEqual([]);
  });
});
