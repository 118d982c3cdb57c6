// Invalid frames from the coordinator: answered with an error frame, at most BAD_FRAME_REPLY_LIMIT per minute
// and link (more are dropped without an answer); past BAD_FRAME_CLOSE_LIMIT per minute the link is closed
// (4006) and reopened after the backoff. They are logged once per kind (error code) and minute with how many
// more came (shared/refusals.ts), whatever the links: a peer that reconnects starts no new count.
import type { Clock } from "@vmmeet/node";
import { RefusalLog } from "@vmmeet/shared";
import type { Logger } from "pino";

export const BAD_FRAME_REPLY_LIMIT = 20;
export const BAD_FRAME_CLOSE_LIMIT = 200;

/** What to do with one invalid frame: answer it with an error frame, drop it, or close the link. */
export type BadFrameVerdict = "reply" | "drop" | "close";

export class BadFrameCounter {
  #window = { start: 0, count: 0 };
  readonly #log: RefusalLog;
  /** Invalid frames received and dropped without an answer (over the per-minute reply limit). */
  dropped = 0;

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.#log = new RefusalLog({ now: () => clock.now() });
  }

  /** A new link: its per-minute window starts empty (the log's per-kind notes go on). */
  newLink(): void {
    this.#window = { start: this.clock.now(), count: 0 };
  }

  /** One invalid frame of kind `code`: counted in this minute's window, logged (once per kind and minute). */
  note(code: string, message: string): { verdict: BadFrameVerdict; count: number } {
    const now = this.clock.now();
    if (now - this.#window.start > 60_000) this.#window = { start: now, count: 0 };
    const count = ++this.#window.count;
    if (count > BAD_FRAME_CLOSE_LIMIT) return { verdict: "close", count };
    const note = this.#log.note(code);
    if (note !== null)
      this.logger.warn(
        {
          code,
          problem: message.slice(0, 500),
          ...(note.repeated > 0 ? { repeated: note.repeated } : {}),
        },
        "invalid frame from coordinator",
      );
    if (count > BAD_FRAME_REPLY_LIMIT) {
      this.dropped += 1;
      return { verdict: "drop", count };
    }
    return { verdict: "reply", count };
  }
}
