// Capped exponential backoff, the one formula behind every retry of vmmeet: the agent's reconnects (with
// jitter), its enrollment, its service restarts, and the coordinator's re-pushes to a failing node. The
// jitter is "full jitter" as in "Exponential Backoff And Jitter" (AWS architecture blog): a fleet of agents
// that lost their coordinator together does not come back in lockstep.

export interface CappedExponential {
  /** The delay of step 0. */
  initialMs: number;
  /** Cap of the delay. */
  maxMs: number;
  /** Growth per step. */
  factor: number;
}

export interface BackoffOptions extends CappedExponential {
  /** 0 = no jitter, 1 = anywhere between 0 and the capped delay. */
  jitter: number;
}

/** The agent's reconnect backoff: 0.5 s doubling to 30 s, up to half of it taken off at random. */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

/** `initialMs * factor^step` (a step below 0 counts as 0), at most `maxMs`. */
export function cappedDelay(step: number, options: CappedExponential): number {
  return Math.min(options.maxMs, options.initialMs * options.factor ** Math.max(0, step));
}

/** cappedDelay of `attempt` (0-based) less up to `jitter` of it at random, rounded to whole ms. */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  return Math.round(cappedDelay(attempt, options) * (1 - options.jitter * random()));
}
