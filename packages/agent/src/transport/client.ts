// The agent's link to the coordinator: one websocket, one reconnect loop, explicit state.
//
//   idle --start()--> connecting --open+welcome--> open --close/dead link--> connecting (after backoff)
//   any  --stop()---> closing --> idle
//
// The agent's first frame is a hello (protocol version, node, role, generation); the coordinator answers with
// a welcome carrying its heartbeat interval (frames.ts). The coordinator pings; if nothing at all arrives for
// three heartbeats the link is declared dead and torn down, since a half-open TCP connection never closes by
// itself. After every (re)connect the transport emits "open" (the daemon sends a full snapshot), then only
// changes. A desired state the coordinator sends again after a dropped link is answered from its apply, not
// applied twice (replies.ts). Invalid frames are answered, dropped or end the link by their rate
// (badFrames.ts); failed attempts while the coordinator is away are logged sparingly (unreachable.ts).
//
// Timers and "now" come from an injected clock, so a test can let a simulated week pass
// (test/reliability-days-away.test.ts).

import { EventEmitter } from "node:events";
import { type BackoffOptions, backoffDelay, type Clock, DEFAULT_BACKOFF } from "@vmmeet/node";
import {
  type AgentToCoordinator,
  CloseCode,
  type CoordinatorToAgent,
  describeClose,
  encodeFrame,
  MAX_FRAME_BYTES,
  RefusalLog,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import WebSocket from "ws";
import { BAD_FRAME_CLOSE_LIMIT, BadFrameCounter } from "./badFrames.js";
import {
  type AgentIdentity,
  decodeMessage,
  errorReply,
  helloFrame,
  pongFrame,
  welcomeMismatch,
} from "./frames.js";
import { ApplyAnswers } from "./replies.js";
import { type TransportTls, tlsSocketOptions } from "./tls.js";
import { UnreachableLog } from "./unreachable.js";

/**
 * Real timers that keep the process alive (unlike health's systemClock, whose timers are unref'd): with the
 * coordinator away, the retry timer may be the only thing the agent waits on besides its healer.
 */
const transportClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export type TransportState = "idle" | "connecting" | "open" | "closing";

/** What the link tells its owner (the daemon subscribes in one place). */
export interface TransportEvents {
  /** Welcomed after a (re)connect: the coordinator knows nothing of this link yet, a full snapshot is due. */
  open: [];
  /** A valid frame for the daemon (pings, pongs, the welcome and repeated desired states are handled here). */
  frame: [frame: CoordinatorToAgent];
  /** Every change of state, with the new one. */
  state: [state: TransportState];
}

export interface TransportOptions extends AgentIdentity {
  url: string;
  /** The generation in force, sent in every hello. */
  generation: () => number;
  logger: Logger;
  backoff?: BackoffOptions;
  random?: () => number;
  /** Heartbeat used until the welcome says otherwise. */
  heartbeatMs?: number;
  /** How long to wait for the welcome after the socket opened. */
  handshakeTimeoutMs?: number;
  tls?: TransportTls;
  /** Extra headers on the upgrade request (e.g. a join token). */
  headers?: () => Record<string, string>;
  WebSocketImpl?: typeof WebSocket;
  /** Timers and time (default: the real ones). */
  clock?: Clock;
  /**
   * The VM's wall clock (default Date.now), sent in the hello and in every pong: the coordinator measures
   * this VM's clock skew from it and translates the times the agent reports (coordinator fleet/clock.ts).
   */
  now?: () => number;
}

export class AgentTransport extends EventEmitter<TransportEvents> {
  #state: TransportState = "idle";
  #ws: WebSocket | null = null;
  #attempt = 0;
  #retryTimer: unknown = null;
  #deadTimer: unknown = null;
  #handshakeTimer: unknown = null;
  readonly #clock: Clock;
  readonly #now: () => number;
  /** Failed attempts since the link was last open. */
  readonly #unreachable: UnreachableLog;
  #heartbeatMs: number;
  #welcomed = false;
  #stopped = true;
  #gaveUp: string | null = null;
  readonly #badFrames: BadFrameCounter;
  readonly #answers = new ApplyAnswers();
  /** Repeats are logged once per generation and minute, with a count (the apply answers kept are few). */
  readonly #repeatLog: RefusalLog;
  /** Desired states received again (a resend, or the same state while it was applied) and not applied again. */
  repeatsAnswered = 0;
  reconnects = 0;
  /** Connection attempts made (the first one included). */
  attempts = 0;

  constructor(private readonly options: TransportOptions) {
    super();
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#clock = options.clock ?? transportClock;
    this.#now = options.now ?? Date.now;
    this.#unreachable = new UnreachableLog(this.#clock, options.logger, options.url);
    this.#badFrames = new BadFrameCounter(this.#clock, options.logger);
    this.#repeatLog = new RefusalLog({ now: () => this.#clock.now() });
  }

  get state(): TransportState {
    return this.#state;
  }

  /** Why the transport stopped retrying (revoked, unauthorized, protocol mismatch), or null. */
  get gaveUp(): string | null {
    return this.#gaveUp;
  }

  /** Invalid frames received and dropped without an answer (over the per-minute reply limit). */
  get badFramesDropped(): number {
    return this.#badFrames.dropped;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#gaveUp = null;
    this.#connect();
  }

  /** Idempotent; resolves when the socket is gone. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    const ws = this.#ws;
    if (!ws) {
      this.#setState("idle");
      return;
    }
    this.#setState("closing");
    await new Promise<void>((resolve) => {
      if (ws.readyState === WebSocket.CLOSED) return resolve();
      const kill = this.#clock.setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000);
      ws.once("close", () => {
        this.#clock.clearTimeout(kill);
        resolve();
      });
      ws.close(1001, "agent stopping");
    });
    this.#ws = null;
    this.#setState("idle");
  }

  /** An applied generation was undone on the node (pf reverted): a resend of its request is answered as failed. */
  revokeAnswers(generation: number, error: string): void {
    this.#answers.revoke(generation, error);
  }

  /** Sends when open; returns false when the frame could not be sent (the caller keeps state for the next snapshot). */
  send(frame: AgentToCoordinator): boolean {
    // Kept even when it cannot go now: a resend of its request after the reconnect is answered with it.
    const copies = this.#answers.answered(frame);
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || (!this.#welcomed && frame.type !== "hello")) return false;
    ws.send(encodeFrame(frame));
    for (const copy of copies) ws.send(encodeFrame(copy));
    return true;
  }

  #setState(state: TransportState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.emit("state", state);
  }

  #clearTimers(): void {
    for (const t of [this.#retryTimer, this.#deadTimer, this.#handshakeTimer])
      if (t !== null) this.#clock.clearTimeout(t);
    this.#retryTimer = this.#deadTimer = this.#handshakeTimer = null;
  }

  #connect(): void {
    if (this.#stopped) return;
    this.#setState("connecting");
    this.#welcomed = false;
    this.attempts += 1;
    const Impl = this.options.WebSocketImpl ?? WebSocket;
    let ws: WebSocket;
    try {
      ws = new Impl(this.options.url, {
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000,
        headers: this.options.headers?.() ?? {},
        ...tlsSocketOptions(this.options.tls),
      });
    } catch (err) {
      this.options.logger.error(
        { err: (err as Error).message, url: this.options.url },
        "cannot create websocket",
      );
      this.#scheduleRetry();
      return;
    }
    this.#ws = ws;
    this.#badFrames.newLink();
    ws.on("open", () => {
      this.#armHandshakeTimer(ws);
      ws.send(encodeFrame(helloFrame(this.options, this.options.generation(), this.#now())));
      this.#armDeadTimer(ws);
    });
    ws.on("message", (data, isBinary) => this.#onMessage(ws, data, isBinary));
    ws.on("error", (err) => {
      // 'close' follows every 'error'; log there (once per failed attempt at most), reconnect there.
      this.#unreachable.lastError = err.message;
    });
    ws.on("close", (code, reasonBuf) => this.#onClose(ws, code, reasonBuf));
  }

  #onClose(ws: WebSocket, code: number, reasonBuf: Buffer): void {
    if (this.#ws !== ws) return;
    this.#ws = null;
    this.#clearTimers();
    const { reason, retry } = describeClose(code);
    const wasOpen = this.#welcomed;
    this.#welcomed = false;
    if (this.#stopped) return;
    if (wasOpen) {
      const err = this.#unreachable.takeError();
      this.options.logger.warn(
        {
          code,
          reason,
          peerReason: reasonBuf.toString().slice(0, 200),
          ...(err ? { err: err.slice(0, 200) } : {}),
        },
        "coordinator link closed",
      );
    } else {
      this.#unreachable.failed(code, reason);
    }
    if (!retry) {
      this.#gaveUp = reason;
      this.#stopped = true;
      this.#setState("idle");
      this.options.logger.error(
        { code, reason },
        "not reconnecting; the agent keeps enforcing its last applied state",
      );
      return;
    }
    if (wasOpen) this.#attempt = 0;
    this.#scheduleRetry();
  }

  #armHandshakeTimer(ws: WebSocket): void {
    this.#handshakeTimer = this.#clock.setTimeout(() => {
      if (!this.#welcomed) {
        this.options.logger.warn("no welcome from the coordinator in time");
        ws.terminate();
      }
    }, this.options.handshakeTimeoutMs ?? 10_000);
  }

  #armDeadTimer(ws: WebSocket): void {
    if (this.#deadTimer !== null) this.#clock.clearTimeout(this.#deadTimer);
    this.#deadTimer = this.#clock.setTimeout(() => {
      this.options.logger.warn(
        { silentMs: 3 * this.#heartbeatMs },
        "coordinator link dead (no frame for three heartbeats)",
      );
      ws.terminate();
    }, 3 * this.#heartbeatMs);
  }

  #onMessage(ws: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
    this.#armDeadTimer(ws);
    const decoded = decodeMessage(data, isBinary);
    if (!decoded.ok) {
      const { verdict, count } = this.#badFrames.note(decoded.code, decoded.message);
      if (ws.readyState !== WebSocket.OPEN || verdict === "drop") return;
      if (verdict === "reply") ws.send(encodeFrame(errorReply(decoded)));
      else {
        this.options.logger.error(
          { count, limit: BAD_FRAME_CLOSE_LIMIT },
          "too many invalid frames from the coordinator; reconnecting",
        );
        ws.close(CloseCode.tooManyBadFrames, "too many invalid frames");
      }
      return;
    }
    const frame = decoded.frame;
    if (!this.#welcomed) {
      this.#onHandshake(ws, frame);
      return;
    }
    if (frame.type === "ping") {
      ws.send(encodeFrame(pongFrame(frame, this.#now())));
      return;
    }
    if (frame.type === "pong") return;
    if (frame.type === "desired" && this.#answeredAgain(ws, frame)) return;
    this.emit("frame", frame);
  }

  /** Before the welcome, only the welcome counts (an error frame says why the hello was refused). */
  #onHandshake(ws: WebSocket, frame: CoordinatorToAgent): void {
    if (frame.type !== "welcome") {
      if (frame.type === "error")
        this.options.logger.error(
          { code: frame.code, problem: frame.message },
          "coordinator refused the hello",
        );
      return;
    }
    const mismatch = welcomeMismatch(frame, this.options.node);
    if (mismatch) {
      this.options.logger.error(mismatch, "welcome does not match our hello");
      ws.close(4000, "protocol mismatch");
      return;
    }
    if (this.#handshakeTimer !== null) this.#clock.clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = null;
    this.#heartbeatMs = frame.heartbeatMs;
    this.#armDeadTimer(ws);
    this.#welcomed = true;
    this.#attempt = 0;
    this.#setState("open");
    this.options.logger.info(
      { url: this.options.url, coordinator: frame.coordinatorVersion, ...this.#unreachable.connected() },
      "connected to coordinator",
    );
    this.emit("open");
  }

  /** A desired state sent again: answered from its apply (or when that apply ends), not applied twice. */
  #answeredAgain(ws: WebSocket, frame: Extract<CoordinatorToAgent, { type: "desired" }>): boolean {
    const seen = this.#answers.seen(frame);
    if (seen.kind === "apply") return false;
    this.repeatsAnswered += 1;
    // One line per generation and minute: a peer replaying one frame floods no log.
    const note = this.#repeatLog.note(`${seen.kind} ${frame.generation}`);
    if (note !== null)
      this.options.logger.info(
        {
          id: frame.id,
          generation: frame.generation,
          ...(seen.kind === "running" ? { with: seen.request } : {}),
          ...(note.repeated > 0 ? { repeated: note.repeated } : {}),
        },
        seen.kind === "answer"
          ? "desired state sent again: answered with its apply's result, not applied again"
          : "desired state sent again while it is being applied: answered when that apply ends",
      );
    if (seen.kind === "answer") ws.send(encodeFrame(seen.frame));
    return true;
  }

  #scheduleRetry(): void {
    if (this.#stopped || this.#retryTimer) return;
    this.#setState("connecting");
    const delay = backoffDelay(this.#attempt, this.options.backoff ?? DEFAULT_BACKOFF, this.options.random);
    this.#attempt += 1;
    this.reconnects += 1;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, delay);
  }
}
