import type { HealthLabel, LogComponent } from "@vmmeet/shared";

import { jicofoRules } from "./rules/jicofo.js";
import { jvbRules } from "./rules/jvb.js";
import { nginxRules } from "./rules/nginx.js";
import { prosodyRules } from "./rules/prosody.js";

export { RELEASE_FOCUS_CLIENT_PROXY } from "./rules/common.js";

/**
 * Health rules: one table per component. A rule names a signal, its label, a regex keyed on
 * the STABLE part of a message (never on the timestamp/prefix layout: the same message shows up
 * in Jitsi's own layout, as a two-line java.util.logging record, behind syslog, journal or docker
 * prefixes, with localized level names), what it means and what an admin does about it.
 *
 * Knowledge comes from the paper (AsiaBSDCon 2023 "Jitsi on OpenBSD", sections XVII Logfiles and
 * XII Pitfalls), the components' own log statements (catalog.gen.ts, compiled from their source; a
 * rule's `covers` names the statements it stands for) and the labelled corpus
 * (test/fixtures/logs/corpus.jsonl, whose signal names are used verbatim).
 *
 * Tables are data (rules/<component>.ts, what they share in rules/common.ts); classify.ts
 * compiles them. First matching rule wins, so specific rules come before generic ones. A line no rule matches but that carries a warning or error level goes to the
 * catalog stage (catalog.ts, catalogRules.ts).
 */
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

/** The tables, one file each under rules/. */
export const RULES: Readonly<Record<LogComponent, readonly Rule[]>> = {
  prosody: prosodyRules(),
  jicofo: jicofoRules(),
  jvb: jvbRules(),
  nginx: nginxRules(),
};
