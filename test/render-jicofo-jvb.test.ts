// The jicofo, jvb and turn renderers against the paper's real files and the real parsers: Typesafe Config
// (HOCON), java.util.Properties, mksh (ksh env files) and Lua 5.4 (prosody's config, for the TURN
// invariants). A missing program makes these tests fail with MissingToolError; they never skip.
import { readFileSync } from "node:fs";
import path from "node:path";
import { type NodeSpec, RELEASES, releaseOf } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { JICOFO_CONF, JICOFO_ENV, renderJicofo } from "../packages/coordinator/src/render/jicofo.js";
import { JVB_CONF, JVB_ENV, JVB_PROPERTIES, renderJvb } from "../packages/coordinator/src/render/jvb.js";
import { renderTurn, TURN_CONF } from "../packages/coordinator/src/render/turn.js";
import type { ComponentRender, RenderInput } from "../packages/coordinator/src/render/types.js";
import { renderXmpp, XMPP_PATHS } from "../packages/coordinator/src/render/xmpp.js";
import { fakeInput, fakeSecrets } from "./fixtures/material.js";
import {
  checkHoconMany,
  checkKsh,
  checkPropertiesMany,
  paperSampleDir,
  prosodySections,
  shellEnv,
} from "./validators/index.js";

const sample = (name: string) => readFileSync(path.join(paperSampleDir(), name), "utf8");

function content(r: ComponentRender, p: string): string {
  const f = r.files.find((x) => x.path === p);
  if (!f) throw new Error(`no ${p} rendered`);
  return f.content;
}

function nodesOf(input: RenderInput, role: NodeSpec["role"]): NodeSpec[] {
  return input.spec.nodes.filter((n) => n.role === role);
}

/** Resolved HOCON values as dotted path -> leaf (lists are leaves). */
function flatten(value: unknown, prefix = "", out = new Map<string, unknown>()): Map<string, unknown> {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === "" ? k : `${prefix}.${k}`, out);
  } else out.set(prefix, value);
  return out;
}

const ABSENT = Symbol("absent");
type Difference = { paper: unknown; rendered: unknown; reason: string };

/**
 * Every setting of the paper's file must come out equal after parsing, except the deliberate differences
 * listed (with what vmmeet renders instead); every setting vmmeet adds must be listed as well.
 */
function compareSettings(
  paper: Map<string, unknown>,
  rendered: Map<string, unknown>,
  differences: Record<string, Difference>,
): void {
  const problems: string[] = [];
  const keys = new Set([...paper.keys(), ...rendered.keys()]);
  for (const k of [...keys].sort()) {
    const p = paper.has(k) ? paper.get(k) : ABSENT;
    const r = rendered.has(k) ? rendered.get(k) : ABSENT;
    const d = differences[k];
    if (d) {
      if (!isEqual(p, d.paper))
        problems.push(`${k}: the paper has ${show(p)}, the difference list says ${show(d.paper)}`);
      if (!isEqual(r, d.rendered))
        problems.push(`${k}: rendered ${show(r)}, expected ${show(d.rendered)} (${d.reason})`);
    } else if (!isEqual(p, r)) {
      problems.push(`${k}: paper ${show(p)} != rendered ${show(r)} and not a listed difference`);
    }
  }
  for (const k of Object.keys(differences))
    if (!keys.has(k)) problems.push(`${k}: listed but in neither file`);
  expect(problems).toEqual([]);
}

function isEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b) && typeof a === typeof b;
}

function show(v: unknown): string {
  return v === ABSENT ? "(absent)" : JSON.stringify(v);
}

// The generated secrets replace the paper's placeholders everywhere.
const SECRET_REASON = "a generated secret instead of the paper's placeholder";
// The paper points jicofo and jvb at prosody by name; the xmpp VM's address needs neither DNS nor
// /etc/hosts. Certificate checks compare the XMPP domain (auth.DOMAIN), not the connect host.
const HOST_REASON =
  "the xmpp VM's address: resolvable without DNS (the paper's name needs /etc/hosts or DNS)";

const JICOFO_DIFFERENCES: Record<string, Difference> = {
  "jicofo.xmpp.client.hostname": {
    paper: "auth.jts.fips.de",
    rendered: "100.64.2.3",
    reason: `${HOST_REASON}; auth.jts.fips.de resolves nowhere, the paper works only because --host wins up to 7648`,
  },
  "jicofo.xmpp.client.password": {
    paper: "CHANGE_FOCUS",
    rendered: fakeSecrets.focusPassword,
    reason: SECRET_REASON,
  },
  "jicofo.authentication.type": {
    paper: "SHIBBOLETH",
    rendered: ABSENT,
    reason: "authentication is disabled on an anonymous site; internal auth renders type XMPP",
  },
  "jicofo.rest.tls-port": {
    paper: 8843,
    rendered: ABSENT,
    reason:
      "jicofo serves REST over TLS only with a key store, which neither the paper nor vmmeet configures",
  },
  "jicofo.rest.host": {
    paper: ABSENT,
    rendered: "127.0.0.1",
    reason:
      "the paper's pf opens no monitoring port to jicofo: loopback, said explicitly (jicofo's own default " +
      "was every address until 10314); with host.monitorNetworks it is 0.0.0.0, where pf lets them in",
  },
};

const JVB_DIFFERENCES: Record<string, Difference> = {
  "videobridge.apis.xmpp-client.configs.ourprosody.hostname": {
    paper: "xmpp",
    rendered: "100.64.2.3",
    reason: HOST_REASON,
  },
  "videobridge.apis.xmpp-client.configs.ourprosody.password": {
    paper: "CHANGE_JVB",
    rendered: fakeSecrets.jvbPassword,
    reason: SECRET_REASON,
  },
  "videobridge.apis.xmpp-client.configs.ourprosody.disable_certificate_verification": {
    paper: true,
    rendered: false,
    reason: "the truststore holds the deployment CA that signed prosody's auth.DOMAIN certificate",
  },
  "videobridge.http-servers.private.host": {
    paper: ABSENT,
    rendered: "127.0.0.1",
    reason:
      "jicoco's default, said explicitly: with host.monitorNetworks it is 0.0.0.0, so that pf's 8080 rule " +
      "reaches a listener (the paper's monitoring rule opened a port nothing listened on)",
  },
};

const ENV_DIFFERENCES = (prefix: string): Record<string, Difference> => ({
  [`${prefix}_TRUSTSTORE_PASSWORD`]: {
    paper: "jitsicool",
    rendered: fakeSecrets.truststorePassword,
    reason: SECRET_REASON,
  },
  JAVA_SYS_PROPS: {
    paper: ABSENT,
    rendered: "",
    reason:
      'the paper\'s listing sets JAVA_SYS_PROPS="" (its testing-config file leaves it out): no extra properties',
  },
});

const MUC_KEYS = ["hostname", "domain", "username", "password", "muc_jids", "muc_nickname"];

describe("the paper's files, rendered from test/fixtures/paper-7648.yaml", () => {
  const input = fakeInput("paper-7648.yaml");
  const jicofo = renderJicofo(input, nodesOf(input, "jicofo")[0]!);
  const jvb = renderJvb(input, nodesOf(input, "jvb")[0]!);

  it("jicofo.conf and jvb.conf: every setting equal after Typesafe Config parsing, or a listed difference", async () => {
    const [paperJicofo, ourJicofo, paperJvb, ourJvb] = await checkHoconMany([
      { text: sample("jicofo.conf") },
      { text: content(jicofo, JICOFO_CONF), options: { require: ["jicofo.bridge.brewery-jid"] } },
      { text: sample("jvb.conf") },
      {
        text: content(jvb, JVB_CONF),
        options: { require: MUC_KEYS.map((k) => `videobridge.apis.xmpp-client.configs.ourprosody.${k}`) },
      },
    ]);
    for (const r of [paperJicofo, ourJicofo, paperJvb, ourJvb]) expect(r!.output).toBe("ok");
    compareSettings(flatten(paperJicofo!.values), flatten(ourJicofo!.values), JICOFO_DIFFERENCES);
    compareSettings(flatten(paperJvb!.values), flatten(ourJvb!.values), JVB_DIFFERENCES);
  });

  it("sip-communicator.properties: the same three properties, read by java.util.Properties", async () => {
    const [paper, ours] = await checkPropertiesMany([
      { text: sample("sip-communicator.properties") },
      { text: content(jvb, JVB_PROPERTIES) },
    ]);
    expect(paper!.ok).toBe(true);
    expect(ours!.output).not.toMatch(/WARNING/);
    expect(ours!.ok).toBe(true);
    expect(ours!.properties).toEqual(paper!.properties);
    expect(Object.keys(ours!.properties)).toHaveLength(3);
  });

  it("jicofo.in.sh and jvb.in.sh: the same variables after sourcing with mksh, or a listed difference", async () => {
    for (const [name, r, p, prefix] of [
      ["jicofo.in.sh", jicofo, JICOFO_ENV, "JICOFO"],
      ["jvb.in.sh", jvb, JVB_ENV, "JVB"],
    ] as const) {
      const paper = await shellEnv(sample(name), { name });
      const ours = await shellEnv(content(r, p), { name });
      expect(paper.ok, paper.output).toBe(true);
      expect(ours.ok, ours.output).toBe(true);
      compareSettings(
        new Map(Object.entries(paper.vars)),
        new Map(Object.entries(ours.vars)),
        ENV_DIFFERENCES(prefix),
      );
    }
  });
});

interface Scenario {
  title: string;
  input: RenderInput;
}

const scenarios: Scenario[] = [
  { title: "7648 (the paper)", input: fakeInput("paper-7648.yaml") },
  {
    title: "9646 (current OpenBSD packages)",
    input: fakeInput("paper-7648.yaml", (raw) => {
      (raw.jitsi as Record<string, unknown>).release = 9646;
    }),
  },
  {
    title: "7648 with three bridges",
    input: fakeInput("paper-7648.yaml", (raw) => addBridges(raw)),
  },
  {
    title: "9646 with three bridges, colibri websockets and internal auth",
    input: fakeInput("paper-7648.yaml", (raw) => {
      (raw.jitsi as Record<string, unknown>).release = 9646;
      raw.bridgeChannel = "colibri-websocket";
      raw.auth = { mode: "internal", guests: true };
      addBridges(raw);
    }),
  },
];

function addBridges(raw: Record<string, unknown>): void {
  (raw.nodes as unknown[]).push(
    { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } },
    { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002, nickname: "bridge-three" } },
  );
}

describe.each(scenarios)("rendered files pass the real parsers: $title", ({ input }) => {
  const release = releaseOf(input.spec, "jicofo");
  const jicofo = renderJicofo(input, nodesOf(input, "jicofo")[0]!);
  const bridges = nodesOf(input, "jvb").map((node) => ({ node, r: renderJvb(input, node) }));

  it("jicofo.conf and every jvb.conf parse with their required keys; both sides agree", async () => {
    const jicofoRequire = [
      "jicofo.bridge.brewery-jid",
      "jicofo.sctp.enabled",
      "jicofo.xmpp.client.hostname",
      "jicofo.xmpp.client.domain",
      "jicofo.xmpp.client.username",
      "jicofo.xmpp.client.password",
      ...(release >= RELEASES.jicofoXmppDomain ? ["jicofo.xmpp.client.xmpp-domain"] : []),
    ];
    const [j, ...jvbs] = await checkHoconMany([
      { text: content(jicofo, JICOFO_CONF), options: { require: jicofoRequire } },
      ...bridges.map(({ r }) => ({
        text: content(r, JVB_CONF),
        options: { require: MUC_KEYS.map((k) => `videobridge.apis.xmpp-client.configs.ourprosody.${k}`) },
      })),
    ]);
    expect(j!.output).toBe("ok");
    const jv = flatten(j!.values);
    expect(jv.get("jicofo.sctp.enabled")).toBe(false);
    if (release < RELEASES.jicofoXmppDomain) expect(jv.has("jicofo.xmpp.client.xmpp-domain")).toBe(false);
    const brewery = String(jv.get("jicofo.bridge.brewery-jid"));
    const seen = { nick: new Set<string>(), port: new Set<number>() };
    for (const [i, res] of jvbs.entries()) {
      expect(res!.output).toBe("ok");
      const values = res!.values as {
        videobridge: { apis: { "xmpp-client": { configs: Record<string, Record<string, unknown>> } } };
      };
      // Every MUC config jvb would see must be complete, or jvb drops it silently.
      const configs = Object.values(values.videobridge.apis["xmpp-client"].configs);
      expect(configs.length).toBeGreaterThan(0);
      for (const c of configs) {
        for (const k of MUC_KEYS) expect(typeof c[k], k).toBe("string");
        // MUC JIDs compare case-insensitively (nodeprep); vmmeet renders the same string anyway.
        expect(String(c["muc_jids"]).toLowerCase()).toBe(brewery.toLowerCase());
        seen.nick.add(String(c["muc_nickname"]).toLowerCase());
      }
      const v = flatten(res!.values);
      expect(v.get("videobridge.sctp.enabled")).toBe(false);
      seen.port.add(Number(v.get("videobridge.ice.udp.port")));
      expect(v.has("videobridge.ice.tcp.enabled")).toBe(release < RELEASES.current);
      const node = bridges[i]!.node;
      if (input.spec.bridgeChannel === "colibri-websocket") {
        expect(v.get("videobridge.websockets.server-id")).toBe(String(configs[0]!["muc_nickname"]));
        expect(v.get("videobridge.http-servers.public.port")).toBe(9090);
      }
      const mappings = v.get("ice4j.harvest.mapping.static-mappings");
      if (release > RELEASES.paper) {
        expect(mappings).toEqual([
          { "local-address": node.address, "public-address": input.spec.publicAddress },
        ]);
        expect(v.get("ice4j.harvest.mapping.aws.enabled")).toBe(false);
      } else expect(mappings).toBeUndefined();
    }
    expect(seen.nick.size).toBe(bridges.length);
    expect(seen.port.size).toBe(bridges.length);
  });

  it("sip-communicator.properties: readable without warnings, NAT keys exactly when jvb.conf has none", async () => {
    const results = await checkPropertiesMany(bridges.map(({ r }) => ({ text: content(r, JVB_PROPERTIES) })));
    for (const [i, res] of results.entries()) {
      expect(res.output).not.toMatch(/WARNING/);
      expect(res.ok).toBe(true);
      const node = bridges[i]!.node;
      expect(res.properties).toEqual(
        release > RELEASES.paper
          ? {}
          : {
              "org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS": node.address,
              "org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS": input.spec.publicAddress,
              "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER": "true",
            },
      );
    }
  });

  it("jicofo.in.sh and jvb.in.sh pass mksh -n and source to the expected variables", async () => {
    const files = [
      { name: "jicofo.in.sh", text: content(jicofo, JICOFO_ENV), prefix: "JICOFO" },
      ...bridges.map(({ r }) => ({ name: "jvb.in.sh", text: content(r, JVB_ENV), prefix: "JVB" })),
    ];
    for (const f of files) {
      const syntax = await checkKsh(f.text, { name: f.name });
      expect(syntax.ok, syntax.output).toBe(true);
      const env = await shellEnv(f.text, { name: f.name });
      expect(env.ok, env.output).toBe(true);
      expect(env.vars[`${f.prefix}_TRUSTSTORE_PASSWORD`]).toBe(fakeSecrets.truststorePassword);
      expect(env.vars[`${f.prefix}_CONF`]).toBe(
        f.prefix === "JICOFO" ? "/etc/jicofo/jicofo.conf" : "/etc/jvb/jvb.conf",
      );
      expect(env.vars[`${f.prefix}_LOG_CONFIG`]).toMatch(
        release >= RELEASES.current ? /^\/etc\/(jicofo|jvb)\/logging\.properties$/ : /^\/usr\/local\/share\//,
      );
      expect(env.vars["JAVA_SYS_PROPS"]).toBe("");
    }
  });
});

describe("turnserver.conf agrees with prosody's mod_external_services", () => {
  const input = fakeInput("paper-7648.yaml", (raw) => {
    (raw.jitsi as Record<string, unknown>).release = 9646;
    raw.turn = { enabled: true, port: 3479, tlsPort: 5350 };
    (raw.nodes as unknown[]).push({ name: "turn", role: "turn", address: "100.64.7.3" });
  });

  it("has prosody's secret, ports and host as coturn's static-auth-secret, ports and realm", async () => {
    const prosody = content(renderXmpp(input, nodesOf(input, "xmpp")[0]!), XMPP_PATHS.config);
    const turn = content(renderTurn(input, nodesOf(input, "turn")[0]!), TURN_CONF);
    const options = new Map<string, string[]>();
    for (const l of turn.split("\n")) {
      if (l === "" || l.startsWith("#")) continue;
      const i = l.indexOf("=");
      const [k, v] = i < 0 ? [l, ""] : [l.slice(0, i), l.slice(i + 1)];
      options.set(k, [...(options.get(k) ?? []), v]);
    }
    const global = (await prosodySections(prosody)).find((x) => x.head === "global")!.options;
    expect(global["external_service_secret"]).toBe(fakeSecrets.turnSecret);
    expect(options.get("static-auth-secret")).toEqual([global["external_service_secret"]]);
    expect(options.has("use-auth-secret")).toBe(true);
    const services = global["external_services"] as {
      type: string;
      host: string;
      port: number;
      transport?: string;
    }[];
    expect(services.map((s) => s.type).sort()).toEqual(["stun", "turn", "turns"]);
    for (const s of services) {
      // Clients reach the relay at the site's name: coturn's realm and the host prosody advertises.
      expect(s.host).toBe(input.spec.domain);
      expect(options.get(s.type === "turns" ? "tls-listening-port" : "listening-port")).toEqual([
        String(s.port),
      ]);
    }
    // turn over udp only: coturn has no plain TCP listener.
    expect(services.find((s) => s.type === "turn")?.transport).toBe("udp");
    expect(options.has("no-tcp")).toBe(true);
    expect(options.get("realm")).toEqual([input.spec.domain]);
    expect(options.get("external-ip")).toEqual([`${input.spec.publicAddress}/100.64.7.3`]);
  });
});
