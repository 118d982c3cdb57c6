import vm from "node:vm";
import { actionRefusal, NodeDesired, serviceRefusal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { itRendersStableFiles, type Patch, type Raw, renderRole } from "../../../../test/helpers/render.js";
import { type NginxDirective, parseNginx } from "../../../../test/validators/nginx.js";
import type { RenderInput } from "./types.js";
import { ACME_RENEW_BEFORE_DAYS, colibriWsPath, renderWeb, WEB_PATHS } from "./web.js";

function render(patch?: Patch, input?: RenderInput) {
  const r = renderRole("web", renderWeb, patch, input);
  const file = (path: string) => r.out.files.find((f) => f.path === path);
  return { ...r, file, text: (path: string) => file(path)?.content ?? "" };
}

function servers(conf: string): NginxDirective[] {
  const http = parseNginx(conf).find((d) => d.name === "http");
  return (http?.children ?? []).filter((d) => d.name === "server");
}

function tlsServer(conf: string): NginxDirective {
  const s = servers(conf).find((srv) =>
    srv.children?.some((d) => d.name === "listen" && d.args.includes("ssl")),
  );
  if (!s) throw new Error("no TLS server block");
  return s;
}

function location(server: NginxDirective, ...args: string[]): NginxDirective | undefined {
  return server.children?.find((d) => d.name === "location" && d.args.join(" ") === args.join(" "));
}

function directive(block: NginxDirective | undefined, name: string): string[][] {
  return (block?.children ?? []).filter((d) => d.name === name).map((d) => d.args);
}

function evalConfig(text: string): Raw {
  const ctx = vm.createContext({});
  new vm.Script(text).runInContext(ctx);
  return JSON.parse(JSON.stringify(new vm.Script("config").runInContext(ctx))) as Raw;
}

const threeJvbs: Patch = (raw) => {
  raw["bridgeChannel"] = "colibri-websocket";
  const nodes = raw["nodes"] as Raw[];
  nodes.push(
    { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } },
    { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002, nickname: "Bridge_3" } },
  );
};

describe("renderWeb: the paper's topology", () => {
  const { out, text, input } = render();
  const nginx = text(WEB_PATHS.nginxConf);

  it("renders nginx.conf and config.js, and no acme-client.conf with tls.mode files", () => {
    expect(out.files.map((f) => f.path)).toEqual([WEB_PATHS.nginxConf, WEB_PATHS.configJs]);
  });

  it("puts the domain, TLS paths and web root in the TLS server", () => {
    const s = tlsServer(nginx);
    expect(directive(s, "server_name")).toEqual([["jts.fips.de"]]);
    expect(directive(s, "ssl_certificate")).toEqual([["/etc/ssl/jitsi-fips.fullchain.pem"]]);
    expect(directive(s, "ssl_certificate_key")).toEqual([["/etc/ssl/private/jitsi-fips.key"]]);
    expect(directive(s, "ssl_protocols")).toEqual([["TLSv1.3"]]);
    expect(directive(s, "root")).toEqual([["/var/www/jitsi-meet"]]);
    expect(directive(s, "listen")).toEqual([
      ["443", "ssl"],
      ["[::]:443", "ssl"],
    ]);
    expect(directive(s, "ssi")).toEqual([["on"]]);
    expect(directive(s, "ssi_types")).toEqual([["application/x-javascript", "application/javascript"]]);
  });

  it("proxies BOSH to the xmpp node's address (not its name) on 5280, with the paper's headers", () => {
    const bosh = location(tlsServer(nginx), "=", "/http-bind");
    expect(directive(bosh, "proxy_pass")).toEqual([["http://100.64.2.3:5280/http-bind"]]);
    expect(directive(bosh, "proxy_set_header")).toEqual([
      ["X-Forwarded-For", "$remote_addr"],
      ["Host", "$http_host"],
    ]);
  });

  it("follows the xmpp node's address when it moves", () => {
    const moved = render((raw) => {
      (raw["nodes"] as Raw[])[1]!["address"] = "100.64.9.9";
    });
    const bosh = location(tlsServer(moved.text(WEB_PATHS.nginxConf)), "=", "/http-bind");
    expect(directive(bosh, "proxy_pass")).toEqual([["http://100.64.9.9:5280/http-bind"]]);
  });

  it("redirects plain http to https in its own server block", () => {
    const plain = servers(nginx).find((s) =>
      s.children?.some((d) => d.name === "listen" && d.args[0] === "80"),
    );
    expect(directive(plain, "listen")).toEqual([["80"], ["[::]:80"]]);
    expect(directive(location(plain!, "/"), "return")).toEqual([["307", "https://$host$request_uri"]]);
    expect(plain?.children?.some((d) => d.name === "ssl_certificate")).toBe(false);
  });

  it("keeps the static files, rooms rewrite and external_api.js locations", () => {
    const s = tlsServer(nginx);
    const statics = s.children?.find(
      (d) => d.name === "location" && d.args[0] === "~" && d.args[1]?.includes("libs"),
    );
    expect(directive(statics, "alias")).toEqual([["/var/www/jitsi-meet/$1/$2"]]);
    expect(directive(location(s, "/external_api.js"), "alias")).toEqual([
      ["/var/www/jitsi-meet/libs/external_api.min.js"],
    ]);
    const rooms = s.children?.find((d) => d.name === "location" && d.args[1]?.startsWith("^/([a-zA-Z0-9="));
    expect(directive(rooms, "rewrite")).toEqual([["^/(.*)$", "/", "break"]]);
  });

  it("logs under /var/www/logs, as the agent tails it", () => {
    const top = parseNginx(nginx);
    expect(top.find((d) => d.name === "error_log")?.args).toEqual([WEB_PATHS.errorLog]);
    expect(out.logs).toEqual([{ component: "nginx", path: "/var/www/logs/error.log" }]);
  });

  it("has no websocket, colibri or ACME location by default", () => {
    expect(nginx).not.toContain("xmpp-websocket");
    expect(nginx).not.toContain("colibri-ws");
    expect(nginx).not.toContain("acme-challenge");
  });

  it("writes config.js with hosts, bosh, the paper's UI settings and the STUN servers", () => {
    const cfg = evalConfig(text(WEB_PATHS.configJs));
    expect(cfg).toEqual({
      hosts: { domain: "jts.fips.de", muc: "conference.jts.fips.de", focus: "focus.jts.fips.de" },
      bosh: "//jts.fips.de/http-bind",
      useTurnUdp: false,
      enableWelcomePage: true,
      prejoinConfig: { enabled: true, hideExtraJoinButtons: ["no-audio", "by-phone"] },
      p2p: { stunServers: [{ urls: "stun:meet-jit-si-turnrelay.jitsi.net:443" }] },
    });
  });

  it("takes the STUN servers, welcome page and prejoin from spec.web", () => {
    const r = render((raw) => {
      raw["web"] = {
        stunServers: ["stun:a.example.org:3478", "stuns:b.example.org"],
        welcomePage: false,
        prejoin: false,
      };
    });
    const cfg = evalConfig(r.text(WEB_PATHS.configJs));
    expect(cfg["p2p"]).toEqual({
      stunServers: [{ urls: "stun:a.example.org:3478" }, { urls: "stuns:b.example.org" }],
    });
    expect(cfg["enableWelcomePage"]).toBe(false);
    expect((cfg["prejoinConfig"] as Raw)["enabled"]).toBe(false);
  });

  it("runs nginx with the rc.d defaults, reloads it on a config change and probes 80 and 443", () => {
    expect(out.services).toEqual([{ name: "nginx", flags: null, order: 10, graceSeconds: 10 }]);
    expect(out.files[0]!.notify).toEqual([{ service: "nginx", action: "reload" }]);
    expect(out.files[1]!.notify).toEqual([]);
    expect(out.probes).toEqual([{ component: "nginx", service: "nginx", ports: [80, 443] }]);
    expect(out.actions).toEqual([]);
    expect(out.programLogs).toEqual([]);
    expect(serviceRefusal("web", "nginx")).toBeNull();
  });

  it("refuses to render for a node that is not the web node, naming the spec path", () => {
    const xmpp = input.spec.nodes.find((n) => n.role === "xmpp")!;
    expect(() => renderWeb(input, xmpp)).toThrow(/^nodes\[1\]\.role/);
  });
});

describe("renderWeb: drift", () => {
  it("acme: renders acme-client.conf and answers the challenge on port 80 before the redirect", () => {
    const r = render((raw) => {
      raw["tls"] = { mode: "acme" };
    });
    expect(r.out.files.map((f) => f.path)).toEqual([
      WEB_PATHS.nginxConf,
      WEB_PATHS.configJs,
      WEB_PATHS.acmeConf,
    ]);
    const nginx = r.text(WEB_PATHS.nginxConf);
    const plain = servers(nginx).find((s) =>
      s.children?.some((d) => d.name === "listen" && d.args[0] === "80"),
    )!;
    const locs = plain.children!.filter((d) => d.name === "location");
    expect(locs.map((d) => d.args.join(" "))).toEqual(["^~ /.well-known/acme-challenge/", "/"]);
    expect(directive(locs[0], "root")).toEqual([["/var/www/acme"]]);
    expect(directive(locs[0], "rewrite")).toEqual([["^/.well-known/acme-challenge/(.*)", "/$1", "break"]]);
    // default paths of tlsPaths()
    expect(directive(tlsServer(nginx), "ssl_certificate")).toEqual([["/etc/ssl/jts.fips.de.fullchain.pem"]]);
    expect(directive(tlsServer(nginx), "ssl_certificate_key")).toEqual([
      ["/etc/ssl/private/jts.fips.de.key"],
    ]);
    // The whole file: Let's Encrypt's production authority, no contact, tlsPaths()'s default paths.
    const acme = r.text(WEB_PATHS.acmeConf);
    expect(acme).toBe(`# generated by vmmeet from the deployment spec; local edits are reverted
authority letsencrypt {
\tapi url "https://acme-v02.api.letsencrypt.org/directory"
\taccount key "/etc/acme/letsencrypt-privkey.pem"
}

domain jts.fips.de {
\tdomain key "/etc/ssl/private/jts.fips.de.key"
\tdomain full chain certificate "/etc/ssl/jts.fips.de.fullchain.pem"
\tsign with letsencrypt
\tchallengedir "/var/www/acme"
}
`);
  });

  it("acme: the agent obtains and renews the certificate, with acme-client.conf's paths", () => {
    const r = render((raw) => {
      raw["tls"] = { mode: "acme" };
    });
    expect(r.out.actions).toEqual([
      {
        kind: "acme-certificate",
        domain: "jts.fips.de",
        certificate: "/etc/ssl/jts.fips.de.fullchain.pem",
        key: "/etc/ssl/private/jts.fips.de.key",
        challengeDir: "/var/www/acme",
        renewBeforeDays: ACME_RENEW_BEFORE_DAYS,
      },
    ]);
    // The same files acme-client writes and nginx reads.
    const acme = r.text(WEB_PATHS.acmeConf);
    const action = r.out.actions[0]!;
    if (action.kind !== "acme-certificate") throw new Error("not an acme-certificate action");
    expect(acme).toContain(`domain ${action.domain} {\n`);
    expect(acme).toContain(`\tdomain key "${action.key}"\n`);
    expect(acme).toContain(`\tdomain full chain certificate "${action.certificate}"\n`);
    expect(acme).toContain(`\tchallengedir "${action.challengeDir}"\n`);
    expect(directive(tlsServer(r.text(WEB_PATHS.nginxConf)), "ssl_certificate")).toEqual([
      [action.certificate],
    ]);
    expect(actionRefusal("web", action)).toBeNull();
    // A valid part of the web node's desired state (the agent parses it with this schema).
    expect(
      NodeDesired.safeParse({
        node: "web",
        role: "web",
        files: r.out.files,
        services: r.out.services,
        actions: r.out.actions,
        health: { release: 7648 },
      }).success,
    ).toBe(true);
  });

  it("acme: paths the agent would refuse to write are a render error naming the spec field", () => {
    expect(() =>
      render((raw) => {
        raw["tls"] = { mode: "acme", certificate: "/etc/nginx/site.pem" };
      }),
    ).toThrow(/^tls\.certificate: must be a file directly in \/etc\/ssl/);
    expect(() =>
      render((raw) => {
        raw["tls"] = { mode: "acme", key: "/etc/ssl/site.key" };
      }),
    ).toThrow(/^tls\.key: must be a file directly in \/etc\/ssl\/private/);
    // with tls.mode files the agent writes nothing: any path goes
    const files = render((raw) => {
      raw["tls"] = { mode: "files", certificate: "/etc/nginx/site.pem", key: "/etc/nginx/site.key" };
    });
    expect(files.out.actions).toEqual([]);
  });

  it("acme: staging authority, contact and custom paths", () => {
    const r = render((raw) => {
      raw["tls"] = {
        mode: "acme",
        authority: "letsencrypt-staging",
        contact: "mailto:ops@fips.de",
        certificate: "/etc/ssl/meet.pem",
        key: "/etc/ssl/private/meet.key",
      };
    });
    const acme = r.text(WEB_PATHS.acmeConf);
    for (const line of [
      "authority letsencrypt-staging {\n",
      "https://acme-staging-v02.api.letsencrypt.org/directory",
      '\tcontact "mailto:ops@fips.de"\n',
      "\tsign with letsencrypt-staging\n",
      '\tdomain key "/etc/ssl/private/meet.key"\n',
      '\tdomain full chain certificate "/etc/ssl/meet.pem"\n',
    ])
      expect(acme).toContain(line);
    expect(directive(tlsServer(r.text(WEB_PATHS.nginxConf)), "ssl_certificate")).toEqual([
      ["/etc/ssl/meet.pem"],
    ]);
    // only one authority block: the one the domain is signed with
    expect(acme.match(/^authority /gm)).toHaveLength(1);
    expect(r.out.actions).toMatchObject([
      { kind: "acme-certificate", certificate: "/etc/ssl/meet.pem", key: "/etc/ssl/private/meet.key" },
    ]);
  });

  it("xmppWebsocket: proxies /xmpp-websocket to prosody with the upgrade handshake and sets config.websocket", () => {
    const r = render((raw) => {
      raw["xmppWebsocket"] = true;
    });
    const ws = location(tlsServer(r.text(WEB_PATHS.nginxConf)), "=", "/xmpp-websocket");
    expect(directive(ws, "proxy_pass")).toEqual([["http://100.64.2.3:5280/xmpp-websocket"]]);
    expect(directive(ws, "proxy_http_version")).toEqual([["1.1"]]);
    expect(directive(ws, "proxy_set_header")).toContainEqual(["Upgrade", "$http_upgrade"]);
    expect(directive(ws, "proxy_set_header")).toContainEqual(["Connection", "upgrade"]);
    expect(directive(ws, "proxy_read_timeout")).toEqual([["900s"]]);
    const cfg = evalConfig(r.text(WEB_PATHS.configJs));
    expect(cfg["websocket"]).toBe("wss://jts.fips.de/xmpp-websocket");
    expect(cfg["bosh"]).toBe("//jts.fips.de/http-bind");
  });

  it("xmppWebsocket off: no websocket in config.js", () => {
    expect(evalConfig(render().text(WEB_PATHS.configJs))).not.toHaveProperty("websocket");
  });

  it("colibri websockets with 3 bridges: one location per bridge to its address on 9090", () => {
    const r = render(threeJvbs);
    const s = tlsServer(r.text(WEB_PATHS.nginxConf));
    const colibri = s.children!.filter((d) => d.name === "location" && d.args[1]?.startsWith("/colibri-ws/"));
    expect(colibri.map((d) => [d.args.join(" "), directive(d, "proxy_pass")[0]?.[0]])).toEqual([
      ["^~ /colibri-ws/jvb/", "http://100.64.4.3:9090"],
      ["^~ /colibri-ws/jvb2/", "http://100.64.5.3:9090"],
      ["^~ /colibri-ws/Bridge_3/", "http://100.64.6.3:9090"],
    ]);
    for (const loc of colibri) {
      expect(directive(loc, "proxy_http_version")).toEqual([["1.1"]]);
      expect(directive(loc, "proxy_set_header")).toContainEqual(["Upgrade", "$http_upgrade"]);
    }
    const jvbs = r.input.spec.nodes.filter((n) => n.role === "jvb");
    expect(jvbs.map(colibriWsPath)).toEqual([
      "/colibri-ws/jvb/",
      "/colibri-ws/jvb2/",
      "/colibri-ws/Bridge_3/",
    ]);
    expect(evalConfig(r.text(WEB_PATHS.configJs))["bridgeChannel"]).toEqual({ preferSctp: false });
  });

  it("bridgeChannel none: no colibri location, no bridgeChannel in config.js (the paper)", () => {
    expect(render().text(WEB_PATHS.nginxConf)).not.toContain("colibri");
    expect(evalConfig(render().text(WEB_PATHS.configJs))).not.toHaveProperty("bridgeChannel");
  });

  it("internal auth with guests: anonymousdomain guest.DOMAIN; without guests or anonymous: none", () => {
    const guests = evalConfig(
      render((raw) => {
        raw["auth"] = { mode: "internal", guests: true };
      }).text(WEB_PATHS.configJs),
    );
    expect(guests["hosts"]).toEqual({
      domain: "jts.fips.de",
      anonymousdomain: "guest.jts.fips.de",
      muc: "conference.jts.fips.de",
      focus: "focus.jts.fips.de",
    });
    const noGuests = evalConfig(
      render((raw) => {
        raw["auth"] = { mode: "internal", guests: false };
      }).text(WEB_PATHS.configJs),
    );
    expect(noGuests["hosts"]).not.toHaveProperty("anonymousdomain");
    expect(evalConfig(render().text(WEB_PATHS.configJs))["hosts"]).not.toHaveProperty("anonymousdomain");
  });

  it("release 7648 and 9646 render the same web files (no web-side drift between them)", () => {
    const a = render();
    const b = render((raw) => {
      (raw["jitsi"] as Raw)["release"] = 9646;
    });
    expect(b.input.spec.jitsi.release).toBe(9646);
    expect(b.out).toEqual(a.out);
  });

  it("a different domain lands everywhere the domain is used", () => {
    const r = render((raw) => {
      raw["domain"] = "meet.example.org";
      raw["tls"] = { mode: "acme" };
    });
    const all = r.out.files.map((f) => f.content).join("\n");
    expect(all).not.toContain("jts.fips.de");
    expect(directive(tlsServer(r.text(WEB_PATHS.nginxConf)), "server_name")).toEqual([["meet.example.org"]]);
    expect((evalConfig(r.text(WEB_PATHS.configJs))["hosts"] as Raw)["muc"]).toBe(
      "conference.meet.example.org",
    );
  });
});

const everythingOn: Patch = (raw) => {
  threeJvbs(raw);
  raw["xmppWebsocket"] = true;
  raw["tls"] = { mode: "acme", contact: "mailto:a@b.de" };
  raw["auth"] = { mode: "internal", guests: true };
};
describe("renderWeb: file properties", () => {
  itRendersStableFiles(
    "headed, world-readable and not secret",
    "web",
    render,
    { "everything on": everythingOn },
    ({ input, out }) => {
      for (const f of out.files) {
        expect(f.content.split("\n")[0], f.path).toMatch(
          /^(#|\/\/) generated by vmmeet from the deployment spec; local edits are reverted$/,
        );
        expect(f).toMatchObject({ mode: "0644", owner: "root", group: "wheel" });
        expect(f.secret ?? false, f.path).toBe(false);
        for (const secret of Object.values(input.secrets)) expect(f.content).not.toContain(secret);
      }
    },
  );
});
