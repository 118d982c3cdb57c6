// Tests of the real-parser validators themselves: each must accept the paper's real config files
// (test/fixtures/paper) and reject a broken variant with the real program's message,
// as recorded in docs/jitsi-config-notes.md sections 1-8 and 11.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkHocon,
  checkHoconMany,
  checkJs,
  checkKsh,
  checkNginx,
  checkProperties,
  checkProsody,
  envLineNames,
  MissingToolError,
  missingTools,
  nginxNeeds,
  paperSampleDir,
  parseNginx,
  repoRoot,
  requireTool,
  shellEnv,
} from "./validators/index.js";

const sample = (name: string): string => readFileSync(path.join(paperSampleDir(), name), "utf8");

describe("validator environment", () => {
  it("finds the paper's configs inside the repository (test/fixtures/paper)", () => {
    expect(paperSampleDir().startsWith(`${repoRoot()}${path.sep}`)).toBe(true);
    expect(existsSync(path.join(paperSampleDir(), "nginx.conf"))).toBe(true);
  });

  it("has every program the validators run (else: run the apt-get lines of .ci/run)", () => {
    const missing = missingTools();
    expect(missing, `missing ${missing.join(", ")}: run the apt-get lines of .ci/run as root`).toEqual([]);
  });

  it("fails loudly, naming .ci/run, when a program is missing", () => {
    expect(() => requireTool("vmmeet-no-such-program")).toThrow(MissingToolError);
    expect(() => requireTool("vmmeet-no-such-program")).toThrow(/\.ci\/run/);
  });
});

describe("checkNginx (real nginx -t in a private mount namespace)", () => {
  const paper = sample("nginx.conf");
  const fakedCert = "/etc/ssl/jitsi-fips.fullchain.pem";

  it("accepts the paper's nginx.conf with xmpp mapped to the prosody VM", async () => {
    const hostsBefore = readFileSync("/etc/hosts", "utf8");
    const r = await checkNginx(paper, { hosts: { xmpp: "100.64.2.3" } });
    expect(r.output).toMatch(/test is successful/);
    expect(r.ok).toBe(true);
    expect(r.mappedHosts).toEqual({ xmpp: "100.64.2.3" });
    expect(r.autoHosts).toEqual([]);
    expect(r.fakedFiles).toEqual([fakedCert, "/etc/ssl/private/jitsi-fips.key"]);
    // The fakes lived only in the namespace: the machine is as before.
    expect(existsSync(fakedCert)).toBe(false);
    expect(readFileSync("/etc/hosts", "utf8")).toBe(hostsBefore);
  });

  it("maps unknown upstream names to 127.0.0.1 unless strictHosts, which fails like the VM would", async () => {
    const loose = await checkNginx(paper);
    expect(loose.ok).toBe(true);
    expect(loose.autoHosts).toEqual(["xmpp"]);
    const strict = await checkNginx(paper, { strictHosts: true });
    expect(strict.ok).toBe(false);
    expect(strict.output).toMatch(/host not found in upstream "xmpp"/);
    expect(strict.line).toBe(53);
  });

  it("rejects a missing ';' with nginx's own message and line", async () => {
    const broken = paper.replace("keepalive_timeout  65;", "keepalive_timeout  65");
    expect(broken).not.toBe(paper);
    const r = await checkNginx(broken, { hosts: { xmpp: "100.64.2.3" } });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(1);
    expect(r.output).toMatch(/\[emerg\].*directive "keepalive_timeout" is not terminated by ";"/);
    expect(r.line).toBe(24);
  });

  it("fakes OpenBSD's www account and absolute log paths without touching the disk", async () => {
    const openbsd = `user www;\n${paper.replace("logs/access.log", "/var/www/logs/vmmeet-test-access.log")}`;
    const r = await checkNginx(openbsd, { hosts: { xmpp: "100.64.2.3" } });
    expect(r.output).toMatch(/test is successful/);
    expect(r.ok).toBe(true);
    expect(existsSync("/var/www/logs/vmmeet-test-access.log")).toBe(false);
  });

  it("wraps a site snippet (no http block) and fakes dhparam and extra cert paths", async () => {
    const site = [
      "upstream prosody { server xmpp:5280; keepalive 2; }",
      "server {",
      "    listen 443 ssl;",
      "    server_name meet.example.org;",
      "    ssl_certificate /etc/ssl/vmmeet-test/site.crt;",
      "    ssl_certificate_key /etc/ssl/vmmeet-test/site.key;",
      "    ssl_dhparam /etc/ssl/vmmeet-test/dh.pem;",
      "    location = /http-bind { proxy_pass http://prosody/http-bind; }",
      "    location /colibri-ws/ { proxy_pass http://jvb:9090; }",
      "}",
      "",
    ].join("\n");
    const r = await checkNginx(site, { certPaths: ["/etc/ssl/vmmeet-test/extra.key"] });
    expect(r.output).toMatch(/test is successful/);
    expect(r.ok).toBe(true);
    expect(r.wrapped).toBe(true);
    expect(r.autoHosts.sort()).toEqual(["jvb", "xmpp"]);
    expect(r.fakedFiles).toContain("/etc/ssl/vmmeet-test/dh.pem");
    expect(existsSync("/etc/ssl/vmmeet-test")).toBe(false);
  });

  it("finds what the paper's config needs (pure parse)", () => {
    const needs = nginxNeeds(parseNginx(paper));
    expect(needs.certs).toEqual([fakedCert]);
    expect(needs.keys).toEqual(["/etc/ssl/private/jitsi-fips.key"]);
    expect(needs.hosts).toEqual(["xmpp"]);
    expect(needs.logs).toEqual(["logs/error.log", "logs/access.log"]);
    expect(needs.relativeIncludes).toEqual(["mime.types"]);
  });
});

describe("checkProsody (luac5.4 -p + prosodyctl check config)", () => {
  // prosodyctl check config accepts the paper's files; the module lookup does not: their focus.DOMAIN
  // client_proxy comes from jitsi-prosody-plugins, whose directory neither file lists in plugin_paths, so
  // today's OpenBSD prosody cannot load it.
  const PAPER_CLIENT_PROXY =
    'modules: Component "focus.jts.fips.de" "client_proxy": mod_client_proxy is in jitsi-prosody-plugins, but plugin_paths does not list /usr/local/share/jitsi-prosody-plugins';

  it("passes prosodyctl check config on the paper's prosody.cfg.lua (notices filtered), but finds no client_proxy", async () => {
    const r = await checkProsody(sample("prosody.cfg.lua"));
    expect(r.output).toMatch(/All checks passed, congratulations!/);
    expect(r.prosodyctlCode).toBe(0);
    expect(r.output).not.toMatch(
      /Couldn't switch to Prosody user|Error indexing certificate directory|lua-unbound/,
    );
    expect(r.output.split("\n").filter((l) => l.startsWith("modules: "))).toEqual([PAPER_CLIENT_PROXY]);
    expect(r.ok).toBe(false);
    expect(r.modules.find((m) => m.name === "bosh")).toEqual({
      name: "bosh",
      section: 'VirtualHost "jts.fips.de"',
      from: "prosody",
    });
  });

  it("the paper's listing variant: prosody's advice kept, the same missing plugin path", async () => {
    const r = await checkProsody(sample("prosody-paper-listing.cfg.lua"));
    expect(r.prosodyctlCode).toBe(0);
    expect(r.output).toMatch(/No global modules_enabled is set\?/);
    expect(r.output).toContain(PAPER_CLIENT_PROXY);
    expect(r.ok).toBe(false);
  });

  it("finds jitsi's modules through plugin_paths, and refuses a module of no package", async () => {
    const withPlugins = `plugin_paths = { "/usr/local/share/jitsi-prosody-plugins" }\n${sample("prosody.cfg.lua")}`;
    const ok = await checkProsody(withPlugins);
    expect(ok.ok, ok.output).toBe(true);
    expect(ok.modules.find((m) => m.name === "client_proxy")?.from).toBe("jitsi-prosody-plugins");
    // The same module is missing when the caller's plugins package does not have it.
    const older = await checkProsody(withPlugins, { plugins: ["roster_command"] });
    expect(older.ok).toBe(false);
    expect(older.output).toContain(
      'modules: Component "focus.jts.fips.de" "client_proxy": mod_client_proxy is neither prosody\'s (/usr/lib/prosody/modules) nor in jitsi-prosody-plugins',
    );
    const typo = await checkProsody(withPlugins.replace('"bosh"', '"boshh"'));
    expect(typo.prosodyctlCode).toBe(0);
    expect(typo.ok).toBe(false);
    expect(typo.output).toContain('modules: VirtualHost "jts.fips.de": mod_boshh is neither prosody');
  });

  it("rejects a missing '}' with Lua's and prosody's message", async () => {
    const broken = sample("prosody.cfg.lua").replace(/^}\n/m, "");
    const r = await checkProsody(broken);
    expect(r.ok).toBe(false);
    expect(r.luacCode).toBe(1);
    expect(r.prosodyctlCode).toBe(1);
    expect(r.output).toMatch(/'}' expected \(to close '\{' at line 6\) near 'http_interfaces'/);
    expect(r.output).toMatch(/A problem occurred while reading the config file/);
  });

  it("rejects a global option placed under a Component (prosodyctl rc 2)", async () => {
    const r = await checkProsody(`${sample("prosody.cfg.lua")}    bosh_max_inactivity = 60\n`);
    expect(r.ok).toBe(false);
    expect(r.prosodyctlCode).toBe(2);
    expect(r.output).toMatch(/You need to move the following option: bosh_max_inactivity/);
  });
});

describe("checkHocon (Typesafe Config via HoconCheck.java)", () => {
  it("parses the paper's jicofo.conf and jvb.conf in one JVM and returns the resolved objects", async () => {
    const muc = "videobridge.apis.xmpp-client.configs.ourprosody";
    const [jicofo, jvb] = await checkHoconMany([
      { text: sample("jicofo.conf"), options: { get: ["jicofo.bridge.brewery-jid", "jicofo.sctp.enabled"] } },
      {
        text: sample("jvb.conf"),
        options: {
          require: ["hostname", "username", "password", "muc_jids", "muc_nickname"].map((k) => `${muc}.${k}`),
        },
      },
    ]);
    expect(jicofo?.ok).toBe(true);
    expect(jicofo?.got).toEqual({
      "jicofo.bridge.brewery-jid": "JvbBrewery@internal.auth.jts.fips.de",
      "jicofo.sctp.enabled": false,
    });
    expect(jicofo?.values).toMatchObject({ jicofo: { xmpp: { "trusted-domains": ["auth.jts.fips.de"] } } });
    expect(jvb?.ok).toBe(true);
    expect(jvb?.values).toMatchObject({
      videobridge: {
        apis: {
          "xmpp-client": { "presence-interval": "120s", configs: { ourprosody: { hostname: "xmpp" } } },
        },
        sctp: { enabled: false },
        ice: { udp: { port: 10000 } },
      },
    });
  });

  it("reports a missing required path with code 3 (jicofo 8044+ needs xmpp-domain)", async () => {
    const r = await checkHocon(sample("jicofo.conf"), { require: ["jicofo.xmpp.client.xmpp-domain"] });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(3);
    expect(r.missing).toEqual(["jicofo.xmpp.client.xmpp-domain"]);
    expect(r.values).toBeDefined();
  });

  it("rejects an unquoted '@' with the parser's message and code 2", async () => {
    const broken = sample("jicofo.conf").replace(
      'brewery-jid = "JvbBrewery@internal.auth.jts.fips.de"',
      "brewery-jid = JvbBrewery@internal.auth.jts.fips.de",
    );
    const r = await checkHocon(broken);
    expect(r.ok).toBe(false);
    expect(r.code).toBe(2);
    expect(r.error).toMatch(/: 23: .*Reserved character '@' is not allowed outside quotes/);
    expect(r.values).toBeUndefined();
  });

  it("layers reference.conf texts and resolves substitutions against the file's values", async () => {
    const reference =
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a HOCON substitution, not a JS template
      "jicofo { sctp { enabled = true }, octo { sctp-datachannels = ${jicofo.sctp.enabled} } }";
    const r = await checkHocon(sample("jicofo.conf"), {
      references: [reference],
      get: ["jicofo.octo.sctp-datachannels"],
    });
    expect(r.ok).toBe(true);
    expect(r.got).toEqual({ "jicofo.octo.sctp-datachannels": false });
  });
});

describe("checkProperties (java.util.Properties via PropsCheck.java)", () => {
  it("reads the paper's three ice4j properties", async () => {
    const r = await checkProperties(sample("sip-communicator.properties"), {
      require: ["org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS"],
    });
    expect(r.ok).toBe(true);
    expect(r.properties).toEqual({
      "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER": "true",
      "org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS": "100.64.4.3",
      "org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS": "87.253.170.146",
    });
  });

  it("warns about a wrapped line and a trailing blank, and reports a missing key", async () => {
    const wrapped = sample("sip-communicator.properties")
      .replace(
        "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER=true",
        "org.ice4j.ice.harvest.\\\n    DISABLE_AWS_HARVESTER=true ",
      )
      .replace(/^org\.ice4j\.ice\.harvest\.NAT_HARVESTER_PUBLIC_ADDRESS=.*\n/m, "");
    const r = await checkProperties(wrapped, {
      require: ["org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS"],
    });
    expect(r.ok).toBe(false);
    expect(r.code).toBe(3);
    expect(r.properties["org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER"]).toBe("true ");
    expect(r.missing).toEqual(["org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS"]);
    expect(r.warnings).toHaveLength(2);
    expect(r.output).toMatch(/leading\/trailing blanks: \[true \]/);
    expect(r.output).toMatch(/line 2 continues with a backslash/);
  });
});

describe("checkKsh and shellEnv (mksh)", () => {
  it("sources the paper's jicofo.in.sh and jvb.in.sh with an empty environment", async () => {
    const jicofo = await shellEnv(sample("jicofo.in.sh"), { name: "jicofo.in.sh" });
    expect(jicofo.ok).toBe(true);
    expect(Object.keys(jicofo.vars)).toHaveLength(6);
    expect(jicofo.vars["JICOFO_CONF"]).toBe("/etc/jicofo/jicofo.conf");
    const jvb = await shellEnv(sample("jvb.in.sh"), { name: "jvb.in.sh" });
    expect(jvb.ok).toBe(true);
    expect(Object.keys(jvb.vars)).toHaveLength(9);
    expect(jvb.vars["JVB_SC_HOME_LOCATION"]).toBe("/etc");
  });

  it("rejects an unterminated quote with mksh's message", async () => {
    const broken = sample("jicofo.in.sh").replace("JICOFO_MAXMEM=3G", 'JICOFO_MAXMEM="3G');
    const r = await checkKsh(broken, { name: "bad.in.sh" });
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/bad\.in\.sh\[\d+\]: no closing quote/);
    const env = await shellEnv(broken, { name: "bad.in.sh" });
    expect(env.ok).toBe(false);
    expect(env.output).toMatch(/no closing quote/);
  });

  it("refuses to source anything but assignments, comments and blank lines", async () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
    const r = await shellEnv("# env\nA=1\n: ${B:=2}\nC=$(id)\nD=1; touch /tmp/x\n");
    expect(r.ok).toBe(false);
    expect(r.vars).toEqual({});
    expect(r.refused.map((x) => x.line)).toEqual([3, 4, 5]);
    expect(envLineNames("export A='x y' B=\"z\" # c")).toEqual({ names: ["A", "B"] });
  });

  it("checks an OpenBSD rc.d script's syntax", async () => {
    const rcd = [
      "#!/bin/ksh",
      "",
      'daemon="/usr/local/bin/node /usr/local/lib/vmmeet/agent.js"',
      'daemon_user="_vmmeet"',
      "",
      ". /etc/rc.d/rc.subr",
      "",
      "rc_bg=YES",
      "rc_reload=NO",
      "",
      'rc_cmd "$1"',
      "",
    ].join("\n");
    expect((await checkKsh(rcd, { name: "vmmeet_agent" })).ok).toBe(true);
    const broken = await checkKsh(rcd.replace("rc_reload=NO", "if [ x ]; then"), { name: "vmmeet_agent" });
    expect(broken.ok).toBe(false);
    expect(broken.output).toMatch(/vmmeet_agent\[\d+\]:/);
  });
});

describe("checkJs (node --check + classic-script evaluation)", () => {
  it("evaluates the paper's config.js and returns its config object", async () => {
    const r = await checkJs(sample("config.js"), { require: ["hosts.domain", "hosts.muc", "bosh"] });
    expect(r.ok).toBe(true);
    expect(r.config).toMatchObject({
      hosts: { domain: "jts.fips.de", muc: "conference.jts.fips.de" },
      bosh: "//jts.fips.de/http-bind",
      p2p: { stunServers: [{ urls: "stun:meet-jit-si-turnrelay.jitsi.net:443" }] },
    });
  });

  it("reports a missing required option", async () => {
    const r = await checkJs(sample("config.js"), { require: ["websocket"] });
    expect(r.ok).toBe(false);
    expect(r.missing).toEqual(["websocket"]);
  });

  it("rejects a missing comma with node's syntax error", async () => {
    const broken = sample("config.js").replace(
      "muc: 'conference.jts.fips.de'\n  },",
      "muc: 'conference.jts.fips.de'\n  }",
    );
    expect(broken).not.toBe(sample("config.js"));
    const r = await checkJs(broken);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/config\.js:6/);
    expect(r.output).toMatch(/SyntaxError: Unexpected identifier 'bosh'/);
  });

  it("rejects a top-level return that node --check (CommonJS) lets through", async () => {
    const r = await checkJs(`${sample("config.js")}\nreturn;\n`);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/Illegal return statement/);
  });
});
