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
import {
  byLine,
  type CheckResult,
  checkResult,
  type LexOptions,
  lexAndExpand,
  type Problem,
  type Token,
} from "./tokenize.js";

export type { CheckResult, Problem } from "./tokenize.js";

export interface PfHost {
  /** Preceded by '!'. */
  not: boolean;
  /** "any", "self", "no-route", "urpf-failed", an address, a CIDR, "(iface[:mod])", "<table>" or a host name. */
  addr: string;
}

export type PfPortOp = "=" | "!=" | "<" | ">" | "<=" | ">=" | ":" | "<>" | "><";

export interface PfPort {
  op: PfPortOp;
  port: number;
  /** Upper end for ":", "<>" and "><". */
  to?: number;
}

export interface PfEndpoint {
  /** Empty when the rule names no host on this side (any). */
  hosts: PfHost[];
  /** Empty when the rule names no port on this side. */
  ports: PfPort[];
}

export interface PfTranslation {
  hosts: PfHost[];
  ports: PfPort[];
  /** Pool options and static-port, as written. */
  options: string[];
}

export interface PfRule {
  line: number;
  action: "pass" | "block" | "match";
  blockPolicy?: "drop" | "return" | "return-rst" | "return-icmp";
  direction?: "in" | "out";
  log: boolean;
  quick: boolean;
  /** Interfaces or groups after `on` (empty: every interface). */
  on: string[];
  af?: "inet" | "inet6";
  /** Protocols after `proto` (empty: every protocol). */
  proto: string[];
  /** `all` or no from/to at all. */
  all: boolean;
  from: PfEndpoint;
  to: PfEndpoint;
  rdrTo?: PfTranslation;
  natTo?: PfTranslation;
  binatTo?: PfTranslation;
  state?: "keep" | "modulate" | "synproxy" | "no";
  /** Other filter options in order of appearance (e.g. "tag", "label", "flags S/SA"). */
  options: string[];
}

export interface PfConf {
  macros: Record<string, string>;
  /** `set skip on` interfaces. */
  skip: string[];
  /** Other `set` options: name -> value. */
  options: Record<string, string>;
  rules: PfRule[];
}

const LEX: LexOptions = { punct: "{}(),=!<>", ops: ["!=", "<=", ">=", "<>", "><"] };

/** Words pfctl's lexer returns as keyword tokens (a subset of parse.y's table plus what this checker knows). */
export const PF_KEYWORDS: ReadonlySet<string> = new Set([
  "all",
  "allow-opts",
  "anchor",
  "antispoof",
  "any",
  "binat-to",
  "bitmask",
  "block",
  "block-policy",
  "code",
  "debug",
  "divert-packet",
  "divert-to",
  "drop",
  "dup-to",
  "fingerprints",
  "flags",
  "from",
  "group",
  "hostid",
  "icmp-type",
  "icmp6-type",
  "in",
  "include",
  "inet",
  "inet6",
  "keep",
  "label",
  "least-states",
  "limit",
  "load",
  "log",
  "loginterface",
  "match",
  "max-mss",
  "modulate",
  "nat-to",
  "no",
  "no-route",
  "on",
  "once",
  "optimization",
  "out",
  "pass",
  "port",
  "prio",
  "probability",
  "proto",
  "queue",
  "quick",
  "random",
  "rdr-to",
  "reassemble",
  "received-on",
  "reply-to",
  "return",
  "return-icmp",
  "return-icmp6",
  "return-rst",
  "round-robin",
  "route-to",
  "rtable",
  "ruleset-optimization",
  "scrub",
  "self",
  "set",
  "skip",
  "source-hash",
  "state",
  "state-policy",
  "static-port",
  "sticky-address",
  "synproxy",
  "table",
  "tag",
  "tagged",
  "timeout",
  "to",
  "tos",
  "urpf-failed",
  "user",
]);

/** Service names pfctl resolves through /etc/services that a vmmeet pf.conf may use. */
export const PF_SERVICES: Readonly<Record<string, number>> = {
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  bootps: 67,
  bootpc: 68,
  http: 80,
  www: 80,
  auth: 113,
  ntp: 123,
  https: 443,
  syslog: 514,
  submission: 587,
  imaps: 993,
  "xmpp-client": 5222,
  "xmpp-server": 5269,
};

const PROTOCOLS = new Set([
  "tcp",
  "udp",
  "icmp",
  "icmp6",
  "esp",
  "ah",
  "gre",
  "ipv6",
  "igmp",
  "carp",
  "pfsync",
]);
const NOT_IN_SUBSET = new Set(["table", "anchor", "antispoof", "include", "load", "queue", "scrub"]);
const POOL_OPTIONS = new Set([
  "bitmask",
  "random",
  "round-robin",
  "source-hash",
  "least-states",
  "sticky-address",
]);
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IFACE = /^[A-Za-z][A-Za-z0-9_]*$/;
const IFACE_MOD = /^[A-Za-z][A-Za-z0-9_]*(:(network|broadcast|peer|0))*$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/** Parse a pf.conf; `errors` is empty when pfctl -n would (as far as this subset goes) accept it. */
export function parsePfConf(text: string): { conf: PfConf; errors: Problem[] } {
  const { tokens, macros, errors } = lexAndExpand(text, LEX, (w) => PF_KEYWORDS.has(w));
  const conf: PfConf = { macros, skip: [], options: {}, rules: [] };
  for (const statement of statements(tokens, errors)) {
    const first = statement[0]!;
    const p = new Cursor(statement);
    try {
      if (first.kind !== "word") throw p.fail(first, `a statement cannot start with ${show(first)}`);
      if (first.text === "set") parseSet(p, conf);
      else if (first.text === "pass" || first.text === "block" || first.text === "match")
        conf.rules.push(parseRule(p));
      else if (NOT_IN_SUBSET.has(first.text))
        throw p.fail(first, `'${first.text}' is not in the pf.conf subset vmmeet emits and checks`);
      else
        throw p.fail(first, `unknown keyword '${first.text}' (expected pass, block, match, set or a macro)`);
    } catch (e) {
      if (!(e instanceof SyntaxFailure)) throw e;
      errors.push(e.problem);
    }
  }
  return { conf, errors: byLine(errors) };
}

export function checkPfConf(text: string): CheckResult {
  return checkResult(parsePfConf(text).errors);
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

class SyntaxFailure extends Error {
  constructor(readonly problem: Problem) {
    super(problem.message);
  }
}

function show(t: Token | undefined): string {
  if (!t) return "end of line";
  return t.kind === "string" ? `"${t.text}"` : `'${t.text}'`;
}

class Cursor {
  i = 0;
  constructor(readonly ts: readonly Token[]) {}
  peek(offset = 0): Token | undefined {
    return this.ts[this.i + offset];
  }
  next(): Token | undefined {
    return this.ts[this.i++];
  }
  done(): boolean {
    return this.i >= this.ts.length;
  }
  /** The current token is the word (or punctuation) `text`. */
  is(text: string): boolean {
    const t = this.peek();
    return t !== undefined && t.kind !== "string" && t.text === text;
  }
  accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.i++;
    return true;
  }
  expect(text: string, what: string): Token {
    const t = this.peek();
    if (!this.accept(text)) throw this.fail(t, `expected ${what}, found ${show(t)}`);
    return t!;
  }
  lastLine(): number {
    return (this.peek() ?? this.ts[this.ts.length - 1] ?? { line: 0 }).line;
  }
  fail(t: Token | undefined, message: string): SyntaxFailure {
    return new SyntaxFailure({ line: t?.line ?? this.lastLine(), message });
  }
  /** A word (not a keyword, not punctuation). */
  word(what: string): Token {
    const t = this.peek();
    if (!t || (t.kind !== "word" && t.kind !== "string") || (t.kind === "word" && PF_KEYWORDS.has(t.text)))
      throw this.fail(t, `expected ${what}, found ${show(t)}`);
    this.i++;
    return t;
  }
  /** Items of `{ a b, c }` (commas optional) or a single item. */
  list<T>(item: () => T[], what: string): T[] {
    if (!this.accept("{")) return item();
    const out: T[] = [];
    while (!this.accept("}")) {
      if (this.done()) throw this.fail(undefined, `'}' expected to close the ${what} list`);
      this.accept(",");
      if (this.accept("}")) break;
      out.push(...item());
    }
    if (out.length === 0) throw this.fail(this.ts[this.i - 1], `empty ${what} list`);
    return out;
  }
}

function parseSet(p: Cursor, conf: PfConf): void {
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

function oneOf(p: Cursor, values: string[], what: string): string {
  const t = p.next();
  if (t?.kind !== "word" || !values.includes(t.text)) throw p.fail(t, `expected ${what}, found ${show(t)}`);
  return t.text;
}

function iface(p: Cursor): string {
  const t = p.peek();
  if (t?.kind === "punct" && t.text === "!") {
    p.next();
    return `!${iface(p)}`;
  }
  const w = p.word("an interface or interface group");
  if (!IFACE.test(w.text)) throw p.fail(w, `'${w.text}' is not an interface or interface group name`);
  return w.text;
}

function parseRule(p: Cursor): PfRule {
  const head = p.next()!;
  const rule: PfRule = {
    line: head.line,
    action: head.text as PfRule["action"],
    log: false,
    quick: false,
    on: [],
    proto: [],
    all: false,
    from: { hosts: [], ports: [] },
    to: { hosts: [], ports: [] },
    options: [],
  };
  if (rule.action === "block") {
    for (const policy of ["drop", "return", "return-rst", "return-icmp"] as const) {
      if (p.accept(policy)) {
        rule.blockPolicy = policy;
        break;
      }
    }
  }
  if (p.accept("in")) rule.direction = "in";
  else if (p.accept("out")) rule.direction = "out";
  // parse.y's logquick: log and quick in either order, each once.
  for (;;) {
    if (!rule.log && p.accept("log")) {
      rule.log = true;
      if (p.is("(")) skipParenthesised(p, "log options");
      continue;
    }
    if (!rule.quick && p.accept("quick")) {
      rule.quick = true;
      continue;
    }
    break;
  }
  if (p.accept("on")) rule.on = p.list(() => [iface(p)], "interface");
  if (p.accept("inet")) rule.af = "inet";
  else if (p.accept("inet6")) rule.af = "inet6";
  if (p.accept("proto")) {
    rule.proto = p.list(() => {
      const t = p.word("a protocol");
      if (!PROTOCOLS.has(t.text) && !/^\d{1,3}$/.test(t.text))
        throw p.fail(t, `unknown protocol '${t.text}'`);
      return [t.text];
    }, "protocol");
  }
  if (p.accept("all")) rule.all = true;
  else {
    let sawFrom = false;
    if (p.accept("from")) {
      sawFrom = true;
      rule.from = endpoint(p);
    }
    if (p.accept("to")) rule.to = endpoint(p);
    else if (!sawFrom) rule.all = true;
  }
  filterOptions(p, rule);
  semanticChecks(p, rule, head);
  return rule;
}

function endpoint(p: Cursor): PfEndpoint {
  const e: PfEndpoint = { hosts: [], ports: [] };
  if (!p.is("port")) e.hosts = hosts(p);
  if (p.accept("port")) e.ports = ports(p);
  return e;
}

function hosts(p: Cursor): PfHost[] {
  const t = p.peek();
  if (t?.kind === "punct" && t.text === "{") {
    p.next();
    const out: PfHost[] = [];
    while (!p.accept("}")) {
      if (p.done()) throw p.fail(undefined, "'}' expected to close the address list");
      if (p.accept(",")) continue;
      out.push(...hosts(p));
    }
    if (out.length === 0) throw p.fail(t, "empty address list");
    return out;
  }
  if (t?.kind === "punct" && t.text === "!") {
    p.next();
    return hosts(p).map((h) => ({ not: !h.not, addr: h.addr }));
  }
  return [{ not: false, addr: host(p) }];
}

function host(p: Cursor): string {
  const t = p.peek();
  if (!t) throw p.fail(t, "expected an address, found end of line");
  if (t.kind === "punct" && t.text === "(") {
    p.next();
    const w = p.word("an interface inside ( )");
    if (!IFACE_MOD.test(w.text)) throw p.fail(w, `'${w.text}' is not an interface name`);
    p.expect(")", "')' after the interface");
    return `(${w.text})`;
  }
  if (t.kind === "punct" && t.text === "<") {
    p.next();
    const w = p.word("a table name");
    p.expect(">", "'>' after the table name");
    return `<${w.text}>`;
  }
  if (t.kind === "word" && ["any", "self", "no-route", "urpf-failed"].includes(t.text)) {
    p.next();
    return t.text;
  }
  const w = p.word("an address");
  const text = w.text;
  if (/^[\d.]+(\/\d+)?$/.test(text)) {
    const [addr, len] = text.split("/");
    if (!IPV4.test(addr!)) throw p.fail(w, `'${text}' is not a valid IPv4 address`);
    if (len !== undefined && Number(len) > 32) throw p.fail(w, `'${text}': prefix length must be 0-32`);
    return text;
  }
  if (text.includes(":") && /^[0-9A-Fa-f:]+(\/\d+)?$/.test(text)) {
    const len = text.split("/")[1];
    if (len !== undefined && Number(len) > 128) throw p.fail(w, `'${text}': prefix length must be 0-128`);
    return text;
  }
  if (IFACE_MOD.test(text) && text.includes(":")) return text;
  if (!HOSTNAME.test(text)) throw p.fail(w, `'${text}' is not an address, network or host name`);
  return text;
}

function portNumber(p: Cursor, t: Token): number {
  if (/^\d+$/.test(t.text)) {
    const n = Number(t.text);
    if (n > 65535) throw p.fail(t, `bad port ${t.text}: ports are 0-65535`);
    return n;
  }
  const known = PF_SERVICES[t.text];
  if (known === undefined) throw p.fail(t, `bad port '${t.text}': not a number or a known service name`);
  return known;
}

function ports(p: Cursor): PfPort[] {
  return p.list(() => [portItem(p)], "port");
}

function portItem(p: Cursor): PfPort {
  const t = p.peek();
  if (t?.kind === "punct" && ["=", "!=", "<", ">", "<=", ">="].includes(t.text)) {
    p.next();
    const v = p.word("a port");
    return { op: t.text as PfPortOp, port: portNumber(p, v) };
  }
  const v = p.word("a port");
  if (v.text.includes(":")) {
    const [a, b, ...rest] = v.text.split(":");
    if (rest.length > 0 || !a || !b) throw p.fail(v, `bad port range '${v.text}'`);
    const low = portNumber(p, { ...v, text: a });
    const high = portNumber(p, { ...v, text: b });
    if (low > high) throw p.fail(v, `bad port range '${v.text}': ${low} is above ${high}`);
    return { op: ":", port: low, to: high };
  }
  const port = portNumber(p, v);
  const op = p.peek();
  if (op?.kind === "punct" && (op.text === "<>" || op.text === "><")) {
    p.next();
    const hi = p.word("the upper port of the range");
    return { op: op.text, port, to: portNumber(p, hi) };
  }
  return { op: "=", port };
}

function translation(p: Cursor, what: string): PfTranslation {
  const out: PfTranslation = { hosts: hosts(p), ports: [], options: [] };
  if (out.hosts.some((h) => h.not)) throw p.fail(p.peek(), `${what} cannot take a negated address`);
  if (p.accept("port")) {
    const item = portItem(p);
    if (item.op !== "=" && item.op !== ":")
      throw p.fail(p.peek(), `${what} port must be a port or a low:high range`);
    out.ports = [item];
  }
  for (;;) {
    const t = p.peek();
    if (t?.kind === "word" && (POOL_OPTIONS.has(t.text) || t.text === "static-port")) {
      p.next();
      out.options.push(t.text);
      continue;
    }
    break;
  }
  return out;
}

function filterOptions(p: Cursor, rule: PfRule): void {
  while (!p.done()) {
    const t = p.next()!;
    if (t.kind !== "word") throw p.fail(t, `unexpected ${show(t)}`);
    switch (t.text) {
      case "keep":
      case "modulate":
      case "synproxy":
        p.expect("state", `'state' after '${t.text}'`);
        rule.state = t.text;
        if (p.is("(")) skipParenthesised(p, "state options");
        break;
      case "no":
        p.expect("state", "'state' after 'no'");
        rule.state = "no";
        break;
      case "flags": {
        const f = p.word("TCP flags like S/SA or any");
        if (f.text !== "any" && !/^[FSRPAUEW]*\/[FSRPAUEW]+$/.test(f.text))
          throw p.fail(f, `bad TCP flags '${f.text}'`);
        rule.options.push(`flags ${f.text}`);
        break;
      }
      case "rdr-to":
        rule.rdrTo = translation(p, "rdr-to");
        break;
      case "nat-to":
        rule.natTo = translation(p, "nat-to");
        break;
      case "binat-to":
        rule.binatTo = translation(p, "binat-to");
        break;
      case "tag":
      case "tagged":
      case "label": {
        const v = p.word(`a name after '${t.text}'`);
        rule.options.push(`${t.text} ${v.text}`);
        break;
      }
      case "icmp-type":
      case "icmp6-type": {
        const v = p.list(() => [p.word("an ICMP type").text], "ICMP type");
        if (p.accept("code")) p.word("an ICMP code");
        rule.options.push(`${t.text} ${v.join(",")}`);
        break;
      }
      case "rtable":
      case "max-mss": {
        const v = p.word(`a number after '${t.text}'`);
        if (!/^\d+$/.test(v.text)) throw p.fail(v, `'${t.text}' takes a number, found '${v.text}'`);
        rule.options.push(`${t.text} ${v.text}`);
        break;
      }
      case "once":
      case "allow-opts":
        rule.options.push(t.text);
        break;
      default:
        throw p.fail(
          t,
          PF_KEYWORDS.has(t.text)
            ? `'${t.text}' is misplaced here (pf.conf fixes the order of a rule's parts)`
            : `unknown keyword '${t.text}'`,
        );
    }
  }
}

function skipParenthesised(p: Cursor, what: string): void {
  const open = p.next()!;
  while (!p.accept(")")) {
    if (p.done()) throw p.fail(open, `')' expected to close the ${what}`);
    p.next();
  }
}

function semanticChecks(p: Cursor, rule: PfRule, head: Token): void {
  const usesPort =
    rule.from.ports.length > 0 ||
    rule.to.ports.length > 0 ||
    (rule.rdrTo?.ports.length ?? 0) > 0 ||
    (rule.natTo?.ports.length ?? 0) > 0;
  if (usesPort && (rule.proto.length === 0 || rule.proto.some((x) => x !== "tcp" && x !== "udp")))
    throw p.fail(head, "port only applies to tcp/udp: the rule needs proto tcp, udp or { tcp udp }");
  if (rule.rdrTo && rule.direction !== "in")
    throw p.fail(head, "rdr-to can only be used inbound (pass in / match in)");
  if (rule.natTo && rule.direction !== "out")
    throw p.fail(head, "nat-to can only be used outbound (pass out / match out)");
  if ((rule.rdrTo || rule.natTo || rule.binatTo) && rule.action === "block")
    throw p.fail(head, "translation (rdr-to, nat-to, binat-to) needs a pass or match rule");
  if (rule.state && rule.action !== "pass")
    throw p.fail(head, `'${rule.state} state' only applies to pass rules`);
}

function formatList(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(" ")} }`;
}

function formatPorts(ports: readonly PfPort[]): string {
  return formatList(
    ports.map((p) =>
      p.op === "="
        ? String(p.port)
        : p.op === ":"
          ? `${p.port}:${p.to}`
          : p.to === undefined
            ? `${p.op} ${p.port}`
            : `${p.port} ${p.op} ${p.to}`,
    ),
  );
}

function formatHosts(hosts: readonly PfHost[]): string {
  return formatList(hosts.map((h) => `${h.not ? "! " : ""}${h.addr}`));
}

function formatEndpoint(e: PfEndpoint): string {
  return `${e.hosts.length === 0 ? "any" : formatHosts(e.hosts)}${e.ports.length > 0 ? ` port ${formatPorts(e.ports)}` : ""}`;
}

function formatTranslation(kind: string, t: PfTranslation | undefined): string[] {
  if (!t) return [];
  return [
    kind,
    formatHosts(t.hosts),
    ...(t.ports.length > 0 ? ["port", formatPorts(t.ports)] : []),
    ...t.options,
  ];
}

/**
 * One canonical line per rule, with macros expanded and lists normalised (`port { 80 }` -> `port 80`;
 * a missing from/to -> `any`), in the spirit of `pfctl -sr`: lets tests and test doubles compare rules
 * by value rather than by text.
 */
export function formatPfRule(rule: PfRule): string {
  const parts: string[] = [rule.action];
  if (rule.blockPolicy) parts.push(rule.blockPolicy);
  if (rule.direction) parts.push(rule.direction);
  if (rule.log) parts.push("log");
  if (rule.quick) parts.push("quick");
  if (rule.on.length > 0) parts.push("on", formatList(rule.on));
  if (rule.af) parts.push(rule.af);
  if (rule.proto.length > 0) parts.push("proto", formatList(rule.proto));
  parts.push(rule.all ? "all" : `from ${formatEndpoint(rule.from)} to ${formatEndpoint(rule.to)}`);
  parts.push(...rule.options);
  if (rule.state) parts.push(rule.state === "no" ? "no state" : `${rule.state} state`);
  parts.push(...formatTranslation("nat-to", rule.natTo), ...formatTranslation("binat-to", rule.binatTo));
  parts.push(...formatTranslation("rdr-to", rule.rdrTo));
  return parts.join(" ");
}
