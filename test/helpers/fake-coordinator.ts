// A real ws server on loopback port 0 playing the coordinator for agent tests: it decodes every agent frame
// (an invalid one fails the test, unless `keepInvalid`), welcomes each hello, and lets the test send frames
// down the current link or act on each frame it receives.
import type { AddressInfo } from "node:net";
import { type AgentToCoordinator, decodeAgentFrame, PROTOCOL_VERSION } from "@vmmeet/shared";
import { type WebSocket, WebSocketServer } from "ws";
import type { Cleanups } from "./processes.js";

export interface FakeCoordinatorOptions {
  /** Port to listen on (0: any free one). */
  port?: number;
  /** Path the url ends in ("/agent" unless given). */
  path?: string;
  /** Answer a hello with a welcome (default true). */
  welcome?: boolean;
  heartbeatMs?: number;
  /** While this returns true, every connection and every message is dropped at once. */
  drop?: () => boolean;
  /** Record an undecodable frame as `{ invalid: message }` instead of throwing. */
  keepInvalid?: boolean;
  /** Called for each decoded frame after the welcome. */
  onFrame?: (frame: AgentToCoordinator, ws: WebSocket) => void;
  /** Where to register `close`. */
  cleanups?: Cleanups;
}

export interface FakeCoordinator {
  wss: WebSocketServer;
  url: string;
  /** Every decoded frame, in order (with `keepInvalid`, also `{ invalid }` records). */
  frames: AgentToCoordinator[];
  /** Every connection accepted, oldest first. */
  sockets: WebSocket[];
  /** The latest connection. */
  socket: () => WebSocket | undefined;
  /** A frame down the latest connection. */
  send: (frame: unknown) => void;
  close: () => Promise<void>;
}

export async function fakeCoordinator(opts: FakeCoordinatorOptions = {}): Promise<FakeCoordinator> {
  const wss = new WebSocketServer({ port: opts.port ?? 0, host: "127.0.0.1" });
  await new Promise((r) => wss.once("listening", r));
  const frames: AgentToCoordinator[] = [];
  const sockets: WebSocket[] = [];
  const dropped = () => opts.drop?.() === true;
  wss.on("connection", (ws) => {
    if (dropped()) {
      ws.terminate();
      return;
    }
    sockets.push(ws);
    ws.on("message", (d) => {
      if (dropped()) {
        ws.terminate();
        return;
      }
      const res = decodeAgentFrame(d.toString());
      if (!res.ok) {
        if (!opts.keepInvalid) throw new Error(`agent sent an invalid frame: ${res.message}`);
        frames.push({ invalid: res.message } as unknown as AgentToCoordinator);
        return;
      }
      frames.push(res.frame);
      if (res.frame.type === "hello" && opts.welcome !== false)
        ws.send(
          JSON.stringify({
            type: "welcome",
            protocol: PROTOCOL_VERSION,
            coordinatorVersion: "test",
            node: res.frame.node,
            heartbeatMs: opts.heartbeatMs ?? 60_000,
          }),
        );
      opts.onFrame?.(res.frame, ws);
    });
  });
  const close = () =>
    new Promise<void>((r) => {
      for (const c of wss.clients) c.terminate();
      wss.close(() => r());
    });
  opts.cleanups?.push(close);
  const socket = () => sockets[sockets.length - 1];
  return {
    wss,
    url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}${opts.path ?? "/agent"}`,
    frames,
    sockets,
    socket,
    send: (frame) => socket()?.send(JSON.stringify(frame)),
    close,
  };
}
