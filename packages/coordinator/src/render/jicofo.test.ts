import { RELEASES, ServiceEntry, serviceRefusal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { fakeSecrets } from "../../../../test/fixtures/material.js";
import {
  envFile as env,
  expectJavaFiles,
  expectJavaLogsAndProbe,
  expectSecretHolders,
  flatHocon as flat,
  withRelease,
} from "../../../../test/helpers/render.js";
import { JICOFO_CONF, JICOFO_ENV, JICOFO_TRUSTSTORE, jicofoLogConfig, renderJicofo } from "./jicofo.js";
import type { RenderInput } from "./types.js";

/** Releases from 11031 on need Java 17: the spec says so. */
const java17 = (raw: Record<string, unknown>) => {
  (raw.jitsi as Record<string, unknown>).java = 17;
};

function render(input: RenderInput) {
  const node = input.spec.nodes.find((n) => n.role === "jicofo")!;
  return renderJicofo(input, node);
}

function file(input: RenderInput, path: string) {
  const f = render(input).files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path} rendered`);
  return f;
}

describe("renderJicofo", () => {
  it("renders the paper's settings for 7648 with --host and without the 8044 keys", () => {
    const input = withRelease(7648);
    const conf = flat(file(input, JICOFO_CONF).content);
    expect(conf.get("jicofo.bridge.brewery-jid")).toBe("JvbBrewery@internal.auth.jts.fips.de");
    expect(conf.get("jicofo.bridge.xmpp-connection-name")).toBe("Client");
    expect(conf.get("jicofo.sctp.enabled")).toBe(false);
    expect(conf.get("jicofo.xmpp.client.hostname")).toBe("100.64.2.3");
    expect(conf.get("jicofo.xmpp.client.port")).toBe(5222);
    expect(conf.get("jicofo.xmpp.client.domain")).toBe("auth.jts.fips.de");
    expect(conf.get("jicofo.xmpp.client.username")).toBe("focus");
    expect(conf.get("jicofo.xmpp.client.password")).toBe(fakeSecrets.focusPassword);
    expect(conf.get("jicofo.xmpp.client.use-tls")).toBe(true);
    expect(conf.get("jicofo.xmpp.client.disable-certificate-verification")).toBe(false);
    expect(conf.get("jicofo.xmpp.trusted-domains")).toEqual(["auth.jts.fips.de"]);
    expect(conf.get("jicofo.rest.port")).toBe(8888);
    expect(conf.get("jicofo.authentication.enabled")).toBe(false);
    expect(conf.has("jicofo.authentication.type")).toBe(false);
    for (const k of ["xmpp-domain", "conference-muc-jid", "client-proxy"])
      expect(conf.has(`jicofo.xmpp.client.${k}`)).toBe(false);
    const [service] = render(input).services;
    expect(service).toEqual({ name: "jicofo", flags: "--host=jts.fips.de", order: 20, graceSeconds: 90 });
  });

  it("adds xmpp-domain, conference-muc-jid and client-proxy from 8044 on, keeping --host", () => {
    const before = flat(file(withRelease(RELEASES.paper), JICOFO_CONF).content);
    expect(before.has("jicofo.xmpp.client.xmpp-domain")).toBe(false);
    for (const release of [RELEASES.jicofoXmppDomain, 8319, RELEASES.current]) {
      const input = withRelease(release);
      const conf = flat(file(input, JICOFO_CONF).content);
      expect(conf.get("jicofo.xmpp.client.xmpp-domain")).toBe("jts.fips.de");
      expect(conf.get("jicofo.xmpp.client.conference-muc-jid")).toBe("conference.jts.fips.de");
      expect(conf.get("jicofo.xmpp.client.client-proxy")).toBe("focus.jts.fips.de");
      expect(conf.get("jicofo.xmpp.client.domain")).toBe("auth.jts.fips.de");
      // The port's wrapper still exits without arguments (docs/openbsd-rc.md section 3).
      expect(render(input).services[0]?.flags).toBe("--host=jts.fips.de");
    }
  });

  it("moves logging.properties to /etc/jicofo at 9646", () => {
    expect(jicofoLogConfig(RELEASES.paper)).toBe("/usr/local/share/jicofo/lib/logging.properties");
    expect(jicofoLogConfig(8319)).toBe("/usr/local/share/jicofo/lib/logging.properties");
    expect(jicofoLogConfig(RELEASES.current)).toBe("/etc/jicofo/logging.properties");
    const e = env(file(withRelease(RELEASES.current), JICOFO_ENV).content);
    expect(e.get("JICOFO_LOG_CONFIG")).toBe("/etc/jicofo/logging.properties");
  });

  it("REST (8888) on every address exactly when monitorNetworks lets a network in, else loopback", () => {
    // Until 10314 jicofo's own default was every address, from then on 127.0.0.1 (jicofo 486d8387a):
    // rendered for each, so that the listener matches pf whatever the release's default.
    for (const release of [RELEASES.paper, RELEASES.current, 10314, 11146]) {
      const plain = flat(file(withRelease(release, java17), JICOFO_CONF).content);
      expect(plain.get("jicofo.rest.host")).toBe("127.0.0.1");
      const monitored = withRelease(release, (raw) => {
        java17(raw);
        raw.host = { ...(raw.host as Record<string, unknown>), monitorNetworks: ["198.51.100.7/32"] };
      });
      const conf = flat(file(monitored, JICOFO_CONF).content);
      expect(conf.get("jicofo.rest.host")).toBe("0.0.0.0");
      expect(conf.get("jicofo.rest.port")).toBe(8888);
    }
  });

  it("renders internal authentication as type XMPP on the domain", () => {
    const input = withRelease(RELEASES.current, (raw) => {
      raw.auth = { mode: "internal", guests: true };
    });
    const conf = flat(file(input, JICOFO_CONF).content);
    expect(conf.get("jicofo.authentication.enabled")).toBe(true);
    expect(conf.get("jicofo.authentication.type")).toBe("XMPP");
    expect(conf.get("jicofo.authentication.login-url")).toBe("jts.fips.de");
  });

  it("renders the launcher environment with the truststore and memory", () => {
    const e = env(file(withRelease(7648), JICOFO_ENV).content);
    expect(Object.fromEntries(e)).toEqual({
      JICOFO_CONF: "/etc/jicofo/jicofo.conf",
      JICOFO_LOG_CONFIG: "/usr/local/share/jicofo/lib/logging.properties",
      JICOFO_TRUSTSTORE: "/etc/ssl/jicofo-key.store",
      JICOFO_TRUSTSTORE_PASSWORD: fakeSecrets.truststorePassword,
      JICOFO_MAXMEM: "3G",
      JICOFO_DHKEYSIZE: "2048",
      JAVA_SYS_PROPS: "",
    });
    const big = withRelease(7648, (raw) => {
      const nodes = raw.nodes as Record<string, unknown>[];
      nodes.find((n) => n.role === "jicofo")!.jicofo = { maxMemory: "6G" };
    });
    expect(env(file(big, JICOFO_ENV).content).get("JICOFO_MAXMEM")).toBe("6G");
  });

  it("ships the truststore as base64 bytes", () => {
    const input = withRelease(7648);
    const f = file(input, JICOFO_TRUSTSTORE);
    expect(f.encoding).toBe("base64");
    expect(f.content).toBe(input.pki.truststoreP12Base64);
  });

  it("sets modes, owners, notify and valid entries on every file", () => {
    const r = render(withRelease(RELEASES.current));
    expect(r.files.map((f) => f.path).sort()).toEqual([JICOFO_ENV, JICOFO_CONF, JICOFO_TRUSTSTORE].sort());
    expectJavaFiles(r, "jicofo");
    for (const s of r.services) {
      ServiceEntry.parse(s);
      expect(serviceRefusal("jicofo", s.name)).toBeNull();
    }
    expectJavaLogsAndProbe(r, "jicofo", 8888);
  });

  it("puts each secret only where it belongs and marks those files secret", () => {
    const r = render(withRelease(RELEASES.current));
    expectSecretHolders(r, { focusPassword: [JICOFO_CONF], truststorePassword: [JICOFO_ENV] });
    expect(Object.fromEntries(r.files.map((f) => [f.path, f.secret]))).toEqual({
      [JICOFO_CONF]: true,
      [JICOFO_ENV]: true,
      [JICOFO_TRUSTSTORE]: false,
    });
    const outside = JSON.stringify({ ...r, files: [] });
    for (const s of Object.values(fakeSecrets)) expect(outside).not.toContain(s);
  });

  it("is deterministic", () => {
    const a = render(withRelease(8044));
    const b = render(withRelease(8044));
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it("refuses a node of another role, naming its spec path", () => {
    const input = withRelease(7648);
    const jvb = input.spec.nodes.find((n) => n.role === "jvb")!;
    expect(() => renderJicofo(input, jvb)).toThrow(/^nodes\[3\]\.role: /);
  });
});
