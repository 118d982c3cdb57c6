// Events the coordinator has not received yet. The agent heals with or without a coordinator; what it did
// while the link was down is sent after the next (re)connect, oldest first. Bounded: a node that flaps for
// days without a coordinator keeps the newest events and says how many older ones it dropped.
import type { AgentEvent } from "@vmmeet/shared";

export const DEFAULT_OUTBOX_CAPACITY = 500;

export class EventOutbox {
  readonly #queue: AgentEvent[] = [];
  #dropped = 0;
  #droppedSince: string | null = null;

  constructor(readonly capacity: number = DEFAULT_OUTBOX_CAPACITY) {
    if (!(capacity >= 1)) throw new RangeError("outbox capacity must be at least 1");
  }

  get size(): number {
    return this.#queue.length;
  }

  get dropped(): number {
    return this.#dropped;
  }

  push(event: AgentEvent): void {
    this.#queue.push(event);
    while (this.#queue.length > this.capacity) {
      const old = this.#queue.shift()!;
      if (this.#dropped === 0) this.#droppedSince = old.at;
      this.#dropped += 1;
    }
  }

  /**
   * Sends queued events in order while `send` accepts them (the transport returns false when the link is
   * not open); what was not sent stays queued. Returns how many were sent.
   */
  drain(send: (event: AgentEvent) => boolean, now: () => Date = () => new Date()): number {
    let sent = 0;
    if (this.#dropped > 0) {
      const note: AgentEvent = {
        at: now().toISOString(),
        kind: "events-dropped",
        label: "degraded",
        message: `${this.#dropped} older events were dropped while the coordinator was unreachable (the agent keeps the last ${this.capacity}), the first from ${this.#droppedSince}`,
      };
      if (!send(note)) return 0;
      this.#dropped = 0;
      this.#droppedSince = null;
      sent += 1;
    }
    while (this.#queue.length > 0) {
      if (!send(this.#queue[0]!)) break;
      this.#queue.shift();
      sent += 1;
    }
    return sent;
  }
}
