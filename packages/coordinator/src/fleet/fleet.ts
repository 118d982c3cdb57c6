// What the coordinator knows about each node right now: connected or last seen, the status it reported
// (snapshot, then changes), its recent events, and the requests in flight to it (correlated by frame id).
//
// A desired state in flight when its node's link drops is not lost with it: the request waits, within its
// own timeout, for the node to connect again and sends the same frame (same id) on the new link; the agent
// answers a resend from the apply that frame started (shared protocol/requests.ts RESENT_ON_RECONNECT), so a
// cut during an apply costs a reconnect, not the push.
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  type AgentEvent,
  type AgentToCoordinator,
  type CoordinatorToAgent,
  checkReply,
  type HealthSignal,
  type NodeStatus,
  RESENT_ON_RECONNECT,
  type ReplyFor,
  type RequestBody,
  type RequestType,
} from "@vmmeet/shared";
import { type NodeClock, nodeClock } from "./clock.js";
import type { AgentConnection } from "./link.js";

export type ApplyResult = ReplyFor<"desired">;

/** A request that got no reply of its type: the node refused it (an error frame) or broke the protocol. */
export class ReplyError extends Error {
  constructor(
    readonly node: string,
    readonly request: RequestType,
    message: string,
    /** The agent's error code when it answered with an error frame. */
    readonly code: string | null,
  ) {
    super(`${node} ${message}`);
    this.name = "ReplyError";
  }
}

/** Any request body, one member per request type (what the implementation of `request` handles). */
type AnyRequestBody = { [K in RequestType]: RequestBody<K> }[RequestType];

export interface NodeLive {
  name: string;
  connected: boolean;
  remote: string | null;
  lastSeen: string | null;
  agentVersion: string | null;
  status: NodeStatus | null;
  events: AgentEvent[];
  reconnects: number;
  /** Its clock against the coordinator's, as last measured (fleet/clock.ts); the times in status are translated. */
  clock?: NodeClock;
}

interface Pending {
  resolve: (frame: AgentToCoordinator) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  /** The frame, when a new link gets it again (RESENT_ON_RECONNECT); absent: a drop rejects the request. */
  resend?: CoordinatorToAgent;
  /** The link it last went out on; null while it waits for the node to connect again. */
  conn: AgentConnection | null;
  /** Times it went out again on a new link. */
  resent: number;
}

export interface FleetEvents {
  change: [node: string];
  event: [node: string, event: AgentEvent];
  signal: [node: string, signal: HealthSignal];
}

export class Fleet extends EventEmitter<FleetEvents> {
  readonly nodes = new Map<string, NodeLive>();
  readonly #conns = new Map<string, AgentConnection>();
  readonly #pending = new Map<string, Pending>();
  #seq = 0;
  /**
   * Part of every request id: an agent remembers the ids of the desired states it applied (to answer a
   * resend), so ids must not start over at c1 when the coordinator restarts.
   */
  readonly #idPrefix = `c${randomBytes(4).toString("hex")}.`;
  /** Requests sent again on a new link after a drop, since start. */
  resends = 0;

  constructor(private readonly now: () => Date = () => new Date()) {
    super();
  }

  /** Seed from the state directory (what nodes reported before a coordinator restart). */
  restore(
    records: Record<string, { lastSeen: string | null; status: NodeStatus | null; agentVersion?: string }>,
  ): void {
    for (const [name, rec] of Object.entries(records)) {
      const live = this.node(name);
      live.lastSeen = rec.lastSeen;
      live.status = rec.status;
      live.agentVersion = rec.agentVersion ?? null;
    }
  }

  node(name: string): NodeLive {
    let live = this.nodes.get(name);
    if (!live) {
      live = {
        name,
        connected: false,
        remote: null,
        lastSeen: null,
        agentVersion: null,
        status: null,
        events: [],
        reconnects: 0,
      };
      this.nodes.set(name, live);
    }
    return live;
  }

  connected(name: string): boolean {
    return this.#conns.has(name);
  }

  attach(conn: AgentConnection, agentVersion: string): void {
    const live = this.node(conn.node);
    if (live.lastSeen !== null) live.reconnects += 1;
    live.connected = true;
    live.remote = conn.remote;
    live.agentVersion = agentVersion;
    live.lastSeen = this.now().toISOString();
    if (conn.clock) live.clock = nodeClock(conn.clock);
    this.#conns.set(conn.node, conn);
    this.#resendOn(conn);
    this.emit("change", conn.node);
  }

  /** A node's new link: the requests that wait for it (or went out on a link it replaces) go again. */
  #resendOn(conn: AgentConnection): void {
    for (const [key, p] of this.#pending) {
      if (!key.startsWith(`${conn.node}/`) || !p.resend || p.conn === conn) continue;
      p.conn = conn.send(p.resend) ? conn : null;
      if (p.conn) {
        p.resent += 1;
        this.resends += 1;
      }
    }
  }

  detach(conn: AgentConnection): void {
    if (this.#conns.get(conn.node) !== conn) return;
    this.#conns.delete(conn.node);
    const live = this.node(conn.node);
    live.connected = false;
    // A link found dead was last heard from before it was torn down: the node is away since then.
    live.lastSeen =
      conn.silent && conn.lastHeardAt !== undefined
        ? new Date(conn.lastHeardAt).toISOString()
        : this.now().toISOString();
    for (const [id, p] of this.#pending) {
      if (id.startsWith(`${conn.node}/`)) {
        if (p.resend) {
          // Waits for the next link (or its timeout).
          p.conn = null;
          continue;
        }
        clearTimeout(p.timer);
        this.#pending.delete(id);
        p.reject(new Error(`${conn.node} disconnected`));
      }
    }
    this.emit("change", conn.node);
  }

  /** Routes an agent's frame: replies resolve their request, status updates the node's record. */
  receive(node: string, frame: AgentToCoordinator): void {
    const live = this.node(node);
    live.lastSeen = this.now().toISOString();
    const clock = this.#conns.get(node)?.clock;
    if (clock) live.clock = nodeClock(clock);
    switch (frame.type) {
      case "snapshot":
        live.status = frame.status;
        break;
      case "status":
        live.status = live.status ? { ...live.status, ...frame.status } : null;
        break;
      case "event":
        live.events.push(frame.event);
        if (live.events.length > 200) live.events.splice(0, live.events.length - 200);
        this.emit("event", node, frame.event);
        break;
      case "signal":
        this.emit("signal", node, frame.signal);
        break;
      case "apply-result":
        // An applied desired state: the node holds that generation now, before its next snapshot arrives (a
        // resend is answered from the agent's kept answer at once, while the snapshot of the new link is
        // still being built behind rcctl).
        if (frame.ok && live.status && frame.generation > live.status.generation)
          live.status = { ...live.status, generation: frame.generation };
        break;
      default:
        break;
    }
    const replyTo = "replyTo" in frame ? frame.replyTo : undefined;
    if (replyTo) {
      const p = this.#pending.get(`${node}/${replyTo}`);
      if (p) {
        clearTimeout(p.timer);
        this.#pending.delete(`${node}/${replyTo}`);
        p.resolve(frame);
      }
    }
    this.emit("change", node);
  }

  /**
   * Sends a request (given its id here) and waits for the frame that replies to it, narrowed to the reply
   * type of the protocol's table (shared protocol/requests.ts). An error frame or a reply of another type
   * rejects with a ReplyError naming the node and the request. A request of RESENT_ON_RECONNECT outlives a
   * dropped link: it goes again, the same frame, when the node connects again within `timeoutMs`.
   */
  request<K extends RequestType>(
    node: string,
    frame: RequestBody<K> & { type: K },
    timeoutMs: number,
  ): Promise<ReplyFor<K>>;
  async request(node: string, frame: AnyRequestBody, timeoutMs: number): Promise<AgentToCoordinator> {
    const reply = await this.#exchange(node, frame, timeoutMs);
    const checked = checkReply(frame.type, reply);
    if (checked.ok) return checked.reply;
    throw new ReplyError(node, frame.type, checked.message, checked.refused?.code ?? null);
  }

  #exchange(node: string, frame: AnyRequestBody, timeoutMs: number): Promise<AgentToCoordinator> {
    const conn = this.#conns.get(node);
    if (!conn) return Promise.reject(new Error(`${node} is not connected`));
    const id = `${this.#idPrefix}${++this.#seq}`;
    const key = `${node}/${id}`;
    const full = { ...frame, id } as CoordinatorToAgent;
    const resendable = RESENT_ON_RECONNECT.has(frame.type);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.#pending.get(key);
        this.#pending.delete(key);
        const secs = Math.round(timeoutMs / 1000);
        reject(
          new Error(
            p?.conn === null
              ? `${node} disconnected and did not connect again within ${secs} s`
              : `${node} did not answer within ${secs} s${p?.resent ? ` (sent again ${p.resent} times after its link dropped)` : ""}`,
          ),
        );
      }, timeoutMs);
      const pending: Pending = { resolve, reject, timer, conn, resent: 0 };
      if (resendable) pending.resend = full;
      this.#pending.set(key, pending);
      if (!conn.send(full)) {
        if (resendable) {
          // The link is closing: the next one gets it.
          pending.conn = null;
          return;
        }
        clearTimeout(timer);
        this.#pending.delete(key);
        reject(new Error(`${node} is not connected`));
      }
    });
  }

  send(node: string, frame: CoordinatorToAgent): boolean {
    return this.#conns.get(node)?.send(frame) ?? false;
  }

  records(): Record<string, { lastSeen: string | null; status: NodeStatus | null; agentVersion?: string }> {
    const out: Record<string, { lastSeen: string | null; status: NodeStatus | null; agentVersion?: string }> =
      {};
    for (const [name, live] of this.nodes) {
      out[name] = {
        lastSeen: live.lastSeen,
        status: live.status,
        ...(live.agentVersion ? { agentVersion: live.agentVersion } : {}),
      };
    }
    return out;
  }
}
