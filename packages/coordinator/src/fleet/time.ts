// The coordinator's time source and timers, injected into the core, the rollout and the heal schedule so
// that a test moves time by hand (STYLE.md: inject, don't mock) and a gate's recovery window, a push's
// deadline or a re-push's backoff are measured on one clock. Structural and minimal: any object with these
// three methods is a Clock (the agent's health Clock is one).

export interface Clock {
  /** ms since the epoch */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The machine's clock and Node's timers (which keep the process alive, as the daemon's own timers did). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
