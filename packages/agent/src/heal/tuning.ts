// The healer's knobs (main.ts sets some from flags.ts), shared by its units.
import { DEFAULT_RESTART_POLICY, type RestartPolicy } from "./backoff.js";

export interface HealerTuning {
  /** Periodic pass: every managed service checked, every managed file compared. */
  intervalMs: number;
  /** The pass comes up to this fraction earlier or later, so nodes booted together do not act together. */
  jitter: number;
  /** Wait after a watch event before comparing (editors write a file in several steps). */
  debounceMs: number;
  restart: RestartPolicy;
  /** File restores per hour at most: something fighting the agent over a file must not make it spin. */
  driftRepairsPerHour: number;
  /** Overrides every service's graceSeconds (remedies' wait, the "starting" state); tests only. */
  graceMs: number | null;
  /** Watch managed files (event-driven drift detection) besides the periodic compare. */
  watch: boolean;
  /** How often the ACME certificate is checked for renewal (Let's Encrypt's are valid 90 days). */
  certificateIntervalMs: number;
  /**
   * After acme-client failed: the next try. An hour keeps a node whose DNS is not ready within Let's
   * Encrypt's limit of 5 failed validations per hostname and hour.
   */
  certificateRetryMs: number;
}

export const DEFAULT_HEALER_TUNING: HealerTuning = {
  intervalMs: 15_000,
  jitter: 0.2,
  debounceMs: 250,
  restart: DEFAULT_RESTART_POLICY,
  driftRepairsPerHour: 30,
  graceMs: null,
  watch: true,
  certificateIntervalMs: 12 * 3_600_000,
  certificateRetryMs: 3_600_000,
};

export type HealerTuningInput = Partial<Omit<HealerTuning, "restart">> & { restart?: Partial<RestartPolicy> };

/** The defaults with what `input` sets (an undefined value keeps the default). */
export function healerTuning(input: HealerTuningInput = {}): HealerTuning {
  return {
    ...DEFAULT_HEALER_TUNING,
    ...Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)),
    restart: { ...DEFAULT_RESTART_POLICY, ...(input.restart ?? {}) },
  } as HealerTuning;
}

/** `baseMs` moved up to `jitter` of itself earlier or later; `random` in [0, 1). */
export function jittered(baseMs: number, jitter: number, random: () => number): number {
  return baseMs * (1 + jitter * (2 * random() - 1));
}
