// The agents' side of the coordinator: a websocket endpoint that speaks the protocol of packages/shared.
// Each connection must say hello first (within helloTimeoutMs); the hello is checked by `authorize`
// (node known to the spec, protocol version, and - with the security issue - the client certificate).
// A second connection for the same node replaces the first. Bad frames get an error reply and a log line;
// too many of them close the link. The handler never throws.
//
// The coordinator pings every heartbeat and the agent answers each ping: a link that brings nothing at all
// for STALE_HEARTBEATS heartbeats is dead (a VM cut off leaves its TCP connection open for as long as the
// kernel's timeouts take: minutes to hours), so it is torn down and the node counts as away since it was
// last heard from. The agent applies the same rule from its side (agent transport/client.ts).
//
// Each link measures its agent's clock skew (fleet/clock.ts) from the hello and the pongs, and hands the
// agent's frames on with their times moved onto the coordinator's clock.
import type { IncomingMessage, Server } from "node:http";
import type { Server as HttpsServer } from "node:https";
import {
  type AgentToCoordinator,
  CloseCode,
  type CoordinatorToAgent,
  decodeAgentFrame,
  ErrorCode,
  encodeFrame,
  FrameId,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  RefusalLog,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import { type WebSocket, WebSocketServer } from "ws";
import { clockSample, onCoordinatorClock, SkewEstimator } from "../fleet/clock.js";
import type { AgentConnection } from "../fleet/link.js";

/** Heartbeats without a frame after which a link is dead (the agent's own rule, transport/client.ts). */
export const STALE_HEARTBEATS = 3;

type Hello = Extract<AgentToCoordinator, { type: "hello" }>;

export type { AgentConnection } from "../fleet/link.js";

export type Authorization = { ok: true } | { ok: false; close: number; reason: string };

export interface AgentServerOptions {
  server: Server | HttpsServer;
  path?: string;
  logger: Logger;
  coordinatorVersion: string;
  heartbeatMs: number;
  helloTimeoutMs?: number;
  /** Bad frames tolerated per minute before the link is closed. */
  badFrameLimit?: number;
  authorize: (hello: Hello, req: IncomingMessage) => Authorization | Promise<Authorization>;
  onConnect: (conn: AgentConnection, hello: Hello) => void;
  onFrame: (conn: AgentConnection, frame: Exclude<AgentToCoordinator, { type: "hello" }>) => void;
  onDisconnect: (conn: AgentConnection, code: number) => void;
  now?: () => number;
}

export class AgentServer {
  readonly wss: WebSocketServer;
  readonly #byNode = new Map<string, { ws: WebSocket; conn: AgentConnection }>();
  #heartbeat: NodeJS.Timeout | null = null;
  #pingSeq = 0;
  /** Invalid frames and refused agents: logged once per kind and minute, over every link (shared/refusals.ts). */
  readonly #refusals: RefusalLog;
  /** When each upgrade was answered (the start of the hello's round trip, fleet/clock.ts). */
  readonly #answeredAt = new WeakMap<IncomingMessage, number>();

  constructor(private readonly options: AgentServerOptions) {
    this.#refusals = new RefusalLog(options.now ? { now: options.now } : {});
    this.wss = new WebSocketServer({
      server: options.server,
      path: options.path ?? "/agent",
      maxPayload: MAX_FRAME_BYTES,
    });
    // Just before the upgrade's answer is written: the agent's hello, sent once it has the answer, is later.
    this.wss.on("headers", (_headers, req) => this.#answeredAt.set(req, (options.now ?? Date.now)()));
    this.wss.on("connection", (ws, req) => this.#onConnection(ws, req));
    this.wss.on("error", (err) => options.logger.error({ err: err.message }, "agent endpoint error"));
  }

  start(): void {
    if (this.#heartbeat) return;
    this.#heartbeat = setInterval(() => {
      const sentAt = (this.options.now ?? Date.now)();
      for (const { conn } of this.#byNode.values())
        conn.send({ type: "ping", id: `p${++this.#pingSeq}`, sentAt });
    }, this.options.heartbeatMs);
    this.#heartbeat.unref();
  }

  async stop(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    this.#heartbeat = null;
    for (const ws of this.wss.clients) ws.close(CloseCode.goingAway, "coordinator stopping");
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const ws of this.wss.clients) ws.terminate();
        resolve();
      }, 1000);
      this.wss.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  connection(node: string): AgentConnection | undefined {
    return this.#byNode.get(node)?.conn;
  }

  connectedNodes(): string[] {
    return [...this.#byNode.keys()];
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
    const log = this.options.logger.child({ remote });
    const now = this.options.now ?? Date.now;
    // The agent sends its hello as soon as it reads the upgrade's answer.
    const connectedAt = this.#answeredAt.get(req) ?? now();
    const link = { lastHeardAt: connectedAt, silent: false, skew: new SkewEstimator() };
    let staleTimer: NodeJS.Timeout | null = null;
    const staleMs = STALE_HEARTBEATS * this.options.heartbeatMs;
    // Armed once the hello is accepted (before that, the hello timeout rules).
    const heard = () => {
      link.lastHeardAt = now();
      if (conn === null) return;
      // One timer per link, pushed back by every frame (refresh: no new timer per frame).
      if (staleTimer) {
        staleTimer.refresh();
        return;
      }
      staleTimer = setTimeout(() => {
        link.silent = true;
        log.warn(
          { node: conn?.node, silentMs: staleMs, lastHeardAt: new Date(link.lastHeardAt).toISOString() },
          "agent link dead (no frame for three heartbeats)",
        );
        ws.terminate();
      }, staleMs);
      staleTimer.unref();
    };
    let conn: AgentConnection | null = null;
    let bad = 0;
    let badWindowStart = Date.now();
    const helloTimer = setTimeout(() => {
      if (!conn) {
        log.warn("no hello in time");
        ws.close(CloseCode.handshakeTimeout, "no hello in time");
      }
    }, this.options.helloTimeoutMs ?? 10_000);
    const reply = (frame: CoordinatorToAgent) => {
      if (ws.readyState === ws.OPEN) ws.send(encodeFrame(frame));
    };
    const badFrame = (code: ErrorCode, message: string, id?: string) => {
      const note = this.#refusals.note(`bad-frame ${code}`);
      if (note !== null)
        log.warn(
          {
            node: conn?.node,
            code,
            problem: message.slice(0, 500),
            ...(note.repeated > 0 ? { repeated: note.repeated } : {}),
          },
          "invalid frame from agent",
        );
      // The id is echoed only when it is a valid frame id (a malformed one would make this frame invalid).
      reply({
        type: "error",
        code,
        message: message.slice(0, 2000),
        ...(id && FrameId.safeParse(id).success ? { replyTo: id } : {}),
      });
      const now = Date.now();
      if (now - badWindowStart > 60_000) {
        badWindowStart = now;
        bad = 0;
      }
      bad += 1;
      if (bad > (this.options.badFrameLimit ?? 20))
        ws.close(CloseCode.tooManyBadFrames, "too many invalid frames");
    };
    ws.on("message", (data, isBinary) => {
      heard();
      void (async () => {
        if (isBinary) return badFrame(ErrorCode.badFrame, "binary frames are not used");
        const decoded = decodeAgentFrame(
          Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString(),
        );
        if (!decoded.ok) return badFrame(decoded.code, decoded.message, decoded.id);
        const frame = decoded.frame;
        if (!conn) {
          if (frame.type !== "hello") {
            reply({ type: "error", code: ErrorCode.notHello, message: "the first frame must be a hello" });
            ws.close(CloseCode.notHello, "expected hello");
            return;
          }
          if (frame.protocol !== PROTOCOL_VERSION) {
            reply({
              type: "error",
              code: ErrorCode.protocolMismatch,
              message: `coordinator speaks protocol ${PROTOCOL_VERSION}, agent ${frame.protocol}`,
            });
            ws.close(CloseCode.protocolMismatch, "protocol mismatch");
            return;
          }
          const auth = await this.options.authorize(frame, req);
          if (!auth.ok) {
            const note = this.#refusals.note(`refused ${auth.close}`);
            if (note !== null)
              log.warn(
                {
                  node: frame.node,
                  reason: auth.reason,
                  ...(note.repeated > 0 ? { repeated: note.repeated } : {}),
                },
                "agent refused",
              );
            reply({
              type: "error",
              code: auth.close === CloseCode.unknownNode ? ErrorCode.unknownNode : ErrorCode.unauthorized,
              message: auth.reason,
            });
            ws.close(auth.close, auth.reason.slice(0, 120));
            return;
          }
          clearTimeout(helloTimer);
          if (frame.agentTime !== undefined) {
            const s = clockSample(connectedAt, frame.agentTime, now());
            if (s) link.skew.add(s);
          }
          const c: AgentConnection = {
            node: frame.node,
            remote,
            send: (f) => {
              if (ws.readyState !== ws.OPEN) return false;
              ws.send(encodeFrame(f));
              return true;
            },
            close: (code, reason) => ws.close(code, reason),
            get clock() {
              return link.skew.estimate;
            },
            get lastHeardAt() {
              return link.lastHeardAt;
            },
            get silent() {
              return link.silent;
            },
          };
          const previous = this.#byNode.get(frame.node);
          if (previous) {
            log.warn(
              { node: frame.node, previous: previous.conn.remote },
              "replacing the node's previous connection",
            );
            this.#byNode.delete(frame.node);
            previous.ws.close(CloseCode.replaced, "replaced by a newer connection");
          }
          conn = c;
          heard();
          this.#byNode.set(frame.node, { ws, conn: c });
          reply({
            type: "welcome",
            protocol: PROTOCOL_VERSION,
            coordinatorVersion: this.options.coordinatorVersion,
            node: frame.node,
            heartbeatMs: this.options.heartbeatMs,
          });
          this.options.onConnect(c, frame);
          return;
        }
        if (frame.type === "hello") return badFrame(ErrorCode.badFrame, "hello was already said");
        if (frame.type === "ping") {
          reply({ type: "pong", replyTo: frame.id, sentAt: frame.sentAt });
          return;
        }
        // A pong echoes the sentAt of one of this link's pings: anything else is no exchange to measure.
        if (frame.type === "pong" && frame.agentTime !== undefined && frame.sentAt >= connectedAt) {
          const s = clockSample(frame.sentAt, frame.agentTime, now());
          if (s) link.skew.add(s);
        }
        // A link a newer one replaced (the agent found it dead first): its frames still on the way (a slow
        // or stalling network delivers them late) describe the node as it was. The node's status comes from
        // its current link only; the agent sends a fresh snapshot there after its hello. Replies and events
        // still count: a reply answers its request, an event happened.
        if (this.#byNode.get(conn.node)?.ws !== ws && (frame.type === "snapshot" || frame.type === "status"))
          return;
        this.options.onFrame(conn, onCoordinatorClock(frame, link.skew.estimate?.skewMs) as typeof frame);
      })().catch((err: unknown) => {
        log.error({ err: (err as Error).message }, "agent frame handler failed");
      });
    });
    ws.on("error", (err) => log.warn({ err: err.message }, "agent socket error"));
    ws.on("close", (code) => {
      clearTimeout(helloTimer);
      if (staleTimer) clearTimeout(staleTimer);
      if (!conn) return;
      const current = this.#byNode.get(conn.node);
      if (current?.ws === ws) this.#byNode.delete(conn.node);
      // A replaced connection is no disconnect of the node.
      if (current?.ws === ws || !current) this.options.onDisconnect(conn, code);
    });
  }
}
