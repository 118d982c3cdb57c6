// The healer's command-line flags (main.ts), kept beside the healer so main.ts only splices them in.
// Seconds, fractions allowed, so the tests can run the real process with intervals of a fraction of a second.
import type { HealerTuningInput } from "./tuning.js";

export const HEAL_OPTIONS = {
  "heal-interval": { type: "string" },
  "restart-backoff": { type: "string" },
  "restart-backoff-max": { type: "string" },
  "restart-stable": { type: "string" },
  "restart-attempts": { type: "string" },
  "restart-settle": { type: "string" },
} as const;

export const HEAL_USAGE = `  --heal-interval S     check managed services and compare managed files every S seconds (default 15,
                        +-20% jitter; file edits are also seen at once by a watch); 0 turns self-healing off
  --restart-backoff S   a service found stopped is started at once (--restart-settle later when it ran
                        when last seen), again no sooner than S seconds later, doubling per attempt
                        (default 10)
  --restart-backoff-max S  cap of that delay (default 300)
  --restart-stable S    running S seconds after its last start resets a service's attempts (default 600)
  --restart-attempts N  starts in a row that do not last before the service is reported failed (default 6)
  --restart-settle S    a service that ran when last seen and is found stopped is started no sooner than
                        S seconds after: a restart by hand (rcctl restart) may be under way (default 2)`;

/** The tuning the flags ask for, false for --heal-interval 0, or a message for a bad value. */
export function healTuningFrom(
  values: Record<string, string | boolean | undefined>,
): { ok: true; tuning: HealerTuningInput | false } | { ok: false; message: string } {
  const num = (name: keyof typeof HEAL_OPTIONS, integer = false): number | undefined | string => {
    const v = values[name];
    if (typeof v !== "string") return undefined;
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n)))
      return `--${name} must be a ${integer ? "whole number" : "number of seconds"} >= 0`;
    return n;
  };
  const interval = num("heal-interval");
  const backoff = num("restart-backoff");
  const backoffMax = num("restart-backoff-max");
  const stable = num("restart-stable");
  const attempts = num("restart-attempts", true);
  const settle = num("restart-settle");
  for (const v of [interval, backoff, backoffMax, stable, attempts, settle])
    if (typeof v === "string") return { ok: false, message: v };
  if (interval === 0) return { ok: true, tuning: false };
  if (attempts === 0) return { ok: false, message: "--restart-attempts must be at least 1" };
  const ms = (s: number | string | undefined) => (typeof s === "number" ? Math.round(s * 1000) : undefined);
  const restart = {
    ...(backoff !== undefined ? { initialMs: ms(backoff)! } : {}),
    ...(backoffMax !== undefined ? { maxMs: ms(backoffMax)! } : {}),
    ...(stable !== undefined ? { stableMs: ms(stable)! } : {}),
    ...(typeof attempts === "number" ? { maxAttempts: attempts } : {}),
    ...(settle !== undefined ? { settleMs: ms(settle)! } : {}),
  };
  return {
    ok: true,
    tuning: {
      ...(interval !== undefined ? { intervalMs: ms(interval)! } : {}),
      ...(Object.keys(restart).length > 0 ? { restart } : {}),
    },
  };
}
