import { inspect } from "node:util";

/** What {@link waitFor} waits for and how long. */
export interface WaitOptions {
  /** What is awaited, for the failure message ("jvb connected", "the second restart"). */
  what: string;
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /**
   * Pause between checks (default 10 ms). 0 waits one turn of the event loop (setImmediate) instead: for
   * conditions that an injected clock or in-process I/O makes true without real time passing.
   */
  intervalMs?: number;
}

/**
 * The one way tests wait: checks `condition` until it returns a value other than undefined, null or false,
 * and returns that value. A condition may throw to say why it does not hold yet. On timeout the error says
 * what was awaited and the last value (or error) the condition gave.
 */
export async function waitFor<T>(
  condition: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  { what, timeoutMs = 10_000, intervalMs = 10 }: WaitOptions,
): Promise<Exclude<T, undefined | false | null>> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing (the condition never returned)";
  for (;;) {
    try {
      const value = await condition();
      if (value !== undefined && value !== false && value !== null)
        return value as Exclude<T, undefined | false | null>;
      last = inspect(value);
    } catch (err) {
      last = `it threw ${err instanceof Error ? err.message : inspect(err)}`;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last}`);
    }
    await (intervalMs === 0
      ? new Promise((r) => setImmediate(r))
      : new Promise((r) => setTimeout(r, intervalMs)));
  }
}
