// A pf.conf rule, part by part in the order parse.y imposes: action, direction, log/quick, interfaces,
// address family, protocols, from/to with hosts and ports, filter options and translations; then the
// semantic checks of pfctl that catch real mistakes.
import { show, TokenCursor } from "./cursor.js";
import type { PfEndpoint, PfHost, PfPort, PfPortOp, PfRule, PfTranslation } from "./pf-types.js";
import {
  HOSTNAME,
  IFACE,
  IFACE_MOD,
  IPV4,
  PF_KEYWORDS,
  PF_SERVICES,
  POOL_OPTIONS,
  PROTOCOLS,
} from "./pf-words.js";
import type { Token } from "./tokenize.js";

export class PfCursor extends TokenCursor {
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

export function oneOf(p: PfCursor, values: string[], what: string): string {
  const t = p.next();
  if (t?.kind !== "word" || !values.includes(t.text)) throw p.fail(t, `expected ${what}, found ${show(t)}`);
  return t.text;
}

export function iface(p: PfCursor): string {
  const t = p.peek();
  if (t?.kind === "punct" && t.text === "!") {
    p.next();
    return `!${iface(p)}`;
  }
  const w = p.word("an interface or interface group");
  if (!IFACE.test(w.text)) throw p.fail(w, `'${w.text}' is not an interface or interface group name`);
  return w.text;
}

export function parseRule(p: PfCursor): PfRule {
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

function endpoint(p: PfCursor): PfEndpoint {
  const e: PfEndpoint = { hosts: [], ports: [] };
  if (!p.is("port")) e.hosts = hosts(p);
  if (p.accept("port")) e.ports = ports(p);
  return e;
}

function hosts(p: PfCursor): PfHost[] {
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

function host(p: PfCursor): string {
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

function portNumber(p: PfCursor, t: Token): number {
  if (/^\d+$/.test(t.text)) {
    const n = Number(t.text);
    if (n > 65535) throw p.fail(t, `bad port ${t.text}: ports are 0-65535`);
    return n;
  }
  const known = PF_SERVICES[t.text];
  if (known === undefined) throw p.fail(t, `bad port '${t.text}': not a number or a known service name`);
  return known;
}

function ports(p: PfCursor): PfPort[] {
  return p.list(() => [portItem(p)], "port");
}

function portItem(p: PfCursor): PfPort {
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

function translation(p: PfCursor, what: string): PfTranslation {
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

function filterOptions(p: PfCursor, rule: PfRule): void {
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

function skipParenthesised(p: PfCursor, what: string): void {
  const open = p.next()!;
  while (!p.accept(")")) {
    if (p.done()) throw p.fail(open, `')' expected to close the ${what}`);
    p.next();
  }
}

function semanticChecks(p: PfCursor, rule: PfRule, head: Token): void {
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
