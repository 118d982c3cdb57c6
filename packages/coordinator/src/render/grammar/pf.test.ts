import { describe, expect, it } from "vitest";
import { checkPfConf, formatPfRule, parsePfConf } from "./pf.js";

/** The error lines and messages of a text that must be refused. */
function refused(text: string): { line: number; message: string }[] {
  const r = checkPfConf(text);
  expect(r.ok).toBe(false);
  return r.errors;
}

const GOOD = `# a comment
ext = "em0"
lan = "{ 100.64.1.3, 100.64.2.3 }"
set skip on lo
set block-policy return

match out on egress inet from 100.64.0.0/10 nat-to (egress)
match out on egress inet proto udp from 100.64.4.3 port 10000 nat-to (egress:0) static-port
block return log
pass out
pass in quick on $ext proto tcp from $lan to self port { 80, 443 } # trailing comment
pass in on egress proto udp to any port 10000 rdr-to 100.64.4.3
pass in proto { udp tcp } from ! 10.0.0.0/8 to any port domain rdr-to 127.0.0.1 port 53
pass in inet6 proto tcp from 2001:db8::/32 to ::1 port 22 keep state
pass in proto tcp from { $lan 192.0.2.1 } port 1024:65535 to web port >= 8000 flags S/SA
pass in proto udp to any port 49152:65535 rdr-to 100.64.5.3
block drop in log quick on egress from no-route to any
pass in proto icmp icmp-type echoreq label "ping"
pass out quick on egress proto { tcp udp } \\
  to any port { 123 53 80 443 }
`;

describe("parsePfConf", () => {
  it("accepts the subset and returns rules with macros expanded", () => {
    const { conf, errors } = parsePfConf(GOOD);
    expect(errors).toEqual([]);
    expect(conf.macros).toEqual({ ext: "em0", lan: "{ 100.64.1.3, 100.64.2.3 }" });
    expect(conf.skip).toEqual(["lo"]);
    expect(conf.options).toEqual({ "block-policy": "return" });
    const [nat, natJvb, block, passOut, web] = conf.rules;
    expect(nat).toMatchObject({
      line: 7,
      action: "match",
      direction: "out",
      on: ["egress"],
      af: "inet",
      from: { hosts: [{ not: false, addr: "100.64.0.0/10" }], ports: [] },
      natTo: { hosts: [{ not: false, addr: "(egress)" }], ports: [], options: [] },
    });
    expect(natJvb?.natTo?.options).toEqual(["static-port"]);
    expect(natJvb?.natTo?.hosts).toEqual([{ not: false, addr: "(egress:0)" }]);
    expect(block).toMatchObject({ action: "block", blockPolicy: "return", log: true, all: true });
    expect(passOut).toMatchObject({ action: "pass", direction: "out", all: true, proto: [] });
    expect(web).toMatchObject({
      quick: true,
      on: ["em0"],
      proto: ["tcp"],
      from: { hosts: [{ addr: "100.64.1.3" }, { addr: "100.64.2.3" }] },
      to: {
        hosts: [{ not: false, addr: "self" }],
        ports: [
          { op: "=", port: 80 },
          { op: "=", port: 443 },
        ],
      },
    });
  });

  it("reads named ports, ranges, operators, negation, IPv6, lists and continued lines", () => {
    const { conf } = parsePfConf(GOOD);
    const dns = conf.rules.find((r) => r.line === 13)!;
    expect(dns.from.hosts).toEqual([{ not: true, addr: "10.0.0.0/8" }]);
    expect(dns.to.ports).toEqual([{ op: "=", port: 53 }]);
    expect(dns.rdrTo).toEqual({
      hosts: [{ not: false, addr: "127.0.0.1" }],
      ports: [{ op: "=", port: 53 }],
      options: [],
    });
    const v6 = conf.rules.find((r) => r.line === 14)!;
    expect(v6).toMatchObject({ af: "inet6", state: "keep", to: { hosts: [{ addr: "::1" }] } });
    const ranges = conf.rules.find((r) => r.line === 15)!;
    expect(ranges.from.ports).toEqual([{ op: ":", port: 1024, to: 65535 }]);
    expect(ranges.to).toEqual({ hosts: [{ not: false, addr: "web" }], ports: [{ op: ">=", port: 8000 }] });
    expect(ranges.options).toEqual(["flags S/SA"]);
    const last = conf.rules.at(-1)!;
    expect(last.line).toBe(19);
    expect(last.to.ports.map((p) => p.port)).toEqual([123, 53, 80, 443]);
  });

  it("allows newlines inside braces and expands macros that refer to macros", () => {
    const text =
      'a = "100.64.1.3"\nboth = "{ $a 100.64.2.3 }"\npass in proto tcp from {\n  $both\n} to self port 22\n';
    const { conf, errors } = parsePfConf(text);
    expect(errors).toEqual([]);
    expect(conf.rules[0]!.from.hosts.map((h) => h.addr)).toEqual(["100.64.1.3", "100.64.2.3"]);
  });
});

describe("checkPfConf refuses with a line number", () => {
  it("a missing closing brace, at the line of the '{'", () => {
    expect(refused("block\npass in proto tcp to self port { 80 443\npass out\n")).toEqual([
      { line: 2, message: "'{' is not closed by a matching '}'" },
    ]);
  });

  it("a '}' without '{'", () => {
    expect(refused("block\npass in proto tcp to self port 80 }\n")[0]!.line).toBe(2);
  });

  it("an unknown keyword at the start of a statement and inside a rule", () => {
    expect(refused("block\npas in all\n")).toEqual([
      { line: 2, message: "unknown keyword 'pas' (expected pass, block, match, set or a macro)" },
    ]);
    const [e] = refused("block\npass in quik on egress all\n");
    expect(e).toEqual({ line: 2, message: "unknown keyword 'quik'" });
  });

  it("rule parts out of pf.conf's order", () => {
    const [e] = refused("pass quick in all\n");
    expect(e!.line).toBe(1);
    expect(e!.message).toMatch(/'in' is misplaced/);
  });

  it("an undefined macro, and a macro used before its definition", () => {
    expect(refused("block\npass in proto tcp from $admin to self port 22\n")).toEqual([
      { line: 2, message: "macro 'admin' not defined (a macro must be defined before its use)" },
    ]);
    const errors = refused('pass in proto tcp from $admin to self port 22\nadmin = "192.0.2.0/24"\n');
    expect(errors.map((e) => e.line)).toEqual([1]);
    expect(refused("$nope\npass in all\n").map((e) => e.line)).toEqual([1]);
  });

  it("an unquoted list as a macro value (pfctl's lexer ends a bare word at '{')", () => {
    const [e] = refused("block\nvms={ web xmpp }\n");
    expect(e!.line).toBe(2);
    expect(e!.message).toMatch(/quote a list value/);
  });

  it("a keyword as a macro name", () => {
    const [e] = refused('port = "22"\n');
    expect(e).toEqual({ line: 1, message: "macro name 'port' is a reserved keyword" });
  });

  it("bad ports", () => {
    const [e] = refused("pass in proto tcp to self port 70000\n");
    expect(e).toEqual({ line: 1, message: "bad port 70000: ports are 0-65535" });
    expect(refused("pass in proto tcp to self port nosuchservice\n")[0]!.message).toMatch(
      /bad port 'nosuchservice'/,
    );
    expect(refused("pass in proto udp to self port 2000:1000\n")[0]!.message).toMatch(/2000 is above 1000/);
  });

  it("pfctl's semantic rules: port needs tcp/udp, rdr-to inbound, nat-to outbound", () => {
    expect(refused("pass in to self port 22\n")[0]!.message).toMatch(/port only applies to tcp\/udp/);
    expect(refused("pass in proto { tcp icmp } to self port 22\n")[0]!.message).toMatch(/port only applies/);
    expect(refused("pass out proto tcp to any port 80 rdr-to 100.64.1.3\n")[0]!.message).toMatch(
      /rdr-to can only be used inbound/,
    );
    expect(refused("match in from any nat-to (egress)\n")[0]!.message).toMatch(
      /nat-to can only be used outbound/,
    );
    expect(refused("pass proto tcp to any port 80 rdr-to 100.64.1.3\n")[0]!.message).toMatch(/inbound/);
  });

  it("bad addresses", () => {
    expect(refused("pass in from 300.1.1.1\n")[0]!.message).toMatch(/not a valid IPv4 address/);
    expect(refused("pass in from 10.0.0.0/33\n")[0]!.message).toMatch(/prefix length/);
    expect(refused("pass in from to any\n")[0]!.message).toMatch(/expected an address, found 'to'/);
  });

  it("lexical errors", () => {
    expect(refused('lan = "100.64.1.3\n')[0]).toEqual({ line: 1, message: "unterminated quoted string" });
    expect(refused("pass in \\ all\n")[0]!.message).toMatch(/stray backslash/);
  });

  it("every broken statement in one run, in line order", () => {
    const errors = refused(
      "block\npas in\npass in proto tcp to self port 99999\npass out\npass in from $nope\n",
    );
    expect(errors.map((e) => e.line)).toEqual([2, 3, 5]);
  });

  it("a continued line keeps the physical line numbers of what follows", () => {
    const [e] = refused("pass in proto tcp \\\n  to self \\\n  port 99999\n");
    expect(e!.line).toBe(3);
  });

  it("set options outside the subset and unsupported statements", () => {
    expect(refused("set timeout interval 10\n")[0]!.message).toMatch(/unsupported option 'set timeout'/);
    expect(refused("table <bad> persist\n")[0]!.message).toMatch(/not in the pf.conf subset/);
  });
});

describe("formatPfRule", () => {
  it("prints one canonical line per rule, macros expanded", () => {
    const { conf } = parsePfConf(GOOD);
    const lines = conf.rules.map(formatPfRule);
    expect(lines).toContain("match out on egress inet from 100.64.0.0/10 to any nat-to (egress)");
    expect(lines).toContain(
      "match out on egress inet proto udp from 100.64.4.3 port 10000 to any nat-to (egress:0) static-port",
    );
    expect(lines).toContain("block return log all");
    expect(lines).toContain(
      "pass in quick on em0 proto tcp from { 100.64.1.3 100.64.2.3 } to self port { 80 443 }",
    );
    expect(lines).toContain(
      "pass in proto { udp tcp } from ! 10.0.0.0/8 to any port 53 rdr-to 127.0.0.1 port 53",
    );
    expect(lines).toContain(
      "pass in proto tcp from { 100.64.1.3 100.64.2.3 192.0.2.1 } port 1024:65535 to web port >= 8000 flags S/SA",
    );
  });

  it("normalises a one-item list and an empty side", () => {
    const { conf } = parsePfConf("pass in on egress proto udp to any port { 10000 } rdr-to jvb\n");
    expect(formatPfRule(conf.rules[0]!)).toBe(
      "pass in on egress proto udp from any to any port 10000 rdr-to jvb",
    );
  });
});
