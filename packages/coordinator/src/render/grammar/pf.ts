// A checker for the pf.conf(5) subset vmmeet emits, with a structured result for tests and test doubles.
// There is no pfctl on Linux; this follows pf.conf(5) and the shape of pfctl's parse.y:
//
//   macros     name = "value"            (a value with braces must be quoted: pfctl's lexer ends a bare
//                                          word at '{', so `vms={ a b }` is a syntax error there)
//   options    set skip on IFACE|{list}, set block-policy, set loginterface, set state-policy, set reassemble
//   rules      action [in|out] [log] [quick] [on IFACE|{list}] [inet|inet6] [proto P|{list}]
//              [all | [from HOSTS [port PORTS]] [to HOSTS [port PORTS]]] [filter options]
//              action = pass | match | block [drop|return|return-rst|return-icmp]
//              filter options: keep|modulate|synproxy state, no state, flags, rdr-to, nat-to, binat-to,
//              static-port, pool types, tag, tagged, label, icmp-type, rtable, once, allow-opts, max-mss
//
// The order of the rule parts is the one parse.y imposes (`pass quick in` is an error there too). Beyond
// the syntax it applies the semantic checks of pfctl that catch real mistakes: `port` only with tcp/udp,
// rdr-to only inbound, nat-to only outbound, ports 0-65535, a range low:high with low <= high.
// Statements end at a newline outside braces; newlines inside { } are allowed, as in pfctl.

import { SyntaxFailure, show } from "./cursor.js";
import { iface, oneOf, PfCursor, parseRule } from "./pf-rule.js";
import type { PfConf } from "./pf-types.js";
import { NOT_IN_SUBSET, PF_KEYWORDS } from "./pf-words.js";
import type { CheckResult, Problem, Token, TokenGrammar } from "./tokenize.js";
import { checkWith, parseWith } from "./tokenize.js";

export { formatPfRule } from "./pf-format.js";
export type { PfConf, PfEndpoint, PfHost, PfPort, PfPortOp, PfRule, PfTranslation } from "./pf-types.js";
export { PF_KEYWORDS, PF_SERVICES } from "./pf-words.js";
export type { CheckResult, Problem } from "./tokenize.js";

const PF_CONF: TokenGrammar<PfConf> = {
  lex: { punct: "{}(),=!<>", ops: ["!=", "<=", ">=", "<>", "><"] },
  isKeyword: (w) => PF_KEYWORDS.has(w),
  read(tokens, macros, errors) {
    const conf: PfConf = { macros, skip: [], options: {}, rules: [] };
    for (const statement of statements(tokens, errors)) {
      const first = statement[0]!;
      const p = new PfCursor(statement);
      try {
        if (first.kind !== "word") throw p.fail(first, `a statement cannot start with ${show(first)}`);
        if (first.text === "set") parseSet(p, conf);
        else if (first.text === "pass" || first.text === "block" || first.text === "match")
          conf.rules.push(parseRule(p));
        else if (NOT_IN_SUBSET.has(first.text))
          throw p.fail(first, `'${first.text}' is not in the pf.conf subset vmmeet emits and checks`);
        else
          throw p.fail(
            first,
            `unknown keyword '${first.text}' (expected pass, block, match, set or a macro)`,
          );
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        errors.push(e.problem);
      }
    }
    return conf;
  },
};

/** Parse a pf.conf; `errors` is empty when pfctl -n would (as far as this subset goes) accept it. */
export function parsePfConf(text: string): { conf: PfConf; errors: Problem[] } {
  return parseWith(text, PF_CONF);
}

export function checkPfConf(text: string): CheckResult {
  return checkWith(text, PF_CONF);
}

// Statements: tokens up to a newline outside braces. Unbalanced braces are reported where they occur.
function statements(tokens: readonly Token[], errors: Problem[]): Token[][] {
  const out: Token[][] = [];
  let current: Token[] = [];
  let broken = false;
  const open: Token[] = [];
  const flush = () => {
    if (open.length > 0) errors.push({ line: open[0]!.line, message: "'{' is not closed by a matching '}'" });
    else if (current.length > 0 && !broken) out.push(current);
    open.length = 0;
    current = [];
    broken = false;
  };
  for (const t of tokens) {
    if (t.kind === "nl") {
      if (open.length === 0) flush();
      continue;
    }
    // An undefined macro is reported where it was used; the statement is not parsed any further.
    if (t.kind === "error") broken = true;
    if (t.kind === "punct" && t.text === "{") open.push(t);
    if (t.kind === "punct" && t.text === "}") {
      if (open.length === 0) {
        // One error for the statement; the rest of it is not parsed (it would only add noise).
        if (!broken) errors.push({ line: t.line, message: "'}' without a matching '{'" });
        broken = true;
        continue;
      }
      open.pop();
    }
    current.push(t);
  }
  flush();
  return out;
}

function parseSet(p: PfCursor, conf: PfConf): void {
  p.next();
  const opt = p.next();
  if (opt?.kind !== "word") throw p.fail(opt, `expected an option after 'set', found ${show(opt)}`);
  switch (opt.text) {
    case "skip": {
      p.expect("on", "'on' after 'set skip'");
      conf.skip.push(...p.list(() => [iface(p)], "interface"));
      break;
    }
    case "block-policy":
      conf.options[opt.text] = oneOf(p, ["drop", "return"], "drop or return");
      break;
    case "state-policy":
      conf.options[opt.text] = oneOf(p, ["if-bound", "floating"], "if-bound or floating");
      break;
    case "reassemble":
      conf.options[opt.text] = oneOf(p, ["yes", "no"], "yes or no");
      break;
    case "loginterface": {
      conf.options[opt.text] = p.accept("none") ? "none" : iface(p);
      break;
    }
    default:
      throw p.fail(opt, `unknown or unsupported option 'set ${opt.text}'`);
  }
  if (!p.done()) throw p.fail(p.peek(), `unexpected ${show(p.peek())} after 'set ${opt.text}'`);
}
