// Per-service restart policy of the healer, as pure functions over a small record: a service found stopped
// is started at once, then no sooner than 10 s after that attempt, 20 s, 40 s ... capped at 5 min; running
// 10 min after its last start resets the count; after N starts in a row that did not last, the healer stops
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
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialMs: 10_000,
  maxMs: 300_000,
  factor: 2,
  stableMs: 600_000,
  maxAttempts: 6,
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
}

export function newRecord(): ServiceRecord {
  return { attempts: 0, lastAttemptAt: null, nextAttemptAt: 0, gaveUp: false, restarts: 0, lastError: null };
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
  if (now < rec.nextAttemptAt) return { kind: "wait", untilMs: rec.nextAttemptAt };
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
  };
}

/** The record after a check that found the service running: the count resets once it ran long enough. */
export function settle(rec: ServiceRecord, running: boolean, now: number, p: RestartPolicy): ServiceRecord {
  if (!running || rec.attempts === 0 || rec.lastAttemptAt === null) return rec;
  if (now - rec.lastAttemptAt < p.stableMs) return rec;
  return { ...rec, attempts: 0, nextAttemptAt: 0, lastError: null };
}

export type ServicePhase = "ok" | "starting" | "stopped" | "backoff" | "failed";

/** The state status reports (ServiceState.state): starting inside its grace period after a start. */
export function phaseOf(
  rec: ServiceRecord,
  running: boolean,
  now: number,
  graceMs: number,
  startedAt: number | null,
): ServicePhase {
  if (rec.gaveUp) return running ? "ok" : "failed";
  if (running) {
    const since = Math.max(rec.lastAttemptAt ?? -Infinity, startedAt ?? -Infinity);
    return now - since < graceMs ? "starting" : "ok";
  }
  return rec.attempts > 0 ? "backoff" : "stopped";
}
