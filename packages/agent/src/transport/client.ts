// The agent's link to the coordinator: one websocket, one reconnect loop, explicit state.
//
//   idle --start()--> connecting --open+welcome--> open --close/dead link--> connecting (after backoff)
//   any  --stop()---> closing --> idle
//
// The agent's first frame is a hello (protocol version, node, role, generation); the coordinator answers with
// a welcome carrying its heartbeat interval. The coordinator pings; if nothing at all arrives for three
// heartbeats the link is declared dead and torn down, since a half-open TCP connection never closes by itself.
// After every (re)connect the daemon sends a full snapshot (onOpen), then only changes. A desired state the
// coordinator sends again after a dropped link is answered from its apply, not applied twice (replies.ts).
//
// Invalid frames from the coordinator are answered with an error frame, at most BAD_FRAME_REPLY_LIMIT per
// minute and link (more are dropped without an answer); past BAD_FRAME_CLOSE_LIMIT per minute the link is
// closed (4006) and reopened after the backoff. They are logged once per kind (error code) and minute with
// how many more came (shared/refusals.ts), whatever the links: a peer that reconnects starts no new count.
//
// While the coordinator is unreachable (for days, maybe) the agent retries at the capped rate forever, and
// keeps nothing per attempt: the first FAILURE_LOG_FIRST failures are logged one by one, after that one line
// every FAILURE_LOG_EVERY_MS says how many attempts failed since the link was last up (a week away is about
// 27,000 attempts at the 30 s cap; a line each would be 54,000 lines in syslog). Timers and "now" come from
// an injected clock, so a test can let a simulated week pass (test/reliability-days-away.test.ts).

import { type BackoffOptions, backoffDelay, type Clock, DEFAULT_BACKOFF } from "@vmmeet/node";
import {
  type AgentToCoordinator,
  CloseCode,
  type CoordinatorToAgent,
  type Decoded,
  decodeCoordinatorFrame,
  describeClose,
  ErrorCode,
  encodeFrame,
  FrameId,
  MAX_FRAME_BYTES,
  type NodeDesired,
  PROTOCOL_VERSION,
  RefusalLog,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import WebSocket from "ws";
import { pinnedServerIdentity } from "../enroll/pin.js";
import { ApplyAnswers } from "./replies.js";

/** The coordinator serves agents at this path (vmmeet serve prints it). */
export const AGENT_PATH = "/agent";

/** --coordinator as given, with no path (wss://HOST:PORT or wss://HOST:PORT/) meaning the agents' endpoint. */
export function agentEndpoint(url: string): string {
  const u = new URL(url);
  if (u.pathname !== "/" || u.search !== "") return url;
  u.pathname = AGENT_PATH;
  return u.toString();
}

/**
 * What an HTTP status instead of a websocket upgrade means, in one line: ws reports it only as
 * "Unexpected server response: N", which says nothing about what to fix. Undefined for other errors.
 */
export function explainHttpStatus(message: string): string | undefined {
  const m = /^Unexpected server response: (\d{3})$/.exec(message);
  if (!m) return undefined;
  const status = Number(m[1]);
  const what =
    status === 400 || status === 404
      ? `no websocket endpoint at this path: the coordinator serves agents at ${AGENT_PATH} (give wss://HOST:PORT or wss://HOST:PORT${AGENT_PATH})`
      : status === 401 || status === 403
        ? "refused: this agent's certificate or join token was not accepted; enroll again with a token from 'vmmeet agents token NODE'"
        : status === 426
          ? "the server wants another protocol: is this the coordinator's port (vmmeet serve --listen)?"
          : status >= 500
            ? "the server failed; if it is the coordinator, its log says why"
            : "not a websocket upgrade: is this the coordinator's address and port (vmmeet serve --listen)?";
  return `coordinator answered HTTP ${status} instead of a websocket upgrade: ${what}`;
}

export const BAD_FRAME_REPLY_LIMIT = 20;
export const BAD_FRAME_CLOSE_LIMIT = 200;
/** Failed attempts in a row logged one by one; after that, one summary line per FAILURE_LOG_EVERY_MS. */
export const FAILURE_LOG_FIRST = 5;
export const FAILURE_LOG_EVERY_MS = 10 * 60_000;

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

/** TLS material for wss: the deployment CA and this agent's client certificate (security issue). */
export interface TransportTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** "sha256:HEX" of the CA pinned at enrollment: the server's verified chain must contain it. */
  caHash?: string;
}

export interface TransportOptions {
  url: string;
  node: string;
  role: NodeDesired["role"] | null;
  agentVersion: string;
  generation: () => number;
  onFrame: (frame: CoordinatorToAgent) => void;
  onOpen: () => void;
  onStateChange?: (state: TransportState) => void;
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

export class AgentTransport {
  #state: TransportState = "idle";
  #ws: WebSocket | null = null;
  #attempt = 0;
  #retryTimer: unknown = null;
  #deadTimer: unknown = null;
  #handshakeTimer: unknown = null;
  readonly #clock: Clock;
  /** Failed attempts since the link was last open, and when the last summary of them was logged. */
  #failures = { count: 0, since: 0, loggedAt: Number.NEGATIVE_INFINITY, lastError: "" };
  #heartbeatMs: number;
  #welcomed = false;
  #stopped = true;
  #gaveUp: string | null = null;
  #bad = { windowStart: 0, count: 0 };
  readonly #badLog: RefusalLog;
  readonly #answers = new ApplyAnswers();
  /** Repeats are logged once per generation and minute, with a count (the apply answers kept are few). */
  readonly #repeatLog: RefusalLog;
  /** Desired states received again (a resend, or the same state while it was applied) and not applied again. */
  repeatsAnswered = 0;
  reconnects = 0;
  /** Connection attempts made (the first one included). */
  attempts = 0;
  /** Invalid frames received and dropped without an answer (over the per-minute reply limit). */
  badFramesDropped = 0;

  constructor(private readonly options: TransportOptions) {
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#clock = options.clock ?? transportClock;
    this.#badLog = new RefusalLog({ now: () => this.#clock.now() });
    this.#repeatLog = new RefusalLog({ now: () => this.#clock.now() });
  }

  get state(): TransportState {
    return this.#state;
  }

  /** Why the transport stopped retrying (revoked, unauthorized, protocol mismatch), or null. */
  get gaveUp(): string | null {
    return this.#gaveUp;
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
    this.options.onStateChange?.(state);
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
    const tls = this.options.tls;
    let ws: WebSocket;
    try {
      ws = new Impl(this.options.url, {
        maxPayload: MAX_FRAME_BYTES,
        handshakeTimeout: this.options.handshakeTimeoutMs ?? 10_000,
        headers: this.options.headers?.() ?? {},
        ...(tls?.ca ? { ca: tls.ca } : {}),
        ...(tls?.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
        ...(tls?.caHash ? { checkServerIdentity: pinnedServerIdentity(tls.caHash) } : {}),
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
    this.#bad = { windowStart: this.#clock.now(), count: 0 };
    ws.on("open", () => {
      this.#armHandshakeTimer(ws);
      ws.send(
        encodeFrame({
          type: "hello",
          protocol: PROTOCOL_VERSION,
          node: this.options.node,
          role: this.options.role,
          agentVersion: this.options.agentVersion,
          generation: this.options.generation(),
          agentTime: Math.round((this.options.now ?? Date.now)()),
        }),
      );
      this.#armDeadTimer(ws);
    });
    ws.on("message", (data, isBinary) => this.#onMessage(ws, data, isBinary));
    ws.on("error", (err) => {
      // 'close' follows every 'error'; log there (once per failed attempt at most), reconnect there.
      this.#failures.lastError = err.message;
    });
    ws.on("close", (code, reasonBuf) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#clearTimers();
      const { reason, retry } = describeClose(code);
      const wasOpen = this.#welcomed;
      this.#welcomed = false;
      if (this.#stopped) return;
      if (wasOpen) {
        this.options.logger.warn(
          {
            code,
            reason,
            peerReason: reasonBuf.toString().slice(0, 200),
            ...(this.#failures.lastError ? { err: this.#failures.lastError.slice(0, 200) } : {}),
          },
          "coordinator link closed",
        );
        this.#failures.lastError = "";
      } else {
        this.#failed(code, reason);
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
    });
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
    const text = isBinary
      ? null
      : Array.isArray(data)
        ? Buffer.concat(data).toString("utf8")
        : data.toString();
    const decoded: Decoded<CoordinatorToAgent> =
      text === null
        ? { ok: false, code: ErrorCode.badFrame, message: "binary frames are not used" }
        : decodeCoordinatorFrame(text);
    if (!decoded.ok) {
      const now = this.#clock.now();
      if (now - this.#bad.windowStart > 60_000) this.#bad = { windowStart: now, count: 0 };
      this.#bad.count += 1;
      if (this.#bad.count > BAD_FRAME_CLOSE_LIMIT) {
        if (ws.readyState === WebSocket.OPEN) {
          this.options.logger.error(
            { count: this.#bad.count, limit: BAD_FRAME_CLOSE_LIMIT },
            "too many invalid frames from the coordinator; reconnecting",
          );
          ws.close(CloseCode.tooManyBadFrames, "too many invalid frames");
        }
        return;
      }
      const note = this.#badLog.note(decoded.code);
      if (note !== null)
        this.options.logger.warn(
          {
            code: decoded.code,
            problem: decoded.message.slice(0, 500),
            ...(note.repeated > 0 ? { repeated: note.repeated } : {}),
          },
          "invalid frame from coordinator",
        );
      if (this.#bad.count > BAD_FRAME_REPLY_LIMIT) {
        this.badFramesDropped += 1;
        return;
      }
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(
          encodeFrame({
            type: "error",
            code: decoded.code,
            message: decoded.message.slice(0, 2000),
            // The id is echoed only when it is a valid frame id: a malformed one would make our own
            // error frame invalid (and reflect whatever the peer put there).
            ...(decoded.id && FrameId.safeParse(decoded.id).success ? { replyTo: decoded.id } : {}),
          }),
        );
      }
      return;
    }
    const frame = decoded.frame;
    if (!this.#welcomed) {
      if (frame.type !== "welcome") {
        if (frame.type === "error")
          this.options.logger.error(
            { code: frame.code, problem: frame.message },
            "coordinator refused the hello",
          );
        return;
      }
      if (frame.protocol !== PROTOCOL_VERSION || frame.node !== this.options.node) {
        this.options.logger.error(
          { theirs: frame.protocol, ours: PROTOCOL_VERSION, node: frame.node },
          "welcome does not match our hello",
        );
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
        {
          url: this.options.url,
          coordinator: frame.coordinatorVersion,
          ...(this.#failures.count > 0
            ? {
                failedAttempts: this.#failures.count,
                unreachableMs: this.#clock.now() - this.#failures.since,
              }
            : {}),
        },
        "connected to coordinator",
      );
      this.#failures = { count: 0, since: 0, loggedAt: Number.NEGATIVE_INFINITY, lastError: "" };
      this.options.onOpen();
      return;
    }
    if (frame.type === "ping") {
      ws.send(
        encodeFrame({
          type: "pong",
          replyTo: frame.id,
          sentAt: frame.sentAt,
          agentTime: Math.round((this.options.now ?? Date.now)()),
        }),
      );
      return;
    }
    if (frame.type === "pong") return;
    if (frame.type === "desired") {
      const seen = this.#answers.seen(frame);
      if (seen.kind !== "apply") {
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
        return;
      }
    }
    this.options.onFrame(frame);
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

  /** An attempt that never got to a welcome: logged one by one at first, then summarized now and then. */
  #failed(code: number, reason: string): void {
    const f = this.#failures;
    const now = this.#clock.now();
    if (f.count === 0) f.since = now;
    f.count += 1;
    // An HTTP answer instead of an upgrade says what to fix (wrong path, enroll again) in the message itself,
    // in place of ws's bare "Unexpected server response: N".
    const http = explainHttpStatus(f.lastError);
    const message = http ?? "coordinator link error";
    const detail = {
      code,
      reason,
      ...(http ? {} : { err: f.lastError.slice(0, 200) }),
      url: this.options.url,
    };
    f.lastError = "";
    if (f.count <= FAILURE_LOG_FIRST) {
      this.options.logger.warn({ attempt: f.count, ...detail }, message);
      f.loggedAt = now;
      return;
    }
    if (now - f.loggedAt < FAILURE_LOG_EVERY_MS) return;
    f.loggedAt = now;
    this.options.logger.warn(
      { ...detail, failedAttempts: f.count, sinceMs: now - f.since },
      "coordinator still unreachable; retrying at the capped rate, enforcing the last applied state meanwhile",
    );
  }
}
