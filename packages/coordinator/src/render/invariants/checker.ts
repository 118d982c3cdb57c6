// How an invariant reports: the names in their order, a located value (Found), and the Checker that
// counts agreements and collects what differs. A reader that cannot read a file throws Unreadable, which
// ends the one invariant that needed the file.

export interface InvariantResult {
  name: InvariantName;
  ok: boolean;
  /** What differs (naming both files and their nodes), or what was compared when ok. Never a secret. */
  detail: string;
}

/** Every invariant, in the order checkInvariants reports them. */
export const INVARIANT_NAMES = [
  "domain",
  "auth-domain",
  "brewery",
  "conference-muc",
  "focus-proxy",
  "passwords",
  "prosody-host",
  "sctp",
  "nat",
  "colibri-websockets",
  "turn",
  "monitoring",
  "prosody-plugins",
] as const;
export type InvariantName = (typeof INVARIANT_NAMES)[number];

export class Unreadable extends Error {}

/** A located value: `at` names the node, the file and the key, e.g. `jvb:/etc/jvb/jvb.conf videobridge.sctp.enabled`. */
export interface Found<T = string> {
  at: string;
  value: T | undefined;
}

export interface CompareOptions {
  secret?: boolean;
  caseInsensitive?: boolean;
}

export class Checker {
  private readonly problems: string[] = [];
  private agreed = 0;
  private readonly notes: string[] = [];

  fail(problem: string): void {
    if (!this.problems.includes(problem)) this.problems.push(problem);
  }
  pass(): void {
    this.agreed += 1;
  }
  note(text: string): void {
    this.notes.push(text);
  }
  /** Fail unless `condition`; count a comparison otherwise. */
  expect(condition: boolean, problem: () => string): boolean {
    if (condition) this.pass();
    else this.fail(problem());
    return condition;
  }
  /** `other` must hold the value of `ref`. */
  same(ref: Found<string | number>, other: Found<string | number>, opts: CompareOptions = {}): boolean {
    const show = (v: string | number) => (opts.secret ? "" : ` ${JSON.stringify(v)}`);
    if (ref.value === undefined) {
      this.fail(`${ref.at} is missing`);
      return false;
    }
    if (other.value === undefined) {
      this.fail(`${other.at} is missing (${ref.at} is${opts.secret ? " set" : show(ref.value)})`);
      return false;
    }
    const norm = (v: string | number) =>
      opts.caseInsensitive ? String(v).toLowerCase() : typeof v === "number" ? String(v) : v;
    if (norm(ref.value) === norm(other.value)) {
      this.pass();
      return true;
    }
    this.fail(
      opts.secret
        ? `${other.at} differs from ${ref.at}`
        : `${other.at} is${show(other.value)} but ${ref.at} is${show(ref.value)}`,
    );
    return false;
  }
  result(name: InvariantName): InvariantResult {
    if (this.problems.length > 0) return { name, ok: false, detail: this.problems.join("; ") };
    const base = this.agreed === 1 ? "1 value agrees" : `${this.agreed} values agree`;
    return { name, ok: true, detail: [base, ...this.notes].join("; ") };
  }
}
