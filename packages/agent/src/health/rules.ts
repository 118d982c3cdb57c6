import type { LogComponent } from "@vmmeet/shared";

import { xmppClientRules, xmppConnectionRules } from "./rules/common.js";
import { jicofoRules } from "./rules/jicofo.js";
import { jvbRules } from "./rules/jvb.js";
import { nginxRules } from "./rules/nginx.js";
import { prosodyRules } from "./rules/prosody.js";
import type { Rule } from "./rules/rule.js";

export { RELEASE_FOCUS_CLIENT_PROXY } from "./rules/common.js";
export type { Rule } from "./rules/rule.js";

/** What jicofo and jvb share, first in their tables: the XMPP client (TLS, login) and its connection. */
function xmppRules(who: "jicofo" | "jvb"): Rule[] {
  return [...xmppClientRules(who), ...xmppConnectionRules(who)];
}

/**
 * Health rules: one table per component. A rule names a signal, its label, a regex keyed on
 * the STABLE part of a message (never on the timestamp/prefix layout: the same message shows up
 * in Jitsi's own layout, as a two-line java.util.logging record, behind syslog, journal or docker
 * prefixes, with localized level names), what it means and what an admin does about it.
 *
 * Knowledge comes from the paper (AsiaBSDCon 2023 "Jitsi on OpenBSD", sections XVII Logfiles and
 * XII Pitfalls), the components' own log statements (catalog.gen.json, compiled from their source; a
 * rule's `covers` names the statements it stands for) and the labelled corpus
 * (test/fixtures/logs/corpus.jsonl, whose signal names are used verbatim).
 *
 * Tables are data (rules/<component>.ts, what they share in rules/common.ts); classify.ts
 * compiles them. First matching rule wins, so specific rules come before generic ones. A line no rule
 * matches but that carries a warning or error level goes to the catalog stage (catalog.ts,
 * catalogRules.ts). What a rule is: rules/rule.ts.
 */
export const RULES: Readonly<Record<LogComponent, readonly Rule[]>> = {
  prosody: prosodyRules(),
  jicofo: [...xmppRules("jicofo"), ...jicofoRules()],
  jvb: [...xmppRules("jvb"), ...jvbRules()],
  nginx: nginxRules(),
};
