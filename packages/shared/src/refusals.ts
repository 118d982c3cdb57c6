/**
 * Refusals (an invalid frame, a desired state outside the allow-list, a stale generation) are logged once
 * per kind and then at most once per window with how many more came meanwhile, on both ends of the link:
 * a broken or hostile peer sending thousands of bad frames must not flood syslog, and an admin still sees
 * every kind of trouble, with a count. Pure (the clock is injected), shared by agent and coordinator.
 */
export const REFUSAL_LOG_WINDOW_MS = 60_000;

export interface RefusalLogOptions {
  windowMs?: number;
  now?: () => number;
  /** Kinds remembered at most (the oldest is forgotten past it); kinds come from closed sets anyway. */
  maxKinds?: number;
}

/** What note() decided: log this occurrence, saying how many of its kind were not logged before it. */
export interface RefusalNote {
  /** Occurrences of this kind since the last one logged, not logged themselves. */
  repeated: number;
}

export class RefusalLog {
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #maxKinds: number;
  readonly #kinds = new Map<string, { loggedAt: number; repeated: number }>();
  /** Every occurrence noted, logged or not (status, tests). */
  total = 0;

  constructor(options: RefusalLogOptions = {}) {
    this.#windowMs = options.windowMs ?? REFUSAL_LOG_WINDOW_MS;
    this.#now = options.now ?? (() => Date.now());
    this.#maxKinds = options.maxKinds ?? 64;
  }

  /** One occurrence of `kind`: a RefusalNote when it is to be logged now, null when it is only counted. */
  note(kind: string): RefusalNote | null {
    this.total += 1;
    const now = this.#now();
    const k = this.#kinds.get(kind);
    if (k !== undefined && now - k.loggedAt < this.#windowMs) {
      k.repeated += 1;
      return null;
    }
    const repeated = k?.repeated ?? 0;
    this.#kinds.delete(kind);
    this.#kinds.set(kind, { loggedAt: now, repeated: 0 });
    if (this.#kinds.size > this.#maxKinds) this.#kinds.delete(this.#kinds.keys().next().value as string);
    return { repeated };
  }
}
