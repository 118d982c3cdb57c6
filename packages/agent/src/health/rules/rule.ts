import type { HealthLabel } from "@vmmeet/shared";

/** One health rule (rules.ts says how the tables are built and matched). */
export interface Rule {
  signal: string;
  label: HealthLabel;
  /**
   * Literal(s) every match of `re` contains. classify.ts uses them as a cheap prefilter so that
   * most lines are rejected with one scan; a test checks each rule's regex against its needles.
   */
  needles: readonly string[];
  re: RegExp;
  explain: string;
  fix?: string;
  /**
   * Which capture group becomes `detail` (a JID, a port, an address, a version). Never a
   * password, never the whole line.
   */
  detail?: number | ((m: RegExpExecArray) => string | undefined);
  /**
   * Catalog entries this rule stands for ("[E |W ]Where[: template text]", see catalog.ts): a line
   * of one of them that the regex misses (reworded, another release) still gets this signal.
   */
  covers?: readonly string[];
  /** Apply only when the jitsi-meet release (e.g. 9646) is known and within these bounds. */
  minRelease?: number;
  maxRelease?: number;
  /**
   * Loses to any other match inside a multi-line record (the SimpleFormatter header line says
   * only "a record starts here").
   */
  weak?: boolean;
}
