// The cross-file invariants (docs/jitsi-config-notes.md section 10) over whole rendered deployments: they hold for the
// paper's release 7648, the current 9646, three bridges, colibri websockets, TURN and internal auth; a
// single edited file breaks exactly the invariant it belongs to, and the detail names both sides but never a
// secret. The readers of the check agree with the real parsers (Typesafe Config, Lua 5.4, node's vm, mksh,
// java.util.Properties) on the rendered files and on the paper's own files. Last, `vmmeet validate` and
// `vmmeet render` report a violation.
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { JITSI_RELEASES, type NodeDesired, PORTS_RELEASE } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { render as renderCommand } from "../packages/coordinator/src/cli/commands/render.js";
import { validate as validateCommand } from "../packages/coordinator/src/cli/commands/validate.js";
import type { Io } from "../packages/coordinator/src/cli/io.js";
import {
  parseConfigJs,
  parseHocon,
  parseKshAssignments,
  parseProperties,
  parseProsodyConfig,
} from "../packages/coordinator/src/render/grammar/index.js";
import { renderDeployment } from "../packages/coordinator/src/render/index.js";
import { checkInvariants, type InvariantResult } from "../packages/coordinator/src/render/invariants.js";
import { fakeInput, fakeSecrets, fixturesDir } from "./fixtures/material.js";
import {
  checkHoconMany,
  checkJs,
  checkPropertiesMany,
  paperSampleDir,
  requireTool,
  runProgram,
  shellEnv,
  withTempDir,
} from "./validators/index.js";

// `vmmeet validate` renders internally with no injection point (a Command takes argv and io only), so the
// CLI tests below corrupt its render through this switch. Everything else gets the real renderDeployment.
const corruption = vi.hoisted(() => ({
  apply: undefined as ((nodes: Record<string, NodeDesired>) => void) | undefined,
}));
vi.mock("../packages/coordinator/src/render/index.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../packages/coordinator/src/render/index.js")>();
  return {
    ...real,
    renderDeployment: (input: Parameters<typeof real.renderDeployment>[0]) => {
      const nodes = real.renderDeployment(input);
      corruption.apply?.(nodes);
      return nodes;
    },
  };
});

type Raw = Record<string, unknown>;
type Patch = (raw: Raw) => void;

const release =
  (r: number): Patch =>
  (raw) => {
    (raw.jitsi as Raw).release = r;
  };
const nodesOf = (raw: Raw) => raw.nodes as Raw[];
const threeJvbs: Patch = (raw) => {
  nodesOf(raw).push(
    { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001, nickname: "bridge2" } },
    { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002, nickname: "Bridge-3" } },
  );
};
const colibri: Patch = (raw) => {
  raw.bridgeChannel = "colibri-websocket";
};
const turn: Patch = (raw) => {
  raw.turn = { enabled: true };
  nodesOf(raw).push({ name: "turn", role: "turn", address: "100.64.7.3" });
};
const internalAuth =
  (guests: boolean): Patch =>
  (raw) => {
    raw.auth = { mode: "internal", guests };
  };
const xmppWebsocket: Patch = (raw) => {
  raw.xmppWebsocket = true;
};
const prosody13: Patch = (raw) => {
  (raw.jitsi as Raw).prosody = "13";
};
const monitored: Patch = (raw) => {
  raw.host = { ...(raw.host as Raw), monitorNetworks: ["198.51.100.0/24"] };
};
/** A release of the table with the Java and the prosody it is known to work with. */
const tableRelease =
  (r: (typeof JITSI_RELEASES)[number]): Patch =>
  (raw) => {
    (raw.jitsi as Raw).release = r.release;
    (raw.jitsi as Raw).java = r.java[0];
    (raw.jitsi as Raw).prosody = r.prosody.includes("0.12") ? "0.12" : r.prosody[0];
  };
const all =
  (...patches: Patch[]): Patch =>
  (raw) => {
    for (const p of patches) p(raw);
  };

function deployment(patch?: Patch) {
  const input = fakeInput("paper-7648.yaml", patch);
  return { spec: input.spec, nodes: renderDeployment(input) };
}

function check(patch?: Patch): InvariantResult[] {
  const d = deployment(patch);
  return checkInvariants(d.spec, d.nodes);
}

const failed = (results: InvariantResult[]) => results.filter((r) => !r.ok);
const detailOf = (results: InvariantResult[], name: string) => results.find((r) => r.name === name)!.detail;
const agreeing = (results: InvariantResult[], name: string) =>
  Number(/^(\d+) values? agrees?/.exec(detailOf(results, name))?.[1] ?? Number.NaN);

const SECRETS = Object.values(fakeSecrets);
function expectNoSecret(text: string, extra: readonly string[] = []): void {
  for (const s of [...SECRETS, ...extra]) expect(text).not.toContain(s);
}

/** Replace `from` (which must occur) by `to` in one rendered file of one node, in place. */
function edit(
  nodes: Record<string, NodeDesired>,
  node: string,
  file: string,
  from: string | RegExp,
  to: string,
) {
  const f = nodes[node]?.files.find((x) => x.path === file);
  if (!f) throw new Error(`test bug: ${node} has no ${file}`);
  const before = f.content;
  f.content = before.replace(from, to);
  if (f.content === before) throw new Error(`test bug: ${String(from)} not in ${node}:${file}`);
}

/** Check after one edit: exactly `name` fails; its detail is returned (and holds no secret). */
function onlyFails(
  patch: Patch | undefined,
  change: (nodes: Record<string, NodeDesired>) => void,
  name: string,
  extraSecrets: readonly string[] = [],
): string {
  const d = deployment(patch);
  expect(failed(checkInvariants(d.spec, d.nodes))).toEqual([]);
  change(d.nodes);
  const results = checkInvariants(d.spec, d.nodes);
  expect(failed(results).map((r) => r.name)).toEqual([name]);
  const detail = detailOf(results, name);
  expectNoSecret(detail, extraSecrets);
  return detail;
}

const FULL = all(release(9646), threeJvbs, colibri, turn, internalAuth(true), xmppWebsocket);

describe("the invariants hold", () => {
  const cases: [string, Patch | undefined][] = [
    ["the paper's deployment (7648)", undefined],
    ["release 9646", release(9646)],
    ["release 8044 (jicofo reads xmpp-domain)", release(8044)],
    ["release 8319 (jvb websockets.domains)", all(release(8319), colibri)],
    ["three bridges at 7648", threeJvbs],
    ["three bridges at 9646", all(release(9646), threeJvbs)],
    ["colibri websockets at 7648 (websockets.domain)", all(threeJvbs, colibri)],
    ["colibri websockets at 9646", all(release(9646), threeJvbs, colibri)],
    ["TURN with a turn node", all(release(9646), turn)],
    ["internal auth with guests", internalAuth(true)],
    ["internal auth without guests", all(release(9646), internalAuth(false))],
    ["XMPP websocket", xmppWebsocket],
    ["everything at once, prosody 13", all(FULL, prosody13)],
  ];
  it.each(cases)("%s", (_, patch) => {
    const { spec, nodes } = deployment(patch);
    const results = checkInvariants(spec, nodes);
    expect(failed(results)).toEqual([]);
  });

  describe.each(JITSI_RELEASES)("every release of the table: $release", (row) => {
    it("the paper's topology, and with monitoring networks", () => {
      expect(failed(check(tableRelease(row)))).toEqual([]);
      expect(failed(check(all(tableRelease(row), monitored)))).toEqual([]);
    });
    it("everything on: three bridges, colibri, TURN, internal auth, XMPP websocket, monitoring", () => {
      expect(failed(check(all(FULL, tableRelease(row), monitored)))).toEqual([]);
    });
  });

  it("the ports' mixed set: jicofo and jvb 9646, plugins and web 10133", () => {
    const results = check(
      all(FULL, monitored, (raw) => {
        (raw.jitsi as Raw).release = { ...PORTS_RELEASE };
      }),
    );
    expect(failed(results)).toEqual([]);
  });

  it("checks every bridge, not just the first", () => {
    const one = check(release(9646));
    const three = check(all(release(9646), threeJvbs));
    for (const name of ["nat", "passwords", "brewery", "auth-domain", "prosody-host", "sctp"]) {
      expect(agreeing(three, name), name).toBeGreaterThan(agreeing(one, name));
    }
    // Five per bridge: public and local address, the host's rdr-to and static-port NAT, the bridge's pf.conf.
    expect(agreeing(three, "nat")).toBe(15);
    expect(agreeing(one, "nat")).toBe(5);
    expect(agreeing(three, "sctp")).toBe(4);
  });

  it("checks TURN and colibri only when they are on, and then every part of them", () => {
    const off = check();
    expect(detailOf(off, "turn")).toContain("TURN off");
    expect(detailOf(off, "colibri-websockets")).toContain("bridgeChannel none");
    const on = check(FULL);
    // Secret, three advertised ports, use-auth-secret, external-ip (2), the client hosts' module (2).
    expect(agreeing(on, "turn")).toBe(9);
    // Per bridge: enabled, tls, domains, unique server-id, proxy_pass host, port; no stale location.
    expect(agreeing(on, "colibri-websockets")).toBe(3 * 6 + 3);
  });
});

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

describe("the readers agree with the real parsers", () => {
  const full = deployment(all(FULL, prosody13));
  const paper = deployment();
  const text = (d: { nodes: Record<string, NodeDesired> }, node: string, file: string) => {
    const f = d.nodes[node]!.files.find((x) => x.path === file)!;
    return f.content;
  };
  const sample = (name: string) => readFileSync(path.join(paperSampleDir(), name), "utf8");

  it("HOCON: jicofo.conf and every jvb.conf (7648, 9646 with colibri) and the paper's files, as Typesafe Config reads them", async () => {
    const texts = [
      text(paper, "jicofo", "/etc/jicofo/jicofo.conf"),
      text(paper, "jvb", "/etc/jvb/jvb.conf"),
      text(full, "jicofo", "/etc/jicofo/jicofo.conf"),
      ...["jvb", "jvb2", "jvb3"].map((n) => text(full, n, "/etc/jvb/jvb.conf")),
      sample("jicofo.conf"),
      sample("jvb.conf"),
    ];
    const real = await checkHoconMany(texts.map((t) => ({ text: t })));
    texts.forEach((t, i) => {
      expect(real[i]!.ok, real[i]!.output).toBe(true);
      expect(parseHocon(t)).toEqual(real[i]!.values);
    });
  });

  it("prosody.cfg.lua: the same sections and values as Lua 5.4 executing the file", async () => {
    const lua = requireTool("lua5.4");
    const texts = [
      text(paper, "xmpp", "/etc/prosody/prosody.cfg.lua"),
      text(full, "xmpp", "/etc/prosody/prosody.cfg.lua"),
      sample("prosody.cfg.lua"),
    ];
    await withTempDir("invariants-lua", async (dir) => {
      await writeFile(path.join(dir, "dump.lua"), LUA_DUMP);
      for (const [i, t] of texts.entries()) {
        const file = path.join(dir, `prosody${i}.cfg.lua`);
        await writeFile(file, t);
        const r = await runProgram(lua, [path.join(dir, "dump.lua"), file]);
        expect(r.code, r.stderr).toBe(0);
        expect(parseProsodyConfig(t)).toEqual(JSON.parse(r.stdout));
      }
    });
  });

  it("config.js: the object node's vm evaluation gives", async () => {
    for (const t of [
      text(paper, "web", "/var/www/jitsi-meet/config.js"),
      text(full, "web", "/var/www/jitsi-meet/config.js"),
      sample("config.js"),
    ]) {
      const real = await checkJs(t);
      expect(real.ok, real.output).toBe(true);
      expect(parseConfigJs(t)).toEqual(real.config);
    }
  });

  it("ksh: the variables mksh sets when it sources jicofo.in.sh and jvb.in.sh", async () => {
    for (const t of [
      text(full, "jicofo", "/etc/jicofo/jicofo.in.sh"),
      text(full, "jvb2", "/etc/jvb/jvb.in.sh"),
      sample("jicofo.in.sh"),
      sample("jvb.in.sh"),
    ]) {
      const real = await shellEnv(t);
      expect(real.ok, real.output).toBe(true);
      expect(parseKshAssignments(t)).toEqual(real.vars);
    }
  });

  it("properties: what java.util.Properties.load returns for sip-communicator.properties", async () => {
    const texts = [
      text(paper, "jvb", "/etc/jvb/sip-communicator.properties"),
      text(full, "jvb3", "/etc/jvb/sip-communicator.properties"),
      sample("sip-communicator.properties"),
    ];
    const real = await checkPropertiesMany(texts.map((t) => ({ text: t })));
    texts.forEach((t, i) => {
      expect(parseProperties(t)).toEqual(real[i]!.properties);
    });
  });
});

// Runs a prosody config the way prosody's config loader does (VirtualHost/Component are functions that open
// a section; Component "x" "module" calls the returned function), then prints the sections as JSON in the
// shape of parseProsodyConfig: tables as { items, fields }.
const LUA_DUMP = String.raw`
local sections = { { kind = "global", name = "", settings = {} } }
local cur = sections[1]
local function open(kind, name)
  cur = { kind = kind, name = name, settings = {} }
  sections[#sections + 1] = cur
  return cur
end
local env = setmetatable({}, {
  __newindex = function(_, k, v) cur.settings[k] = v end,
  __index = function(_, k)
    if k == "VirtualHost" then return function(name) open("VirtualHost", name) end end
    if k == "Component" then
      return function(name)
        local s = open("Component", name)
        return function(module) s.module = module end
      end
    end
    return nil
  end,
})
assert(loadfile(arg[1], "t", env))()
local function esc(s)
  return '"' .. (s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)) .. '"'
end
local function sorted(t)
  local ks = {}
  for k in pairs(t) do if type(k) == "string" then ks[#ks + 1] = k end end
  table.sort(ks)
  return ks
end
local enc
local function object(t)
  local out = {}
  for _, k in ipairs(sorted(t)) do out[#out + 1] = esc(k) .. ":" .. enc(t[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end
enc = function(v)
  local t = type(v)
  if t == "string" then return esc(v) end
  if t == "number" or t == "boolean" then return tostring(v) end
  if t == "table" then
    local items = {}
    for i = 1, #v do items[i] = enc(v[i]) end
    return '{"items":[' .. table.concat(items, ",") .. '],"fields":' .. object(v) .. "}"
  end
  error("cannot encode a " .. t)
end
local out = {}
for i, s in ipairs(sections) do
  local module = s.module and (',"module":' .. esc(s.module)) or ""
  out[i] = '{"kind":' .. esc(s.kind) .. ',"name":' .. esc(s.name) .. module .. ',"settings":' .. object(s.settings) .. "}"
end
print("[" .. table.concat(out, ",") .. "]")
`;

describe("vmmeet validate and vmmeet render report violations", () => {
  let dir: string;
  let specFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-invariants-"));
    specFile = path.join(dir, "vmmeet.yaml");
    await writeFile(specFile, readFileSync(path.join(fixturesDir, "paper-7648.yaml"), "utf8"));
  });
  afterAll(async () => {
    corruption.apply = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    const value: Io = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: {} };
    return { io: value, out, err };
  };
  const breakSctp = (nodes: Record<string, NodeDesired>) =>
    edit(nodes, "jvb", "/etc/jvb/jvb.conf", "sctp {\n    enabled = false", "sctp {\n    enabled = true");

  it("validate: exit 0 on the paper's spec, exit 1 with an 'invariant:' line on a broken render", async () => {
    corruption.apply = undefined;
    const good = io();
    expect(await validateCommand.run([specFile], good.io)).toBe(0);
    expect(good.out.join("")).toContain("valid (4 VMs, release 7648)");
    // The paper's spec has no bridge channel: validate warns about it, and that is all it says.
    expect(good.err.join("")).not.toContain("invariant:");
    expect(good.err.join("")).toMatch(/^([^\n]*: warning: [^\n]*\n)*$/);

    corruption.apply = breakSctp;
    const bad = io();
    expect(await validateCommand.run([specFile], bad.io)).toBe(1);
    expect(bad.out.join("")).toBe("");
    const lines = bad.err
      .join("")
      .trimEnd()
      .split("\n")
      .filter((l) => !l.includes(": warning: "));
    expect(lines[0]).toBe(
      "invariant: sctp: jvb:/etc/jvb/jvb.conf videobridge.sctp.enabled is true but jicofo:/etc/jicofo/jicofo.conf jicofo.sctp.enabled is false (no SCTP on OpenBSD: all must be false)",
    );
    expect(lines[1]).toBe(`${specFile}: the rendered files break 1 cross-file invariant(s)`);

    const json = io();
    expect(await validateCommand.run([specFile, "--json"], json.io)).toBe(1);
    expect(JSON.parse(json.out.join(""))).toMatchObject({ ok: false, invariants: [lines[0]] });
    corruption.apply = undefined;
  });

  it("render: real secrets and CA keep every invariant; a violation is printed without the secret", async () => {
    corruption.apply = undefined;
    const state = path.join(dir, "state");
    const good = io();
    expect(
      await renderCommand.run([specFile, "--out", path.join(dir, "out"), "--state", state], good.io),
    ).toBe(0);
    expect(good.err.join("")).toBe("");

    corruption.apply = (nodes) => {
      const jicofo = nodes.jicofo!.files.find((f) => f.path === "/etc/jicofo/jicofo.conf")!;
      jicofo.content = jicofo.content.replace(/password = "[^"]*"/, 'password = "not-the-password-0123"');
    };
    const bad = io();
    expect(
      await renderCommand.run([specFile, "--out", path.join(dir, "out"), "--state", state], bad.io),
    ).toBe(0);
    const err = bad.err.join("");
    expect(err).toBe(
      "invariant: passwords: jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.client.password differs from xmpp:setup action prosody-user focus@auth.jts.fips.de password\n",
    );
    const secrets = JSON.parse(await readFile(path.join(state, "secrets.json"), "utf8")) as Record<
      string,
      unknown
    >;
    for (const v of Object.values(secrets))
      if (typeof v === "string" && v.length > 8) expect(err).not.toContain(v);
    corruption.apply = undefined;
  });
});
