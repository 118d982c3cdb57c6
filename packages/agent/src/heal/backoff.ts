// Per-service restart policy of the healer, as pure functions over a small record: a service found stopped
// is started at once (2 s later when it ran when last seen: an admin's restart may be under way), then no
// sooner than 10 s after that attempt, 20 s, 40 s ... capped at 5 min; running 10 min after its last start
// resets the count; after N starts in a row that did not last, the healer stops
// trying and reports the service as failed instead of flapping (rc.subr has no supervisor of its own:
// rcctl(8) starts a daemon once and never restarts it, docs/openbsd-rc.md section 1).

import { cappedDelay } from "@vmmeet/node";

export interface RestartPolicy {
  /** Delay after the first start before the second may follow; multiplied by `factor` per attempt. */
  initialMs: number;
  /** Cap of the delay. */
  maxMs: number;
  factor: number;
  /** Running this long after the last start attempt resets the attempt count. */
  stableMs: number;
  /** Start attempts in a row (without a stable period between them) before giving up. */
  maxAttempts: number;
  /**
   * A service seen running and then found stopped is started no sooner than this after: an admin's
   * `rcctl restart` stops it and starts it again, and a start of the healer's in between would race it.
   */
  settleMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  factor: 2,
  stableMs: 600_000,
  maxAttempts: 6,
  settleMs: 2_000,
};

/** What the healer remembers about one managed service. */
export interface ServiceRecord {
  /** Start attempts since the service last ran for `stableMs`. */
  attempts: number;
  lastAttemptAt: number | null;
  /** Earliest time of the next attempt. */
  nextAttemptAt: number;
  gaveUp: boolean;
  /** Starts the healer made that rcctl check confirmed (what status reports as restarts). */
  restarts: number;
  /** Why the last attempt failed (rcctl's outcome and output; never a secret). */
  lastError: string | null;
  /** When the service owner said the running service stopped (no start before settleMs after). */
  stoppedAt: number | null;
}

export function newRecord(): ServiceRecord {
  return {
    attempts: 0,
    lastAttemptAt: null,
    nextAttemptAt: 0,
    gaveUp: false,
    restarts: 0,
    lastError: null,
    stoppedAt: null,
  };
}

/** The earliest time of the next start attempt: the backoff's, and settleMs after the service stopped. */
export function dueAt(rec: ServiceRecord, p: RestartPolicy): number {
  return Math.max(rec.nextAttemptAt, rec.stoppedAt === null ? 0 : rec.stoppedAt + p.settleMs);
}

/** Delay that must pass after attempt number `attempt` (1-based) before the next one. */
export function delayAfter(attempt: number, p: RestartPolicy): number {
  return cappedDelay(attempt - 1, p);
}

export type Decision =
  | { kind: "none" }
  /** Not running, too early for the next attempt. */
  | { kind: "wait"; untilMs: number }
  | { kind: "start"; attempt: number }
  /** Not running after maxAttempts: stop trying. */
  | { kind: "give-up" }
  /** Given up on, but running again (started by hand or by an apply). */
  | { kind: "recovered" };

/** What to do about a service, given whether `rcctl check` finds it running now. */
export function decide(rec: ServiceRecord, running: boolean, now: number, p: RestartPolicy): Decision {
  if (running) return rec.gaveUp ? { kind: "recovered" } : { kind: "none" };
  if (rec.gaveUp) return { kind: "none" };
  const due = dueAt(rec, p);
  if (now < due) return { kind: "wait", untilMs: due };
  if (rec.attempts >= p.maxAttempts) return { kind: "give-up" };
  return { kind: "start", attempt: rec.attempts + 1 };
}

/** The record after a start attempt; `ok` means rcctl started it and rcctl check found the process. */
export function afterAttempt(
  rec: ServiceRecord,
  now: number,
  p: RestartPolicy,
  ok: boolean,
  error: string | null,
): ServiceRecord {
  const attempts = rec.attempts + 1;
  return {
    ...rec,
    attempts,
    lastAttemptAt: now,
    nextAttemptAt: now + delayAfter(attempts, p),
    restarts: rec.restarts + (ok ? 1 : 0),
    lastError: ok ? null : error,
    stoppedAt: null,
  };
}

/**
 * The record after a check: found running, a stop the owner told is over (someone started it again), and
 * the count resets once it ran long enough.
 */
export function settle(rec: ServiceRecord, running: boolean, now: number, p: RestartPolicy): ServiceRecord {
  if (!running) return rec;
  const back = rec.stoppedAt === null ? rec : { ...rec, stoppedAt: null };
  if (back.attempts === 0 || back.lastAttemptAt === null || now - back.lastAttemptAt < p.stableMs)
    return back;
  return { ...back, attempts: 0, nextAttemptAt: 0, lastError: null };
}

export type ServicePhase = "ok" | "starting" | "stopped" | "backoff" | "failed";

/**
 * The state status reports (ServiceState.state): starting inside its grace period after a (re)start (the
 * service owner's start time, services/life.ts: the healer's own attempts and an apply's alike).
 */
export function phaseOf(rec: ServiceRecord, running: boolean, inGrace: boolean): ServicePhase {
  if (rec.gaveUp) return running ? "ok" : "failed";
  if (running) return inGrace ? "starting" : "ok";
  return rec.attempts > 0 ? "backoff" : "stopped";
}
