/** Capped exponential backoff with full jitter ("Exponential Backoff And Jitter", AWS architecture blog). */
export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  factor: number;
  /** 0 = no jitter, 1 = anywhere between 0 and the capped delay. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5 };

export function backoffDelay(attempt: number, o: BackoffOptions, random: () => number = Math.random): number {
  const capped = Math.min(o.maxMs, o.initialMs * o.factor ** Math.max(0, attempt));
  return Math.round(capped * (1 - o.jitter * random()));
}
