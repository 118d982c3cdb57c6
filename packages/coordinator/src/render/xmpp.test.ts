import { serviceRefusal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { fakeInput, fakePki, fakeSecrets } from "../../../../test/fixtures/material.js";
import { itRendersStableFiles, type Patch, type Raw, renderRole } from "../../../../test/helpers/render.js";
import { renderSystem } from "./system.js";
import type { RenderInput } from "./types.js";
import { authTlsPaths, renderXmpp, XMPP_PATHS } from "./xmpp.js";

function render(patch?: Patch, input?: RenderInput) {
  const r = renderRole("xmpp", renderXmpp, patch, input);
  const cfg = r.out.files.find((f) => f.path === XMPP_PATHS.config)!;
  return { ...r, cfg, sections: sections(cfg.content) };
}

/**
 * prosody.cfg.lua split into its sections: "global", then one per `VirtualHost "x"` / `Component "x" "m"`
 * line (the key is that line), comments removed. Enough structure for unit tests; the cross-package test
 * parses the Lua properly.
 */
function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let key = "global";
  let body: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\s*--.*$/, "");
    if (/^(VirtualHost|Component) /.test(line)) {
      out.set(key, body.join("\n"));
      key = line.trim();
      body = [];
    } else if (line.trim().length > 0) body.push(line);
  }
  out.set(key, body.join("\n"));
  return out;
}

/** The right-hand side of a one-line `key = value` in a section. */
function opt(section: string | undefined, key: string): string | undefined {
  return new RegExp(`^\\s*${key} = (.*?);?$`, "m").exec(section ?? "")?.[1];
}

/** The quoted strings of a `key = { ... }` list in a section (one line or several). */
function list(section: string | undefined, key: string): string[] | undefined {
  const m = new RegExp(`^\\s*${key} = \\{([^}]*)\\}`, "m").exec(section ?? "");
  return m ? [...m[1]!.matchAll(/"([^"]*)"/g)].map((x) => x[1]!) : undefined;
}

const withTurn: Patch = (raw) => {
  raw["turn"] = { enabled: true };
  (raw["nodes"] as Raw[]).push({ name: "turn", role: "turn", address: "100.64.7.3" });
};

describe("renderXmpp: the paper's topology (prosody 0.12)", () => {
  const { out, cfg, sections: s, input } = render();
  const g = s.get("global");

  it("has the paper's global settings", () => {
    expect(opt(g, "prosody_user")).toBe('"_prosody"');
    expect(opt(g, "prosody_group")).toBe('"_prosody"');
    expect(opt(g, "pidfile")).toBe('"/var/prosody/prosody.pid"');
    expect(opt(g, "http_ports")).toBe("{ 5280 }");
    expect(list(g, "http_interfaces")).toEqual(["*", "::"]);
    // prosody's own modules first, so that the plugins' copies of mod_smacks and mod_external_services
    // do not shadow them.
    expect(list(g, "plugin_paths")).toEqual([
      "/usr/local/lib/prosody/modules",
      "/usr/local/share/jitsi-prosody-plugins",
    ]);
    expect(opt(g, "\\s*info")).toBe('"/var/prosody/prosody.log"');
    expect(opt(g, "\\s*error")).toBe('"/var/prosody/prosody.err"');
    // The global modules for prosody 0.12: the paper's list, in its order.
    const paperModules =
      "disco roster saslauth tls blocklist carbons smacks ping register time uptime version";
    expect(list(g, "modules_enabled")).toEqual([...paperModules.split(" "), "admin_adhoc", "admin_shell"]);
  });

  it("trusts X-Forwarded-For from the web node only (and loopback)", () => {
    expect(list(g, "trusted_proxies")).toEqual(["127.0.0.1", "::1", "100.64.1.3"]);
    expect(opt(g, "consider_bosh_secure")).toBe("true");
    expect(opt(g, "consider_websocket_secure")).toBeUndefined();
  });

  it("has the sections of the paper in order, without the jvb component", () => {
    expect([...s.keys()]).toEqual([
      "global",
      'VirtualHost "jts.fips.de"',
      'VirtualHost "auth.jts.fips.de"',
      'Component "conference.jts.fips.de" "muc"',
      'Component "focus.jts.fips.de" "client_proxy"',
      'Component "internal.auth.jts.fips.de" "muc"',
    ]);
    expect(cfg.content).not.toContain("component_secret");
  });

  it("serves anonymous users BOSH on the domain without requiring c2s encryption", () => {
    const h = s.get('VirtualHost "jts.fips.de"');
    expect(opt(h, "authentication")).toBe('"anonymous"');
    expect(list(h, "modules_enabled")).toEqual(["bosh", "pubsub", "ping"]);
    expect(opt(h, "c2s_require_encryption")).toBe("false");
  });

  it("gives auth.DOMAIN the deployment-CA certificate and hashed passwords", () => {
    const h = s.get('VirtualHost "auth.jts.fips.de"');
    expect(opt(h, "\\s*key")).toBe('"/var/prosody/auth.jts.fips.de.key"');
    expect(opt(h, "\\s*certificate")).toBe('"/var/prosody/auth.jts.fips.de.crt"');
    expect(opt(h, "authentication")).toBe('"internal_hashed"');
    expect(opt(h, "disable_sasl_mechanisms")).toBeUndefined();
  });

  it("proxies focus.DOMAIN to focus@auth.DOMAIN and sets up the brewery MUC", () => {
    expect(opt(s.get('Component "focus.jts.fips.de" "client_proxy"'), "target_address")).toBe(
      '"focus@auth.jts.fips.de"',
    );
    const b = s.get('Component "internal.auth.jts.fips.de" "muc"');
    expect(opt(b, "storage")).toBe('"memory"');
    expect(list(b, "modules_enabled")).toEqual(["ping"]);
    expect(list(b, "admins")).toEqual(["focus@auth.jts.fips.de", "jvb@auth.jts.fips.de"]);
    expect(opt(b, "muc_room_locking")).toBe("false");
    expect(opt(b, "muc_room_default_public_jids")).toBe("true");
    expect(opt(b, "muc_room_cache_size")).toBe("1000");
    expect(s.get('Component "conference.jts.fips.de" "muc"')).toBe("");
  });

  it("writes the auth certificate and key from the deployment PKI, the key as a secret", () => {
    const paths = authTlsPaths(input.spec);
    expect(paths).toEqual({
      certificate: "/var/prosody/auth.jts.fips.de.crt",
      key: "/var/prosody/auth.jts.fips.de.key",
    });
    const crt = out.files.find((f) => f.path === paths.certificate)!;
    const key = out.files.find((f) => f.path === paths.key)!;
    expect(crt).toMatchObject({
      content: fakePki.authCertPem,
      mode: "0644",
      owner: "root",
      group: "_prosody",
    });
    expect(crt.secret ?? false).toBe(false);
    expect(key).toMatchObject({
      content: fakePki.authKeyPem,
      mode: "0640",
      owner: "root",
      group: "_prosody",
      secret: true,
    });
    expect(cfg).toMatchObject({ mode: "0640", owner: "root", group: "_prosody" });
    expect(cfg.secret ?? false).toBe(false);
  });

  it("restarts prosody when any of its files changes", () => {
    for (const f of out.files) expect(f.notify, f.path).toEqual([{ service: "prosody", action: "restart" }]);
  });

  it("registers focus and jvb with the generated passwords and subscribes the proxy", () => {
    expect(out.actions).toEqual([
      { kind: "prosody-user", host: "auth.jts.fips.de", user: "focus", password: fakeSecrets.focusPassword },
      { kind: "prosody-user", host: "auth.jts.fips.de", user: "jvb", password: fakeSecrets.jvbPassword },
      { kind: "prosody-roster-subscribe", proxy: "focus.jts.fips.de", jid: "focus@auth.jts.fips.de" },
    ]);
  });

  it("runs prosody with the rc.d defaults, tails both logs, probes c2s and http", () => {
    expect(out.services).toEqual([{ name: "prosody", flags: null, order: 10, graceSeconds: 10 }]);
    expect(serviceRefusal("xmpp", "prosody")).toBeNull();
    expect(out.logs).toEqual([
      { component: "prosody", path: "/var/prosody/prosody.log" },
      { component: "prosody", path: "/var/prosody/prosody.err" },
    ]);
    expect(out.probes).toEqual([{ component: "prosody", service: "prosody", ports: [5222, 5280] }]);
    // prosody's own log files, rotated by newsyslog, which then HUPs prosody (no syslog.conf block).
    const self = { pidfile: "/var/prosody/prosody.pid", signal: "SIGHUP" };
    const log = {
      program: "prosody",
      owner: "_prosody",
      group: "_prosody",
      mode: "0640",
      keep: 7,
      sizeKb: 1024,
    };
    expect(out.programLogs).toEqual([
      { ...log, path: "/var/prosody/prosody.log", self },
      { ...log, path: "/var/prosody/prosody.err", self },
    ]);
  });

  it("the xmpp VM's newsyslog.conf rotates prosody's logs and HUPs prosody; syslog.conf has no prosody block", () => {
    const xmpp = input.spec.nodes.find((n) => n.role === "xmpp")!;
    const system = renderSystem(input, xmpp, out.programLogs);
    const file = (p: string) => system.files.find((f) => f.path === p)!.content;
    const lines = file("/etc/newsyslog.conf")
      .split("\n")
      .filter((l) => l.startsWith("/var/prosody/"));
    expect(lines.map((l) => l.split(/\s+/))).toEqual(
      ["log", "err"].map((ext) => [
        `/var/prosody/prosody.${ext}`,
        "_prosody:_prosody",
        "640",
        "7",
        "1024",
        "*",
        "Z",
        "/var/prosody/prosody.pid",
        "SIGHUP",
      ]),
    );
    expect(file("/etc/syslog.conf")).not.toContain("prosody");
    expect(system.actions).toEqual([]);
  });

  it("refuses to render for a node that is not the xmpp node, naming the spec path", () => {
    const web = input.spec.nodes.find((n) => n.role === "web")!;
    expect(() => renderXmpp(input, web)).toThrow(/^nodes\[0\]\.role/);
  });
});

describe("renderXmpp: drift", () => {
  it("prosody 0.11: admin_telnet, and no smacks (not bundled before 0.12)", () => {
    const { sections: s, cfg } = render((raw) => {
      (raw["jitsi"] as Raw)["prosody"] = "0.11";
      raw["xmppWebsocket"] = true;
    });
    const mods = list(s.get("global"), "modules_enabled")!;
    expect(mods).toContain("admin_telnet");
    expect(mods).not.toContain("admin_shell");
    expect(cfg.content).not.toContain('"smacks"');
    expect(list(s.get('VirtualHost "jts.fips.de"'), "modules_enabled")).toEqual([
      "bosh",
      "pubsub",
      "ping",
      "websocket",
    ]);
  });

  it("prosody 13: component admins own rooms, auth host drops DIGEST-MD5 and OAUTHBEARER", () => {
    const { sections: s } = render((raw) => {
      (raw["jitsi"] as Raw)["prosody"] = "13";
    });
    expect(opt(s.get("global"), "component_admins_as_room_owners")).toBe("true");
    expect(list(s.get('VirtualHost "auth.jts.fips.de"'), "disable_sasl_mechanisms")).toEqual([
      "DIGEST-MD5",
      "OAUTHBEARER",
    ]);
    expect(list(s.get("global"), "modules_enabled")).toContain("admin_shell");
    // and 0.12 has neither
    const paper = render().sections;
    expect(opt(paper.get("global"), "component_admins_as_room_owners")).toBeUndefined();
  });

  it("xmppWebsocket: websocket and smacks on the client host, websocket considered secure", () => {
    const { sections: s } = render((raw) => {
      raw["xmppWebsocket"] = true;
    });
    expect(list(s.get('VirtualHost "jts.fips.de"'), "modules_enabled")).toEqual([
      "bosh",
      "pubsub",
      "ping",
      "websocket",
      "smacks",
    ]);
    expect(opt(s.get("global"), "consider_websocket_secure")).toBe("true");
  });

  it("internal auth with guests: DOMAIN internal_hashed, guest.DOMAIN anonymous, same modules", () => {
    const { sections: s } = render((raw) => {
      raw["auth"] = { mode: "internal", guests: true };
    });
    const main = s.get('VirtualHost "jts.fips.de"');
    const guest = s.get('VirtualHost "guest.jts.fips.de"');
    expect(opt(main, "authentication")).toBe('"internal_hashed"');
    expect(opt(guest, "authentication")).toBe('"anonymous"');
    expect(list(guest, "modules_enabled")).toEqual(list(main, "modules_enabled"));
    expect(opt(guest, "c2s_require_encryption")).toBe("false");
  });

  it("internal auth without guests: no guest host", () => {
    const { sections: s } = render((raw) => {
      raw["auth"] = { mode: "internal", guests: false };
    });
    expect(opt(s.get('VirtualHost "jts.fips.de"'), "authentication")).toBe('"internal_hashed"');
    expect(s.has('VirtualHost "guest.jts.fips.de"')).toBe(false);
  });

  it("TURN: secret and services advertised on coturn's ports, module on every client host, file secret", () => {
    const { sections: s, cfg } = render((raw) => {
      withTurn(raw);
      raw["turn"] = { enabled: true, port: 3479, tlsPort: 5350 };
      raw["auth"] = { mode: "internal", guests: true };
    });
    const g = s.get("global")!;
    expect(opt(g, "external_service_secret")).toBe(`"${fakeSecrets.turnSecret}"`);
    const services = [...g.matchAll(/^\s*\{ (type = .*) \},$/gm)].map((m) => m[1]);
    expect(services).toEqual([
      'type = "stun", host = "jts.fips.de", port = 3479',
      'type = "turn", host = "jts.fips.de", port = 3479, transport = "udp", secret = true, ttl = 86400, algorithm = "turn"',
      'type = "turns", host = "jts.fips.de", port = 5350, transport = "tcp", secret = true, ttl = 86400, algorithm = "turn"',
    ]);
    for (const host of ['VirtualHost "jts.fips.de"', 'VirtualHost "guest.jts.fips.de"']) {
      expect(list(s.get(host), "modules_enabled")).toContain("external_services");
    }
    expect(cfg.secret).toBe(true);
    expect(cfg.mode).toBe("0640");
  });

  it("TURN off: no external services, no TURN secret", () => {
    const { cfg } = render();
    expect(cfg.content).not.toContain("external_service");
    expect(cfg.content).not.toContain(fakeSecrets.turnSecret);
  });

  it("TURN on without a TURN secret is refused, naming the spec path", () => {
    const input = fakeInput("paper-7648.yaml", withTurn);
    const xmpp = input.spec.nodes.find((n) => n.role === "xmpp")!;
    expect(() => renderXmpp({ ...input, secrets: { ...input.secrets, turnSecret: "" } }, xmpp)).toThrow(
      /^turn\.enabled:/,
    );
  });

  it("a PKI without the auth certificate is refused", () => {
    const input = fakeInput();
    const xmpp = input.spec.nodes.find((n) => n.role === "xmpp")!;
    expect(() => renderXmpp({ ...input, pki: { ...input.pki, authKeyPem: "" } }, xmpp)).toThrow(
      /auth\.jts\.fips\.de/,
    );
  });

  it("7648 keeps the paper's bare conference MUC; 9646 follows jitsi-meet's template; same files and actions", () => {
    const a = render();
    const b = render((raw) => {
      (raw["jitsi"] as Raw)["release"] = 9646;
    });
    expect(b.input.spec.jitsi.release).toBe(9646);
    const conference = 'Component "conference.jts.fips.de" "muc"';
    expect(a.sections.get(conference)).toBe("");
    expect(list(b.sections.get(conference), "modules_enabled")).toEqual(["muc_meeting_id", "polls"]);
    expect(opt(a.sections.get('VirtualHost "jts.fips.de"'), "authentication")).toBe('"anonymous"');
    expect(opt(b.sections.get('VirtualHost "jts.fips.de"'), "authentication")).toBe('"jitsi-anonymous"');
    expect(b.sections.has('Component "lobby.jts.fips.de" "muc"')).toBe(true);
    expect(a.sections.has('Component "lobby.jts.fips.de" "muc"')).toBe(false);
    expect(b.out.files.map((f) => f.path)).toEqual(a.out.files.map((f) => f.path));
    expect(b.out.actions).toEqual(a.out.actions);
    expect(b.out.services).toEqual(a.out.services);
  });

  it("a different domain lands in every host, component, JID and path", () => {
    const { out } = render((raw) => {
      raw["domain"] = "meet.example.org";
    });
    const all = JSON.stringify(out);
    expect(all).not.toContain("jts.fips.de");
    expect(out.files.map((f) => f.path)).toEqual([
      "/etc/prosody/prosody.cfg.lua",
      "/var/prosody/auth.meet.example.org.crt",
      "/var/prosody/auth.meet.example.org.key",
    ]);
  });
});

const everythingOn13: Patch = (raw) => {
  withTurn(raw);
  raw["xmppWebsocket"] = true;
  raw["auth"] = { mode: "internal", guests: true };
  (raw["jitsi"] as Raw)["prosody"] = "13";
};
describe("renderXmpp: file properties", () => {
  itRendersStableFiles(
    "secrets only where flagged",
    "xmpp",
    render,
    { "everything on, prosody 13": everythingOn13 },
    ({ cfg, out }) => {
      expect(cfg.content.split("\n")[0]).toBe(
        "-- generated by vmmeet from the deployment spec; local edits are reverted",
      );
      for (const f of out.files) {
        // the user passwords go to the prosodyctl actions only, never into a file
        expect(f.content).not.toContain(fakeSecrets.focusPassword);
        expect(f.content).not.toContain(fakeSecrets.jvbPassword);
        const holdsSecret = f.content.includes(fakeSecrets.turnSecret) || f.content.includes("PRIVATE KEY");
        expect(f.secret ?? false, f.path).toBe(holdsSecret);
        if (holdsSecret) expect(["0640", "0600"]).toContain(f.mode);
      }
    },
  );

  it("PEM text without a final newline gets one", () => {
    const input = fakeInput();
    const xmpp = input.spec.nodes.find((n) => n.role === "xmpp")!;
    const out = renderXmpp(
      { ...input, pki: { ...input.pki, authCertPem: input.pki.authCertPem.trimEnd() } },
      xmpp,
    );
    expect(out.files[1]!.content).toBe(fakePki.authCertPem);
  });
});
