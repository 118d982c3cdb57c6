// While the coordinator is unreachable (for days, maybe) the agent retries at the capped rate forever, and
// keeps nothing per attempt: the first FAILURE_LOG_FIRST failures are logged one by one, after that one line
// every FAILURE_LOG_EVERY_MS says how many attempts failed since the link was last up (a week away is about
// 27,000 attempts at the 30 s cap; a line each would be 54,000 lines in syslog).
import type { Clock } from "@vmmeet/node";
import type { Logger } from "pino";
import { explainHttpStatus } from "./endpoint.js";

/** Failed attempts in a row logged one by one; after that, one summary line per FAILURE_LOG_EVERY_MS. */
export const FAILURE_LOG_FIRST = 5;
export const FAILURE_LOG_EVERY_MS = 10 * 60_000;

export class UnreachableLog {
  #count = 0;
  #since = 0;
  #loggedAt = Number.NEGATIVE_INFINITY;
  /** The socket's last error: 'close' follows every 'error', and is where it is logged. */
  lastError = "";

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly url: string,
  ) {}

  /** The link is up: how long it was not (null when the first attempt made it); the count starts again. */
  connected(): { failedAttempts: number; unreachableMs: number } | null {
    const away =
      this.#count > 0 ? { failedAttempts: this.#count, unreachableMs: this.clock.now() - this.#since } : null;
    this.#count = 0;
    this.#since = 0;
    this.#loggedAt = Number.NEGATIVE_INFINITY;
    this.lastError = "";
    return away;
  }

  /** The last error of a link that was open, for the line saying it closed (once: cleared here). */
  takeError(): string {
    const err = this.lastError;
    this.lastError = "";
    return err;
  }

  /** An attempt that never got to a welcome: logged one by one at first, then summarized now and then. */
  failed(code: number, reason: string): void {
    const now = this.clock.now();
    if (this.#count === 0) this.#since = now;
    this.#count += 1;
    // An HTTP answer instead of an upgrade says what to fix (wrong path, enroll again) in the message itself,
    // in place of ws's bare "Unexpected server response: N".
    const lastError = this.takeError();
    const http = explainHttpStatus(lastError);
    const message = http ?? "coordinator link error";
    const detail = { code, reason, ...(http ? {} : { err: lastError.slice(0, 200) }), url: this.url };
    if (this.#count <= FAILURE_LOG_FIRST) {
      this.logger.warn({ attempt: this.#count, ...detail }, message);
      this.#loggedAt = now;
      return;
    }
    if (now - this.#loggedAt < FAILURE_LOG_EVERY_MS) return;
    this.#loggedAt = now;
    this.logger.warn(
      { ...detail, failedAttempts: this.#count, sinceMs: now - this.#since },
      "coordinator still unreachable; retrying at the capped rate, enforcing the last applied state meanwhile",
    );
  }
}
