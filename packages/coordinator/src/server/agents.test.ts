import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { type AgentToCoordinator, encodeFrame, PROTOCOL_VERSION } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { waitFor } from "../../../../test/helpers/wait.js";
import { AgentServer } from "./agents.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const hello = (generation: number) =>
  encodeFrame({
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: "jvb",
    role: "jvb",
    agentVersion: "t",
    generation,
  });
const snapshot = (generation: number) =>
  encodeFrame({
    type: "snapshot",
    status: { generation, applying: null, files: [], services: [], health: [], metrics: null },
  });

describe("AgentServer: a node's second link replaces the first", () => {
  it("takes the node's status from its current link only: a late snapshot on the replaced link is dropped, its events still count", async () => {
    const http = createServer();
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => http.close(() => resolve())));
    const frames: { link: number; frame: Exclude<AgentToCoordinator, { type: "hello" }> }[] = [];
    const links: unknown[] = [];
    let first: WebSocket | null = null;
    const server = new AgentServer({
      server: http,
      logger: pino({ level: "silent" }),
      coordinatorVersion: "t",
      heartbeatMs: 60_000,
      authorize: () => ({ ok: true }),
      onConnect: (conn) => {
        links.push(conn);
        // The second hello replaced the first link just now. The old link's agent has not heard of it yet
        // and sends what it still had to say, as frames delayed on a slow network arrive after the new hello.
        if (links.length === 2 && first) {
          first.send(snapshot(1));
          first.send(
            encodeFrame({
              type: "event",
              event: { at: new Date().toISOString(), kind: "repair-service", label: "info", message: "late" },
            }),
          );
        }
      },
      onFrame: (conn, frame) => frames.push({ link: links.indexOf(conn), frame }),
      onDisconnect: () => {},
    });
    cleanups.push(() => server.stop());
    const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/agent`;
    const open = async (generation: number) => {
      const ws = new WebSocket(url);
      cleanups.push(() => ws.terminate());
      await new Promise<void>((resolve, reject) => ws.once("open", resolve).once("error", reject));
      const welcomed = new Promise<void>((resolve) => ws.once("message", () => resolve()));
      ws.send(hello(generation));
      await welcomed;
      return ws;
    };
    first = await open(1);
    const second = await open(2);
    second.send(snapshot(2));
    await waitFor(() => frames.some((f) => f.frame.type === "event"), { what: "the old link's event" });
    await waitFor(() => frames.some((f) => f.frame.type === "snapshot" && f.link === 1), {
      what: "the new link's snapshot",
    });
    const snapshots = frames.filter((f) => f.frame.type === "snapshot");
    expect(
      snapshots.map((f) => [f.link, (f.frame as { status: { generation: number } }).status.generation]),
    ).toEqual([[1, 2]]);
  });
});
