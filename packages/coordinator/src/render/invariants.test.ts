// The readers of the invariant check (one per rendered format) and the check on the paper's deployment.
// Whole deployments, mutations and agreement with the real parsers are in test/invariants.test.ts.
import { describe, expect, it } from "vitest";
import { fakeInput } from "../../../../test/fixtures/material.js";
import {
  hoconGet,
  parseConfigJs,
  parseHocon,
  parseHostsFile,
  parseKshAssignments,
  parseNginxConf,
  parseProperties,
  parseProsodyConfig,
  parseTurnserverConf,
} from "./grammar/index.js";
import { renderDeployment } from "./index.js";
import { checkInvariants, formatViolations, INVARIANT_NAMES } from "./invariants.js";

describe("parseHocon (the subset jicofo.conf and jvb.conf use)", () => {
  it("reads nested blocks, dotted keys, quoted and unquoted values, lists and lists of objects", () => {
    const conf = parseHocon(
      [
        "# comment",
        "a {",
        '  b = "x@y" // trailing comment',
        "  c: 5222",
        "  d = true, e = false",
        "  interval = 10 seconds",
        '  list = [ "one", "two" ]',
        "  maps = [",
        "    {",
        '      local-address = "10.0.0.1"',
        "    }",
        "  ]",
        "}",
        "a.f.g = 1.5",
        'a { "h.i" = "\\u0041\\n" }',
      ].join("\n"),
    );
    expect(hoconGet(conf, "a.b")).toBe("x@y");
    expect(hoconGet(conf, "a.c")).toBe(5222);
    expect(hoconGet(conf, "a.d")).toBe(true);
    expect(hoconGet(conf, "a.e")).toBe(false);
    expect(hoconGet(conf, "a.interval")).toBe("10 seconds");
    expect(hoconGet(conf, "a.list")).toEqual(["one", "two"]);
    expect(hoconGet(conf, "a.maps")).toEqual([{ "local-address": "10.0.0.1" }]);
    // A later block with the same key merges into the earlier one (HOCON object merge).
    expect(hoconGet(conf, "a.f.g")).toBe(1.5);
    expect((hoconGet(conf, "a") as Record<string, unknown>)["h.i"]).toBe("A\n");
    expect(hoconGet(conf, "a.missing")).toBeUndefined();
    expect(hoconGet(conf, "a.b.c")).toBeUndefined();
  });

  it("refuses what it does not understand instead of guessing", () => {
    expect(() => parseHocon("a {\n b = 1\n")).toThrow(/not closed/);
    expect(() => parseHocon(["a = $", "{b}"].join(""))).toThrow(/substitutions/);
    // Typesafe Config: "Reserved character '@' is not allowed outside quotes".
    expect(() => parseHocon("jid = a@b")).toThrow(/unexpected/);
    expect(() => parseHocon("a = 1 }")).toThrow(/without/);
    expect(() => parseHocon("a")).toThrow(/no value/);
  });
});

describe("parseProsodyConfig", () => {
  it("splits the file into global, VirtualHost and Component sections with Lua values", () => {
    const sections = parseProsodyConfig(
      [
        "-- header",
        'plugin_paths = { "/p" }',
        "http_ports = { 5280 }",
        'modules_enabled = {\n    "bosh";\n    "ping";\n}',
        "external_services = {",
        '    { type = "turn", port = 3478, secret = true },',
        "}",
        'VirtualHost "auth.d"',
        "    ssl = {",
        '        key = "/k";',
        "    }",
        'Component "internal.auth.d" "muc"',
        "    muc_room_locking = false",
        "    admins = { \"focus@auth.d\", 'jvb@auth.d' }",
        'Component "plain"',
      ].join("\n"),
    );
    expect(sections.map((s) => [s.kind, s.name, s.module])).toEqual([
      ["global", "", undefined],
      ["VirtualHost", "auth.d", undefined],
      ["Component", "internal.auth.d", "muc"],
      ["Component", "plain", undefined],
    ]);
    const g = sections[0]!.settings;
    expect(g.http_ports).toEqual({ items: [5280], fields: {} });
    expect(g.modules_enabled).toEqual({ items: ["bosh", "ping"], fields: {} });
    expect(g.external_services).toEqual({
      items: [{ items: [], fields: { type: "turn", port: 3478, secret: true } }],
      fields: {},
    });
    expect(sections[1]!.settings.ssl).toEqual({ items: [], fields: { key: "/k" } });
    expect(sections[2]!.settings.muc_room_locking).toBe(false);
    expect(sections[2]!.settings.admins).toEqual({ items: ["focus@auth.d", "jvb@auth.d"], fields: {} });
  });

  it("names the line of what it cannot read", () => {
    expect(() => parseProsodyConfig('a = "x"\nb = {\n "y";\n')).toThrow(/not closed/);
    expect(() => parseProsodyConfig('a = "x"\nb c')).toThrow(/line 2: expected '='/);
    expect(() => parseProsodyConfig("a = 1 + 2")).toThrow(/line 1/);
  });
});

describe("parseNginxConf", () => {
  it("builds the directive tree with quoted arguments", () => {
    const tree = parseNginxConf(
      [
        "events { worker_connections 800; }",
        "http {",
        "  log_format main '[$time_local]^\"$request\"' 'x';",
        "  server {",
        "    server_name a.example;  # comment",
        "    location = /http-bind {",
        "      proxy_pass http://10.0.0.2:5280/http-bind;",
        "    }",
        '    location / { return 307 "https://$host$request_uri"; }',
        "  }",
        "}",
      ].join("\n"),
    );
    expect(tree.map((d) => d.name)).toEqual(["events", "http"]);
    const http = tree[1]!.children!;
    expect(http[0]).toEqual({ name: "log_format", args: ["main", '[$time_local]^"$request"', "x"] });
    const server = http[1]!.children!;
    expect(server[0]).toEqual({ name: "server_name", args: ["a.example"] });
    expect(server[1]).toEqual({
      name: "location",
      args: ["=", "/http-bind"],
      children: [{ name: "proxy_pass", args: ["http://10.0.0.2:5280/http-bind"] }],
    });
    expect(server[2]!.children).toEqual([{ name: "return", args: ["307", "https://$host$request_uri"] }]);
  });

  it("refuses an unterminated directive or an unbalanced brace", () => {
    expect(() => parseNginxConf("http { keepalive_timeout 65 }")).toThrow(/unexpected '}'/);
    expect(() => parseNginxConf("http { a b;")).toThrow(/not closed/);
    expect(() => parseNginxConf("a b")).toThrow(/not terminated/);
    expect(() => parseNginxConf("}")).toThrow(/unexpected/);
  });
});

describe("parseConfigJs", () => {
  it("reads the object literal without evaluating anything", () => {
    const config = parseConfigJs(
      [
        "// header",
        "/* block */",
        "var config = {",
        "  hosts: {",
        "    domain: 'a.example',",
        "    'muc': \"conference.a.example\",",
        "  },",
        "  bosh: '//a.example/http-bind',",
        "  enableWelcomePage: true,",
        "  n: -3,",
        "  p2p: { stunServers: [ { urls: 'stun:x:443' }, ], },",
        "};",
      ].join("\n"),
    );
    expect(config).toEqual({
      hosts: { domain: "a.example", muc: "conference.a.example" },
      bosh: "//a.example/http-bind",
      enableWelcomePage: true,
      n: -3,
      p2p: { stunServers: [{ urls: "stun:x:443" }] },
    });
  });

  it("refuses expressions and anything but one config declaration", () => {
    expect(() => parseConfigJs("var config = { a: 'x' + 'y' };")).toThrow(/subset/);
    expect(() => parseConfigJs("var config = { a: f() };")).toThrow(/subset/);
    expect(() => parseConfigJs("var other = {};")).toThrow(/var config/);
    expect(() => parseConfigJs("var config = {}; var x = 1;")).toThrow(/after/);
    expect(() => parseConfigJs("var config = { a: 'x' b: 1 };")).toThrow(/expected ','/);
  });
});

describe("parseKshAssignments", () => {
  it("unquotes single, double and bare words", () => {
    expect(
      parseKshAssignments(
        ["# c", "A=/etc/x", "B='it'\\''s'", 'C=""', 'export D="x\\"y"', "E=plain # comment"].join("\n"),
      ),
    ).toEqual({ A: "/etc/x", B: "it's", C: "", D: 'x"y', E: "plain" });
  });

  it("refuses expansions and non-assignments", () => {
    expect(() => parseKshAssignments("A=$HOME")).toThrow(/expansion/);
    expect(() => parseKshAssignments('A="$(id)"')).toThrow(/expansion/);
    expect(() => parseKshAssignments("echo hi")).toThrow(/line 1: not an assignment/);
    expect(() => parseKshAssignments("A='x")).toThrow(/closing quote/);
    expect(() => parseKshAssignments("A=x y")).toThrow(/more than one word/);
  });
});

describe("parseProperties, parseTurnserverConf, parseHostsFile", () => {
  it("reads java properties with separators, escapes and continuations", () => {
    expect(
      parseProperties(
        [
          "# c",
          "! c",
          "a=1",
          "b : 2",
          "c 3",
          "org.ice4j.ice.harvest.\\",
          "    NAT=10.0.0.1",
          "u=\\u0041\\t",
          "trailing=true ",
        ].join("\n"),
      ),
    ).toEqual({
      a: "1",
      b: "2",
      c: "3",
      "org.ice4j.ice.harvest.NAT": "10.0.0.1",
      u: "A\t",
      trailing: "true ",
    });
  });

  it("reads turnserver.conf options, repeated and flag-only", () => {
    expect(
      parseTurnserverConf("# c\nuse-auth-secret\nrealm=a.example\ndenied-peer-ip=1-2\ndenied-peer-ip=3-4\n"),
    ).toEqual({ "use-auth-secret": [""], realm: ["a.example"], "denied-peer-ip": ["1-2", "3-4"] });
    expect(() => parseTurnserverConf("bad line here")).toThrow(/option/);
  });

  it("maps /etc/hosts names to the first address given", () => {
    const hosts = parseHostsFile("# c\n127.0.0.1 localhost\n10.0.0.2 xmpp A.Example # c\n10.0.0.9 xmpp\n");
    expect(hosts.get("xmpp")).toBe("10.0.0.2");
    expect(hosts.get("a.example")).toBe("10.0.0.2");
    expect(hosts.get("nothing")).toBeUndefined();
  });
});

describe("checkInvariants", () => {
  it("holds for the paper's deployment, one result per invariant in order", () => {
    const input = fakeInput();
    const results = checkInvariants(input.spec, renderDeployment(input));
    expect(results.map((r) => r.name)).toEqual([...INVARIANT_NAMES]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(formatViolations(results)).toEqual([]);
  });

  it("reports a violation as 'invariant: NAME: DETAIL'", () => {
    const input = fakeInput();
    const nodes = renderDeployment(input);
    const jicofo = nodes.jicofo!.files.find((f) => f.path === "/etc/jicofo/jicofo.conf")!;
    jicofo.content = jicofo.content.replace("enabled = false\n  }\n  xmpp", "enabled = true\n  }\n  xmpp");
    expect(formatViolations(checkInvariants(input.spec, nodes))).toEqual([
      "invariant: sctp: jicofo:/etc/jicofo/jicofo.conf jicofo.sctp.enabled is true but jvb:/etc/jvb/jvb.conf videobridge.sctp.enabled is false (no SCTP on OpenBSD: all must be false)",
    ]);
  });

  it("reports a node or file that is not there instead of throwing", () => {
    const input = fakeInput();
    const nodes = renderDeployment(input);
    delete nodes.web;
    const results = checkInvariants(input.spec, nodes);
    const failed = results.filter((r) => !r.ok);
    expect(failed.map((r) => r.name)).toEqual([
      "domain",
      "conference-muc",
      "focus-proxy",
      "prosody-host",
      "colibri-websockets",
    ]);
    for (const r of failed) expect(r.detail).toBe("the rendered deployment has no web node");
  });
});
