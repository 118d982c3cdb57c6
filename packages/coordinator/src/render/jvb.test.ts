import { breweryJid, RELEASES, ServiceEntry, serviceRefusal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { fakeSecrets } from "../../../../test/fixtures/material.js";
import {
  envFile as env,
  expectJavaFiles,
  expectJavaLogsAndProbe,
  expectSecretHolders,
  flatHocon as flat,
  withRelease as spec,
} from "../../../../test/helpers/render.js";
import {
  JVB_CONF,
  JVB_ENV,
  JVB_PROPERTIES,
  JVB_TRUSTSTORE,
  jvbLogConfig,
  natInJvbConf,
  renderJvb,
} from "./jvb.js";
import type { RenderInput } from "./types.js";

const MUC = "videobridge.apis.xmpp-client.configs.ourprosody";

/** The paper's topology plus two bridges: one with its own nickname, each on its own UDP port. */
function threeBridges(release: number, more?: (raw: Record<string, unknown>) => void): RenderInput {
  return spec(release, (raw) => {
    (raw.nodes as unknown[]).push(
      { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } },
      { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002, nickname: "bridge-three" } },
    );
    more?.(raw);
  });
}

function renderAll(input: RenderInput) {
  return input.spec.nodes.filter((n) => n.role === "jvb").map((n) => ({ node: n, r: renderJvb(input, n) }));
}

function renderFirst(input: RenderInput) {
  return renderAll(input)[0]!.r;
}

function content(r: ReturnType<typeof renderJvb>, path: string): string {
  const f = r.files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path} rendered`);
  return f.content;
}

function properties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split("\n")) {
    if (l === "" || l.startsWith("#")) continue;
    const i = l.indexOf("=");
    out.set(l.slice(0, i), l.slice(i + 1));
  }
  return out;
}

describe("renderJvb", () => {
  it("renders all five MUC keys the paper's way for 7648", () => {
    const input = spec(7648);
    const conf = flat(content(renderFirst(input), JVB_CONF));
    expect(conf.get(`${MUC}.hostname`)).toBe("100.64.2.3");
    expect(conf.get(`${MUC}.domain`)).toBe("auth.jts.fips.de");
    expect(conf.get(`${MUC}.username`)).toBe("jvb");
    expect(conf.get(`${MUC}.password`)).toBe(fakeSecrets.jvbPassword);
    expect(conf.get(`${MUC}.muc_jids`)).toBe("JvbBrewery@internal.auth.jts.fips.de");
    expect(conf.get(`${MUC}.muc_nickname`)).toBe("jvb");
    expect(conf.get(`${MUC}.disable_certificate_verification`)).toBe(false);
    expect(conf.get("videobridge.apis.xmpp-client.presence-interval")).toBe("120s");
    expect(conf.get("videobridge.sctp.enabled")).toBe(false);
    expect(conf.get("videobridge.ice.udp.port")).toBe(10000);
    expect(conf.get("videobridge.ice.tcp.enabled")).toBe(false);
    expect(conf.get("videobridge.ice.tcp.port")).toBe(443);
    expect(conf.get("ice4j.harvest.use-link-local-addresses")).toBe(false);
  });

  it("renders exactly one NAT mechanism: properties up to 7648, jvb.conf static-mappings after", () => {
    expect(natInJvbConf(RELEASES.paper)).toBe(false);
    expect(natInJvbConf(RELEASES.paper + 1)).toBe(true);
    const old = renderFirst(spec(RELEASES.paper));
    expect(Object.fromEntries(properties(content(old, JVB_PROPERTIES)))).toEqual({
      "org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS": "100.64.4.3",
      "org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS": "87.253.170.146",
      "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER": "true",
    });
    expect(content(old, JVB_CONF)).not.toMatch(/mapping|static-mappings|aws/);
    for (const release of [RELEASES.jicofoXmppDomain, RELEASES.jvbWebsocketDomains, RELEASES.current]) {
      const r = renderFirst(spec(release));
      expect(properties(content(r, JVB_PROPERTIES)).size).toBe(0);
      const conf = flat(content(r, JVB_CONF));
      expect(conf.get("ice4j.harvest.mapping.aws.enabled")).toBe(false);
      const mappings = conf.get("ice4j.harvest.mapping.static-mappings");
      expect(mappings).toContain('local-address = "100.64.4.3"');
      expect(mappings).toContain('public-address = "87.253.170.146"');
      expect(content(r, JVB_CONF)).not.toContain("NAT_HARVESTER");
    }
  });

  it("renders ice.tcp only before 9646", () => {
    expect(content(renderFirst(spec(RELEASES.jvbWebsocketDomains)), JVB_CONF)).toMatch(/^\s+tcp \{$/m);
    const conf = flat(content(renderFirst(spec(RELEASES.current)), JVB_CONF));
    expect([...conf.keys()].filter((k) => k.startsWith("videobridge.ice.tcp"))).toEqual([]);
    expect(conf.get("videobridge.ice.udp.port")).toBe(10000);
  });

  it("renders colibri websockets with domain before 8319 and domains from 8319 on", () => {
    const ws = (release: number) =>
      flat(
        content(
          renderFirst(
            spec(release, (raw) => {
              raw.bridgeChannel = "colibri-websocket";
            }),
          ),
          JVB_CONF,
        ),
      );
    const before = ws(RELEASES.jicofoXmppDomain);
    expect(before.get("videobridge.websockets.domain")).toBe("jts.fips.de");
    expect(before.has("videobridge.websockets.domains")).toBe(false);
    const after = ws(RELEASES.jvbWebsocketDomains);
    expect(after.get("videobridge.websockets.domains")).toEqual(["jts.fips.de"]);
    expect(after.has("videobridge.websockets.domain")).toBe(false);
    for (const c of [before, after]) {
      expect(c.get("videobridge.websockets.enabled")).toBe(true);
      expect(c.get("videobridge.websockets.tls")).toBe(true);
      expect(c.get("videobridge.websockets.server-id")).toBe("jvb");
      expect(c.get("videobridge.http-servers.public.port")).toBe(9090);
    }
    const none = flat(content(renderFirst(spec(RELEASES.current)), JVB_CONF));
    // Without colibri websockets only the private server's (loopback) host is rendered.
    expect([...none.keys()].filter((k) => /websockets|http-servers/.test(k))).toEqual([
      "videobridge.http-servers.private.host",
    ]);
  });

  it("listens for monitoring on every address exactly when monitorNetworks lets a network in", () => {
    for (const release of [RELEASES.paper, RELEASES.current, 11146]) {
      // (11146 needs Java 17: the spec says so)
      const java17 = (raw: Record<string, unknown>) => {
        (raw.jitsi as Record<string, unknown>).java = 17;
      };
      const plain = flat(content(renderFirst(spec(release, java17)), JVB_CONF));
      expect(plain.get("videobridge.http-servers.private.host")).toBe("127.0.0.1");
      const monitored = flat(
        content(
          renderFirst(
            spec(release, (raw) => {
              java17(raw);
              raw.host = { ...(raw.host as Record<string, unknown>), monitorNetworks: ["198.51.100.0/24"] };
            }),
          ),
          JVB_CONF,
        ),
      );
      expect(monitored.get("videobridge.http-servers.private.host")).toBe("0.0.0.0");
      // The port stays jicoco's default, the one pf opens (JVB_PRIVATE_HTTP_PORT).
      expect(monitored.has("videobridge.http-servers.private.port")).toBe(false);
    }
  });

  it("gives three bridges distinct nicknames, ports and NAT addresses and one brewery", () => {
    for (const release of [RELEASES.paper, RELEASES.current]) {
      const input = threeBridges(release, (raw) => {
        raw.bridgeChannel = "colibri-websocket";
      });
      const all = renderAll(input);
      expect(all).toHaveLength(3);
      const confs = all.map(({ r }) => flat(content(r, JVB_CONF)));
      expect(confs.map((c) => c.get(`${MUC}.muc_nickname`))).toEqual(["jvb", "jvb2", "bridge-three"]);
      expect(confs.map((c) => c.get("videobridge.websockets.server-id"))).toEqual([
        "jvb",
        "jvb2",
        "bridge-three",
      ]);
      expect(confs.map((c) => c.get("videobridge.ice.udp.port"))).toEqual([10000, 10001, 10002]);
      for (const c of confs) expect(c.get(`${MUC}.muc_jids`)).toBe(breweryJid(input.spec));
      const locals = all.map(({ r }) =>
        release === RELEASES.paper
          ? properties(content(r, JVB_PROPERTIES)).get("org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS")
          : /local-address = "([^"]+)"/.exec(content(r, JVB_CONF))?.[1],
      );
      expect(locals).toEqual(["100.64.4.3", "100.64.5.3", "100.64.6.3"]);
    }
  });

  it("renders the launcher environment, logging.properties moving at 9646", () => {
    expect(jvbLogConfig(RELEASES.current - 1)).toBe("/usr/local/share/jvb/lib/logging.properties");
    expect(jvbLogConfig(RELEASES.current)).toBe("/etc/jvb/logging.properties");
    const input = spec(RELEASES.current, (raw) => {
      const nodes = raw.nodes as Record<string, unknown>[];
      nodes.find((n) => n.role === "jvb")!.jvb = { maxMemory: "2G" };
    });
    expect(Object.fromEntries(env(content(renderFirst(input), JVB_ENV)))).toEqual({
      JVB_CONF: "/etc/jvb/jvb.conf",
      JVB_LOG_CONFIG: "/etc/jvb/logging.properties",
      JVB_TRUSTSTORE: "/etc/ssl/jvb-key.store",
      JVB_TRUSTSTORE_PASSWORD: fakeSecrets.truststorePassword,
      JVB_MAXMEM: "2G",
      JVB_DHKEYSIZE: "2048",
      JVB_GC_TYPE: "G1GC",
      JVB_SC_HOME_LOCATION: "/etc",
      JVB_SC_HOME_NAME: "jvb",
      JAVA_SYS_PROPS: "",
    });
  });

  it("sets modes, owners, notify and valid entries; secrets only where they belong", () => {
    const r = renderFirst(spec(RELEASES.paper));
    expect(r.files.map((f) => f.path).sort()).toEqual(
      [JVB_CONF, JVB_ENV, JVB_PROPERTIES, JVB_TRUSTSTORE].sort(),
    );
    expectJavaFiles(r, "jvb");
    expectSecretHolders(r, { jvbPassword: [JVB_CONF], truststorePassword: [JVB_ENV] });
    expect(Object.fromEntries(r.files.map((f) => [f.path, f.secret]))).toEqual({
      [JVB_CONF]: true,
      [JVB_ENV]: true,
      [JVB_PROPERTIES]: false,
      [JVB_TRUSTSTORE]: false,
    });
    for (const s of r.services) {
      expect(ServiceEntry.parse(s)).toEqual({ name: "jvb", flags: null, order: 20, graceSeconds: 90 });
      expect(serviceRefusal("jvb", s.name)).toBeNull();
    }
    expectJavaLogsAndProbe(r, "jvb", 8080);
  });

  it("is deterministic", () => {
    const a = renderAll(threeBridges(RELEASES.current));
    const b = renderAll(threeBridges(RELEASES.current));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it("refuses a node of another role, naming its spec path", () => {
    const input = spec(7648);
    expect(() => renderJvb(input, input.spec.nodes[0]!)).toThrow(/^nodes\[0\]\.role: /);
  });
});
