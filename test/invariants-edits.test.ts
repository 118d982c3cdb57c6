// One edited file breaks exactly the invariant it belongs to (brewery, passwords, prosody-host, sctp, nat,
// colibri-websockets, monitoring, turn, domain, auth-domain, conference-muc, focus-proxy, prosody-plugins), and the detail
// names both sides but never a secret; a file the readers cannot read fails every invariant that needs it.
import { JITSI_RELEASES, type NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { checkInvariants } from "../packages/coordinator/src/render/invariants.js";
import { fakeSecrets } from "./fixtures/material.js";
import {
  all,
  colibri,
  deployment,
  detailOf,
  edit,
  FULL,
  failed,
  monitored,
  onlyFails,
  release,
  tableRelease,
  threeJvbs,
} from "./helpers/invariants.js";

describe("one edited file breaks exactly its invariant", () => {
  const JICOFO = "/etc/jicofo/jicofo.conf";
  const JVB = "/etc/jvb/jvb.conf";
  const NGINX = "/etc/nginx/nginx.conf";
  const PROSODY = "/etc/prosody/prosody.cfg.lua";
  const CONFIGJS = "/var/www/jitsi-meet/config.js";

  it("brewery: a bridge's muc_jids", () => {
    const detail = onlyFails(
      all(release(9646), threeJvbs),
      (n) =>
        edit(n, "jvb2", JVB, /muc_jids = "[^"]*"/, 'muc_jids = "OtherBrewery@internal.auth.jts.fips.de"'),
      "brewery",
    );
    expect(detail).toBe(
      'jvb2:/etc/jvb/jvb.conf videobridge.apis.xmpp-client.configs.ourprosody.muc_jids is "OtherBrewery@internal.auth.jts.fips.de" but jicofo:/etc/jicofo/jicofo.conf jicofo.bridge.brewery-jid is "JvbBrewery@internal.auth.jts.fips.de"',
    );
  });

  it("brewery: compared case-insensitively, as XMPP nodeprep does", () => {
    const d = deployment(threeJvbs);
    edit(d.nodes, "jvb3", JVB, "JvbBrewery@", "jvbbrewery@");
    expect(failed(checkInvariants(d.spec, d.nodes))).toEqual([]);
  });

  it("brewery: prosody locks new rooms of the brewery component", () => {
    const detail = onlyFails(
      undefined,
      (n) => edit(n, "xmpp", PROSODY, "muc_room_locking = false", "muc_room_locking = true"),
      "brewery",
    );
    expect(detail).toContain(
      'xmpp:/etc/prosody/prosody.cfg.lua Component "internal.auth.jts.fips.de" muc_room_locking',
    );
  });

  it("passwords: jicofo's password, without printing either value", () => {
    const detail = onlyFails(
      undefined,
      (n) => edit(n, "jicofo", JICOFO, fakeSecrets.focusPassword, "wrong-password-0123456789"),
      "passwords",
      ["wrong-password-0123456789"],
    );
    expect(detail).toBe(
      "jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.client.password differs from xmpp:setup action prosody-user focus@auth.jts.fips.de password",
    );
  });

  it("passwords: one bridge's password, truststore password and truststore bytes", () => {
    const jvbPw = onlyFails(
      all(release(9646), threeJvbs),
      (n) => edit(n, "jvb3", JVB, fakeSecrets.jvbPassword, "wrong-password-0123456789"),
      "passwords",
      ["wrong-password-0123456789"],
    );
    expect(jvbPw).toContain(
      "jvb3:/etc/jvb/jvb.conf videobridge.apis.xmpp-client.configs.ourprosody.password differs from xmpp:setup action prosody-user jvb@auth.jts.fips.de password",
    );
    const storePw = onlyFails(
      threeJvbs,
      (n) =>
        edit(n, "jvb2", "/etc/jvb/jvb.in.sh", fakeSecrets.truststorePassword, "wrong-password-0123456789"),
      "passwords",
      ["wrong-password-0123456789"],
    );
    expect(storePw).toBe(
      "jvb2:/etc/jvb/jvb.in.sh JVB_TRUSTSTORE_PASSWORD differs from jicofo:/etc/jicofo/jicofo.in.sh JICOFO_TRUSTSTORE_PASSWORD",
    );
    const store = onlyFails(
      threeJvbs,
      (n) => {
        const f = n.jvb2!.files.find((x) => x.path === "/etc/ssl/jvb-key.store")!;
        f.content = Buffer.from("ANOTHER-P12").toString("base64");
      },
      "passwords",
    );
    expect(store).toBe("jvb2:/etc/ssl/jvb-key.store differs from jicofo:/etc/ssl/jicofo-key.store");
  });

  it("prosody-host: nginx's BOSH proxy_pass address", () => {
    const detail = onlyFails(
      undefined,
      (n) => edit(n, "web", NGINX, "http://100.64.2.3:5280/http-bind", "http://100.64.9.9:5280/http-bind"),
      "prosody-host",
    );
    expect(detail).toBe(
      'web:/etc/nginx/nginx.conf location /http-bind proxy_pass host "100.64.9.9" is 100.64.9.9 (an address) but prosody is on xmpp\'s address 100.64.2.3 (xmpp:/etc/prosody/prosody.cfg.lua)',
    );
  });

  it("prosody-host: a name is resolved through the VM's own /etc/hosts", () => {
    const d = deployment();
    edit(d.nodes, "web", NGINX, "http://100.64.2.3:5280/http-bind", "http://xmpp:5280/http-bind");
    expect(failed(checkInvariants(d.spec, d.nodes))).toEqual([]);
    edit(d.nodes, "web", NGINX, "http://xmpp:5280/http-bind", "http://prosody:5280/http-bind");
    const results = checkInvariants(d.spec, d.nodes);
    expect(failed(results).map((r) => r.name)).toEqual(["prosody-host"]);
    expect(detailOf(results, "prosody-host")).toBe(
      'web:/etc/nginx/nginx.conf location /http-bind proxy_pass host "prosody" does not resolve on web (web:/etc/hosts); it must reach xmpp\'s address 100.64.2.3',
    );
  });

  it("prosody-host: up to 7648 jicofo's --host must resolve to prosody on the jicofo VM (the paper's pitfall)", () => {
    const drop = (n: Record<string, NodeDesired>) =>
      edit(n, "jicofo", "/etc/hosts", "xmpp jts.fips.de", "xmpp");
    const detail = onlyFails(undefined, drop, "prosody-host");
    expect(detail).toBe(
      'jicofo:rc.conf.local jicofo_flags --host "jts.fips.de" does not resolve on jicofo (jicofo:/etc/hosts); it must reach xmpp\'s address 100.64.2.3',
    );
    // From 8044 on jicofo ignores --host and connects to xmpp.client.hostname, an address.
    const d = deployment(release(9646));
    drop(d.nodes);
    expect(failed(checkInvariants(d.spec, d.nodes))).toEqual([]);
  });

  it("prosody-host: prosody's HTTP listens on loopback only", () => {
    const detail = onlyFails(
      undefined,
      (n) => edit(n, "xmpp", PROSODY, 'http_interfaces = { "*", "::" }', 'http_interfaces = { "127.0.0.1" }'),
      "prosody-host",
    );
    expect(detail).toContain("xmpp:/etc/prosody/prosody.cfg.lua http_interfaces has neither");
  });

  it("sctp: one bridge of three turns SCTP on, another drops the key", () => {
    const patch = all(release(9646), threeJvbs);
    const on = onlyFails(
      patch,
      (n) => edit(n, "jvb2", JVB, "sctp {\n    enabled = false", "sctp {\n    enabled = true"),
      "sctp",
    );
    expect(on).toBe(
      "jvb2:/etc/jvb/jvb.conf videobridge.sctp.enabled is true but jicofo:/etc/jicofo/jicofo.conf jicofo.sctp.enabled is false (no SCTP on OpenBSD: all must be false)",
    );
    const dropped = onlyFails(
      patch,
      (n) => edit(n, "jvb3", JVB, /\n {2}sctp \{\n {4}enabled = false\n {2}\}/, ""),
      "sctp",
    );
    expect(dropped).toContain("jvb3:/etc/jvb/jvb.conf videobridge.sctp.enabled is missing (default true)");
  });

  it("nat: the host's rdr-to port of one bridge", () => {
    const detail = onlyFails(
      threeJvbs,
      (n) => edit(n, "vmm", "/etc/pf.conf", "port 10001 rdr-to", "port 10005 rdr-to"),
      "nat",
    );
    expect(detail).toMatch(
      /^vmm:\/etc\/pf\.conf line \d+ rdr-to 100\.64\.5\.3 \(jvb2\) udp port is 10005 but jvb2:\/etc\/jvb\/jvb\.conf videobridge\.ice\.udp\.port is 10001$/,
    );
  });

  it("nat: a bridge's public address (jvb.conf at 9646, the properties at 7648)", () => {
    const modern = onlyFails(
      all(release(9646), threeJvbs),
      (n) => edit(n, "jvb3", JVB, 'public-address = "87.253.170.146"', 'public-address = "192.0.2.1"'),
      "nat",
    );
    expect(modern).toBe(
      'jvb3:/etc/jvb/jvb.conf ice4j.harvest.mapping.static-mappings[0].public-address is "192.0.2.1" but spec publicAddress is "87.253.170.146"',
    );
    const legacy = onlyFails(
      undefined,
      (n) =>
        edit(
          n,
          "jvb",
          "/etc/jvb/sip-communicator.properties",
          "LOCAL_ADDRESS=100.64.4.3",
          "LOCAL_ADDRESS=100.64.2.3",
        ),
      "nat",
    );
    expect(legacy).toContain(
      "jvb:/etc/jvb/sip-communicator.properties org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS",
    );
  });

  it("nat: the bridge's own pf.conf and the host's static-port NAT", () => {
    const own = onlyFails(
      undefined,
      (n) => edit(n, "jvb", "/etc/pf.conf", "proto udp to self port 10000", "proto udp to self port 10009"),
      "nat",
    );
    expect(own).toBe(
      "jvb:/etc/pf.conf does not pass in udp port 10000 (jvb:/etc/jvb/jvb.conf videobridge.ice.udp.port)",
    );
    const nat = onlyFails(undefined, (n) => edit(n, "vmm", "/etc/pf.conf", " static-port", ""), "nat");
    expect(nat).toContain(
      "vmm:/etc/pf.conf has no nat-to static-port for udp from 100.64.4.3 (jvb) port 10000",
    );
  });

  it("colibri-websockets: nginx sends one bridge's path to another bridge", () => {
    const detail = onlyFails(
      all(release(9646), threeJvbs, colibri),
      (n) =>
        edit(
          n,
          "web",
          NGINX,
          "location ^~ /colibri-ws/bridge2/ {\n            proxy_pass http://100.64.5.3:9090;",
          "location ^~ /colibri-ws/bridge2/ {\n            proxy_pass http://100.64.6.3:9090;",
        ),
      "colibri-websockets",
    );
    expect(detail).toBe(
      'web:/etc/nginx/nginx.conf location /colibri-ws/bridge2/ proxy_pass host "100.64.6.3" is 100.64.6.3 (an address) but jvb2:/etc/jvb/jvb.conf videobridge.websockets.server-id "bridge2" is on jvb2 (100.64.5.3)',
    );
  });

  it("colibri-websockets: a server-id nginx does not know, and websockets on without nginx", () => {
    const renamed = onlyFails(
      all(release(9646), threeJvbs, colibri),
      (n) => edit(n, "jvb3", JVB, 'server-id = "Bridge-3"', 'server-id = "bridge-3"'),
      "colibri-websockets",
    );
    expect(renamed).toContain(
      'web:/etc/nginx/nginx.conf has no location /colibri-ws/bridge-3/ for jvb3:/etc/jvb/jvb.conf videobridge.websockets.server-id "bridge-3"',
    );
    expect(renamed).toContain("web:/etc/nginx/nginx.conf location /colibri-ws/Bridge-3/ names no bridge's");
    const halfway = onlyFails(
      release(9646),
      (n) => edit(n, "jvb", JVB, /\n}\n$/, "\n  websockets {\n    enabled = true\n  }\n}\n"),
      "colibri-websockets",
    );
    expect(halfway).toBe(
      "jvb:/etc/jvb/jvb.conf videobridge.websockets.enabled is true but bridgeChannel is none",
    );
  });

  it("monitoring: pf lets the monitors in to a loopback listener, or a listener pf keeps closed", () => {
    const loopback = onlyFails(
      all(release(9646), monitored),
      (n) => edit(n, "jvb", JVB, 'host = "0.0.0.0"', 'host = "127.0.0.1"'),
      "monitoring",
    );
    expect(loopback).toMatch(
      /^jvb:\/etc\/pf\.conf line \d+ lets port 8080 in, but jvb:\/etc\/jvb\/jvb\.conf videobridge\.http-servers\.private\.host "127\.0\.0\.1" listens on loopback only$/,
    );
    // jicofo before 10314 listened on every address by default: a removed host is no longer loopback.
    const open = onlyFails(
      release(9646),
      (n) => edit(n, "jicofo", JICOFO, /\n\s*host = "127\.0\.0\.1"/, ""),
      "monitoring",
    );
    expect(open).toBe(
      "jicofo:/etc/jicofo/jicofo.conf jicofo.rest.host (unset: 0.0.0.0) listens beyond loopback, but jicofo:/etc/pf.conf lets nobody reach port 8888",
    );
  });

  it("turn: the shared secret, without printing it, and the advertised ports", () => {
    const secret = onlyFails(
      FULL,
      (n) =>
        edit(
          n,
          "turn",
          "/etc/turnserver.conf",
          `static-auth-secret=${fakeSecrets.turnSecret}`,
          "static-auth-secret=another0123456789",
        ),
      "turn",
      ["another0123456789"],
    );
    expect(secret).toBe(
      "turn:/etc/turnserver.conf static-auth-secret differs from xmpp:/etc/prosody/prosody.cfg.lua external_service_secret",
    );
    const port = onlyFails(
      FULL,
      (n) => edit(n, "turn", "/etc/turnserver.conf", "listening-port=3478", "listening-port=3479"),
      "turn",
    );
    expect(port).toContain(
      'xmpp:/etc/prosody/prosody.cfg.lua external_services[2] (turn) port is "3478" but turn:/etc/turnserver.conf listening-port is "3479"',
    );
    const tls = onlyFails(FULL, (n) => edit(n, "xmpp", PROSODY, "port = 5349", "port = 443"), "turn");
    expect(tls).toBe(
      'xmpp:/etc/prosody/prosody.cfg.lua external_services[3] (turns) port is "443" but turn:/etc/turnserver.conf tls-listening-port is "5349"',
    );
  });

  it("domain: nginx server_name, config.js bosh, jicofo's xmpp-domain, coturn's realm", () => {
    expect(
      onlyFails(
        undefined,
        (n) => edit(n, "web", NGINX, "server_name  jts.fips.de;", "server_name  meet.example;"),
        "domain",
      ),
    ).toBe(
      'web:/etc/nginx/nginx.conf server_name is "meet.example" but xmpp:/etc/prosody/prosody.cfg.lua VirtualHost is "jts.fips.de"',
    );
    expect(
      onlyFails(
        undefined,
        (n) => edit(n, "web", CONFIGJS, "'//jts.fips.de/http-bind'", "'//meet.example/http-bind'"),
        "domain",
      ),
    ).toBe(
      'web:/var/www/jitsi-meet/config.js bosh host is "meet.example" but xmpp:/etc/prosody/prosody.cfg.lua VirtualHost is "jts.fips.de"',
    );
    expect(
      onlyFails(
        release(9646),
        (n) => edit(n, "jicofo", JICOFO, 'xmpp-domain = "jts.fips.de"', 'xmpp-domain = "meet.example"'),
        "domain",
      ),
    ).toContain("jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.client.xmpp-domain");
    expect(
      onlyFails(
        FULL,
        (n) => edit(n, "turn", "/etc/turnserver.conf", "realm=jts.fips.de", "realm=meet.example"),
        "domain",
      ),
    ).toContain("turn:/etc/turnserver.conf realm");
  });

  it("domain: jicofo's --host flag (and, up to 7648, prosody-host too: --host is also where jicofo connects)", () => {
    const drop = (n: Record<string, NodeDesired>) => {
      n.jicofo!.services = n.jicofo!.services.map((s) => ({ ...s, flags: "--foo" }));
    };
    expect(onlyFails(release(9646), drop, "domain")).toBe(
      'jicofo:rc.conf.local jicofo_flags --host is missing (xmpp:/etc/prosody/prosody.cfg.lua VirtualHost is "jts.fips.de")',
    );
    const d = deployment();
    drop(d.nodes);
    expect(failed(checkInvariants(d.spec, d.nodes)).map((r) => r.name)).toEqual(["domain", "prosody-host"]);
  });

  it("auth-domain: jicofo's trusted domains, prosody's admins, the auth certificate file", () => {
    expect(
      onlyFails(
        undefined,
        (n) =>
          edit(
            n,
            "jicofo",
            JICOFO,
            'trusted-domains = [ "auth.jts.fips.de" ]',
            'trusted-domains = [ "auth.example" ]',
          ),
        "auth-domain",
      ),
    ).toBe(
      'jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.trusted-domains does not list "auth.jts.fips.de" (xmpp:/etc/prosody/prosody.cfg.lua VirtualHost)',
    );
    expect(
      onlyFails(
        undefined,
        (n) => edit(n, "xmpp", PROSODY, ', "jvb@auth.jts.fips.de" }', " }"),
        "auth-domain",
      ),
    ).toBe(
      'xmpp:/etc/prosody/prosody.cfg.lua Component "internal.auth.jts.fips.de" admins does not list "jvb@auth.jts.fips.de"',
    );
    expect(
      onlyFails(
        undefined,
        (n) => {
          n.xmpp!.files = n.xmpp!.files.filter((f) => !f.path.endsWith(".key"));
        },
        "auth-domain",
      ),
    ).toBe(
      'xmpp:/var/prosody/auth.jts.fips.de.key is not rendered (xmpp:/etc/prosody/prosody.cfg.lua VirtualHost "auth.jts.fips.de" ssl.key)',
    );
  });

  it("conference-muc and focus-proxy", () => {
    expect(
      onlyFails(
        undefined,
        (n) => edit(n, "web", CONFIGJS, "muc: 'conference.jts.fips.de'", "muc: 'muc.jts.fips.de'"),
        "conference-muc",
      ),
    ).toBe(
      'web:/var/www/jitsi-meet/config.js hosts.muc is "muc.jts.fips.de" but xmpp:/etc/prosody/prosody.cfg.lua Component is "conference.jts.fips.de"',
    );
    expect(
      onlyFails(
        release(9646),
        (n) => edit(n, "jicofo", JICOFO, 'conference-muc-jid = "conference.', 'conference-muc-jid = "muc.'),
        "conference-muc",
      ),
    ).toContain("jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.client.conference-muc-jid");
    expect(
      onlyFails(
        undefined,
        (n) => edit(n, "xmpp", PROSODY, 'target_address = "focus@', 'target_address = "jicofo@'),
        "focus-proxy",
      ),
    ).toContain(
      'jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.client.username@domain is "focus@auth.jts.fips.de" but xmpp:/etc/prosody/prosody.cfg.lua Component "focus.jts.fips.de" target_address is "jicofo@auth.jts.fips.de"',
    );
    expect(
      onlyFails(
        undefined,
        (n) => {
          n.xmpp!.actions = n.xmpp!.actions.filter((a) => a.kind !== "prosody-roster-subscribe");
        },
        "focus-proxy",
      ),
    ).toContain("xmpp:setup action prosody-roster-subscribe is missing");
  });

  it("prosody-plugins: without muc_mapper_domain_base, four plugins of 11031 turn themselves off", () => {
    const row = JITSI_RELEASES.find((r) => r.release === 11031);
    if (!row) throw new Error("test bug: release 11031 is not in the table");
    const detail = onlyFails(
      tableRelease(row),
      (n) => edit(n, "xmpp", PROSODY, /\nmuc_mapper_domain_base = "[^"]*"/, ""),
      "prosody-plugins",
    );
    const problems = detail.split("; ");
    expect(problems.map((p) => /loads (\w+)/.exec(p)?.[1])).toEqual([
      "end_conference",
      "av_moderation_component",
      "room_metadata_component",
      "polls_component",
    ]);
    expect(problems[0]).toBe(
      'xmpp:/etc/prosody/prosody.cfg.lua Component "endconference.jts.fips.de" loads end_conference (module) but sets no muc_mapper_domain_base, here or globally: the plugin turns itself off without it (jitsi-meet resources/prosody-plugins/mod_end_conference.lua:41 (11031))',
    );
  });

  it("prosody-plugins: a feature component without muc_component, the lobby without lobby_muc (9646)", () => {
    const detail = onlyFails(
      release(9646),
      (n) => {
        edit(n, "xmpp", PROSODY, /(Component "speakerstats\.[^\n]*)\n\s*muc_component = "[^"]*"/, "$1");
        edit(n, "xmpp", PROSODY, /\n\s*lobby_muc = "[^"]*"/, "");
      },
      "prosody-plugins",
    );
    expect(detail).toContain(
      'VirtualHost "jts.fips.de" loads muc_lobby_rooms (modules_enabled) but sets no lobby_muc, here or globally',
    );
    expect(detail).toContain(
      'Component "speakerstats.jts.fips.de" loads speakerstats_component (module) but sets no muc_component',
    );
    expect(detail.split("; ")).toHaveLength(2);
  });

  it("a file the readers cannot read fails the invariants that need it, and nothing throws", () => {
    const d = deployment(threeJvbs);
    edit(d.nodes, "jvb2", JVB, /\n}\n$/, "\n");
    const results = checkInvariants(d.spec, d.nodes);
    const bad = failed(results);
    expect(bad.map((r) => r.name)).toEqual([
      "auth-domain",
      "brewery",
      "passwords",
      "prosody-host",
      "sctp",
      "nat",
      "colibri-websockets",
      "monitoring",
    ]);
    for (const r of bad) expect(r.detail).toBe("jvb2:/etc/jvb/jvb.conf cannot be read: '{' is not closed");
  });
});
