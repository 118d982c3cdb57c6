// The web and xmpp renderers against the paper's real files and the real parsers.
//
// 1. Rendering test/fixtures/paper-7648.yaml reproduces every setting of the paper's nginx.conf, config.js,
//    prosody.cfg.lua (testing-config) and the prosody "key bits" listing, compared value by value AFTER
//    PARSING: nginx through a directive tree (parseNginx), config.js by evaluating it as a classic script
//    (checkJs), prosody.cfg.lua by running it in the real Lua 5.4 inside an environment that records
//    VirtualHost/Component sections and assignments the way prosody's config loader does. Each deliberate
//    difference is listed below with the exact values on both sides and the reason; anything else that
//    differs fails.
// 2. The rendered files pass the real programs: nginx -t (checkNginx), luac5.4 -p + prosodyctl check
//    config (checkProsody), node --check + evaluation (checkJs). A missing program fails the test.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { RenderInput } from "../packages/coordinator/src/render/types.js";
import { renderWeb, WEB_PATHS } from "../packages/coordinator/src/render/web.js";
import { renderXmpp, XMPP_PATHS } from "../packages/coordinator/src/render/xmpp.js";
import { fakeInput } from "./fixtures/material.js";
import {
  checkJs,
  checkNginx,
  checkProsody,
  type NginxDirective,
  paperSampleDir,
  parseNginx,
  prosodySections,
} from "./validators/index.js";

type Patch = (raw: Record<string, unknown>) => void;
type Raw = Record<string, unknown>;

const paper = (name: string) => readFileSync(path.join(paperSampleDir(), name), "utf8");

function renderFor(role: "web" | "xmpp", input: RenderInput) {
  const node = input.spec.nodes.find((n) => n.role === role)!;
  return role === "web" ? renderWeb(input, node) : renderXmpp(input, node);
}

function fileOf(role: "web" | "xmpp", filePath: string, patch?: Patch): string {
  const f = renderFor(role, fakeInput("paper-7648.yaml", patch)).files.find((x) => x.path === filePath);
  if (!f) throw new Error(`${role} renders no ${filePath}`);
  return f.content;
}

/** A documented difference: the value in the paper, the value rendered (undefined = absent), and why. */
interface Difference {
  key: string;
  paper: unknown;
  ours: unknown;
  reason: string;
}

/**
 * Every key of the paper equals ours unless it is a listed difference; with `oursToo`, every key only we
 * have must be listed as well. Listed differences must show exactly the stated values, so the list stays
 * true when the renderer changes.
 */
function compare(
  paperSettings: Map<string, unknown>,
  ourSettings: Map<string, unknown>,
  differences: Difference[],
  oursToo: boolean,
): void {
  const listed = new Map(differences.map((d) => [d.key, d]));
  const keys = new Set([...paperSettings.keys(), ...(oursToo ? ourSettings.keys() : [])]);
  for (const key of keys) {
    const d = listed.get(key);
    if (d) {
      expect(paperSettings.get(key), `paper value of ${key}`).toEqual(d.paper);
      expect(ourSettings.get(key), `rendered value of ${key} (${d.reason})`).toEqual(d.ours);
    } else {
      expect(ourSettings.get(key), `rendered value of ${key}, not a listed difference`).toEqual(
        paperSettings.get(key),
      );
    }
  }
  for (const d of differences)
    expect(keys.has(d.key), `listed difference ${d.key} names a real key`).toBe(true);
}

// ------------------------------------------------------------------------------------------------- nginx

/**
 * nginx.conf as settings: "block > block > directive" -> the sorted set of its argument lists. Both of our
 * server blocks (80 and 443) map to "http > server", so the paper's one server compares with their union.
 * Relative log paths are resolved against OpenBSD's nginx prefix /var/www, as nginx does.
 */
function nginxSettings(text: string): Map<string, unknown> {
  const out = new Map<string, Set<string>>();
  const walk = (ds: NginxDirective[], parents: string[]) => {
    for (const d of ds) {
      if (d.children) {
        walk(d.children, [...parents, [d.name, ...d.args].join(" ")]);
        continue;
      }
      let args = d.args;
      if ((d.name === "error_log" || d.name === "access_log") && args[0] && !args[0].startsWith("/")) {
        args = [path.posix.join("/var/www", args[0]), ...args.slice(1)];
      }
      const key = [...parents, d.name].join(" > ");
      out.set(key, (out.get(key) ?? new Set()).add(args.join(" ")));
    }
  };
  walk(parseNginx(text), []);
  return new Map([...out].map(([k, v]) => [k, [...v].sort()]));
}

const NGINX_DIFFERENCES: Difference[] = [
  {
    key: "http > server > if ($scheme != https ) > return",
    paper: ["307 https://$host$request_uri"],
    ours: undefined,
    reason:
      "plain http has its own server block (listen 80) that redirects with the same 307: the paper's " +
      "server-level `if` runs before any location, so its ACME location was reachable only through the redirect",
  },
  {
    key: "http > server > location / > return",
    paper: undefined,
    ours: ["307 https://$host$request_uri"],
    reason: "the same redirect, in the port-80 server",
  },
  {
    key: "http > server > location /.well-known/acme-challenge/ > rewrite",
    paper: ["^/.well-known/acme-challenge/(.*) /$1 break"],
    ours: undefined,
    reason:
      "rendered only with tls.mode acme (the fixture uses the paper's own certificate files, which " +
      "acme-client does not write); then it is the first location of the port-80 server (test below)",
  },
  {
    key: "http > server > location /.well-known/acme-challenge/ > root",
    paper: ["/var/www/acme"],
    ours: undefined,
    reason: "as the rewrite above",
  },
  {
    key: "http > server > location = /http-bind > proxy_pass",
    paper: ["http://xmpp:5280/http-bind"],
    ours: ["http://100.64.2.3:5280/http-bind"],
    reason:
      "the xmpp VM's address instead of its name: nginx resolves proxy_pass names once at start and refuses " +
      "to start when one does not resolve (docs/jitsi-config-notes.md section 1); 100.64.2.3 is what `xmpp` resolved " +
      "to in the paper's /etc/hosts (samples README)",
  },
];

// --------------------------------------------------------------------------------------------- config.js

function leaves(value: unknown, prefix = ""): [string, unknown][] {
  if (value !== null && typeof value === "object") {
    return Object.entries(value as Raw).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, value]];
}

async function configJsSettings(text: string): Promise<Map<string, unknown>> {
  const r = await checkJs(text, { require: ["hosts.domain", "hosts.muc", "bosh"] });
  expect(r.ok, r.output).toBe(true);
  return new Map(leaves(r.config));
}

const CONFIGJS_DIFFERENCES: Difference[] = [
  {
    key: "hosts.focus",
    paper: undefined,
    ours: "focus.jts.fips.de",
    reason:
      "jitsi-meet's default (focus.DOMAIN) written out, so config.js visibly names the client_proxy " +
      "component of prosody.cfg.lua (docs/jitsi-config-notes.md section 10)",
  },
];

// ---------------------------------------------------------------------------------------- prosody.cfg.lua

/** "SECTION :: option" -> value, plus "SECTION :: (section)" -> true for every section. */
async function prosodySettings(text: string): Promise<Map<string, unknown>> {
  const out = new Map<string, unknown>();
  for (const s of await prosodySections(text)) {
    out.set(`${s.head} :: (section)`, true);
    for (const [k, v] of Object.entries(s.options)) out.set(`${s.head} :: ${k}`, v);
  }
  return out;
}

const JVB_COMPONENT_REASON =
  "jvb 1.x component-mode leftover (--apis=xmpp, port 5347): jvb 2.x logs in as jvb@auth.DOMAIN and " +
  "joins the brewery, nothing connects to this component (docs/jitsi-config-notes.md section 3; the paper, " +
  "section VIII, muses about it)";
const PING_REASON =
  "mod_ping (XEP-0199) on the client host, as in jitsi-meet's prosody example, so idle browser sessions " +
  "answer and send pings";

const PROSODY_DIFFERENCES: Difference[] = [
  {
    key: "global :: plugin_paths",
    paper: undefined,
    ours: ["/usr/local/lib/prosody/modules", "/usr/local/share/jitsi-prosody-plugins"],
    reason:
      "net/jitsi/prosody-plugins installs mod_client_proxy and mod_roster_command there, outside prosody's " +
      "own module directory; focus.DOMAIN's client_proxy and the roster-subscribe action need them. " +
      "prosody's own directory first: the plugins' copies of mod_smacks and mod_external_services would " +
      "shadow prosody's",
  },
  {
    key: "global :: trusted_proxies",
    paper: undefined,
    ours: ["127.0.0.1", "::1", "100.64.1.3"],
    reason:
      "believe X-Forwarded-For (set by nginx) from the web VM, so prosody logs and limits client addresses",
  },
  {
    key: "global :: consider_bosh_secure",
    paper: undefined,
    ours: true,
    reason:
      "browsers reach nginx over https and nginx reaches prosody inside the VM network; without it prosody " +
      "treats BOSH sessions as unencrypted (no PLAIN login for internal auth)",
  },
  {
    key: 'VirtualHost "jts.fips.de" :: modules_enabled',
    paper: ["bosh", "pubsub"],
    ours: ["bosh", "pubsub", "ping"],
    reason: PING_REASON,
  },
  {
    key: 'Component "jvb.jts.fips.de" :: (section)',
    paper: true,
    ours: undefined,
    reason: JVB_COMPONENT_REASON,
  },
  {
    key: 'Component "jvb.jts.fips.de" :: component_secret',
    paper: "CRED_JVB",
    ours: undefined,
    reason: JVB_COMPONENT_REASON,
  },
];

const LISTING_DIFFERENCES: Difference[] = [
  {
    key: 'VirtualHost "auth.jts.fips.de" :: admins',
    paper: ["focus@auth.jts.fips.de", "jvb@auth.jts.fips.de"],
    ours: undefined,
    reason:
      "the listing puts admins on the auth VirtualHost; the paper's testing-config file and upstream put them " +
      "on the internal.auth MUC, where the brewery needs them (rendered there, checked below)",
  },
  {
    key: 'VirtualHost "jts.fips.de" :: modules_enabled',
    paper: ["bosh", "pubsub"],
    ours: ["bosh", "pubsub", "ping"],
    reason: PING_REASON,
  },
  {
    key: 'Component "jvb.jts.fips.de" :: (section)',
    paper: true,
    ours: undefined,
    reason: JVB_COMPONENT_REASON,
  },
  {
    key: 'Component "jvb.jts.fips.de" :: component_secret',
    paper: "CHANGE_jvb",
    ours: undefined,
    reason: JVB_COMPONENT_REASON,
  },
];

// ------------------------------------------------------------------------------------------------- tests

const threeJvbs: Patch = (raw) => {
  (raw["nodes"] as Raw[]).push(
    { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } },
    { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002, nickname: "Bridge_3" } },
  );
};
const release9646: Patch = (raw) => {
  (raw["jitsi"] as Raw)["release"] = 9646;
};
const everything: Patch = (raw) => {
  threeJvbs(raw);
  raw["xmppWebsocket"] = true;
  raw["bridgeChannel"] = "colibri-websocket";
  raw["turn"] = { enabled: true };
  (raw["nodes"] as Raw[]).push({ name: "turn", role: "turn", address: "100.64.7.3" });
  raw["auth"] = { mode: "internal", guests: true };
};

describe("web VM: the paper's nginx.conf and config.js, value by value", () => {
  it("nginx.conf: every setting of the paper, except the listed differences", () => {
    compare(
      nginxSettings(paper("nginx.conf")),
      nginxSettings(fileOf("web", WEB_PATHS.nginxConf)),
      NGINX_DIFFERENCES,
      true,
    );
  });

  it("nginx.conf with tls.mode acme: the paper's ACME location, first in the port-80 server", () => {
    const ours = parseNginx(
      fileOf("web", WEB_PATHS.nginxConf, (raw) => {
        raw["tls"] = { mode: "acme" };
      }),
    );
    const paperServer = parseNginx(paper("nginx.conf"))
      .find((d) => d.name === "http")!
      .children!.find((d) => d.name === "server")!;
    const paperAcme = paperServer.children!.find(
      (d) => d.name === "location" && d.args[0]?.includes("acme"),
    )!;
    const plain = ours
      .find((d) => d.name === "http")!
      .children!.filter((d) => d.name === "server")
      .find((s) => s.children!.some((d) => d.name === "listen" && d.args[0] === "80"))!;
    const first = plain.children!.find((d) => d.name === "location")!;
    expect(first.args).toEqual(["^~", ...paperAcme.args]);
    const strip = (d: NginxDirective) => d.children!.map(({ name, args }) => ({ name, args }));
    expect(strip(first)).toEqual(strip(paperAcme));
  });

  it("config.js: every setting of the paper, except the listed differences", async () => {
    compare(
      await configJsSettings(paper("config.js")),
      await configJsSettings(fileOf("web", WEB_PATHS.configJs)),
      CONFIGJS_DIFFERENCES,
      true,
    );
  });
});

describe("xmpp VM: the paper's prosody.cfg.lua and listing, value by value", () => {
  it("prosody.cfg.lua (testing-config): every setting, except the listed differences", async () => {
    compare(
      await prosodySettings(paper("prosody.cfg.lua")),
      await prosodySettings(fileOf("xmpp", XMPP_PATHS.config)),
      PROSODY_DIFFERENCES,
      true,
    );
  });

  it("the paper's listing: every setting it shows, except the listed differences", async () => {
    const ours = await prosodySettings(fileOf("xmpp", XMPP_PATHS.config));
    compare(await prosodySettings(paper("prosody-paper-listing.cfg.lua")), ours, LISTING_DIFFERENCES, false);
    // where the listing's auth-host admins went
    expect(ours.get('Component "internal.auth.jts.fips.de" "muc" :: admins')).toEqual([
      "focus@auth.jts.fips.de",
      "jvb@auth.jts.fips.de",
    ]);
  });

  it("the Lua reading sees sections and values as prosody does (a check of the comparison itself)", async () => {
    const sections = await prosodySections(paper("prosody.cfg.lua"));
    expect(sections.map((s) => s.head)).toEqual([
      "global",
      'VirtualHost "jts.fips.de"',
      'VirtualHost "auth.jts.fips.de"',
      'Component "conference.jts.fips.de" "muc"',
      'Component "jvb.jts.fips.de"',
      'Component "focus.jts.fips.de" "client_proxy"',
      'Component "internal.auth.jts.fips.de" "muc"',
    ]);
    expect(sections[0]!.options["http_ports"]).toEqual([5280]);
    expect(sections[0]!.options["log"]).toEqual({
      info: "/var/prosody/prosody.log",
      error: "/var/prosody/prosody.err",
    });
    expect(sections[2]!.options["ssl"]).toEqual({
      key: "/var/prosody/auth.jts.fips.de.key",
      certificate: "/var/prosody/auth.jts.fips.de.crt",
    });
  });
});

describe("real parsers accept the rendered files", () => {
  const nginxCases: [string, Patch | undefined][] = [
    ["release 7648 (the paper)", undefined],
    ["release 9646", release9646],
    [
      "xmpp websocket and colibri websockets to 3 bridges, acme",
      (raw) => {
        release9646(raw);
        threeJvbs(raw);
        raw["xmppWebsocket"] = true;
        raw["bridgeChannel"] = "colibri-websocket";
        raw["tls"] = { mode: "acme", authority: "letsencrypt-staging" };
      },
    ],
  ];
  for (const [name, patch] of nginxCases) {
    it(`nginx -t: ${name}, with no host name to resolve`, async () => {
      // strictHosts: nothing is mapped for the test; a proxy_pass name would have to resolve for real.
      const r = await checkNginx(fileOf("web", WEB_PATHS.nginxConf, patch), { strictHosts: true });
      expect(r.ok, r.output).toBe(true);
      expect(r.wrapped).toBe(false);
      expect(r.autoHosts).toEqual([]);
    });
  }

  it("nginx -t refuses the paper's file on a machine where `xmpp` does not resolve (why we render the address)", async () => {
    const r = await checkNginx(paper("nginx.conf"), { strictHosts: true });
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/host not found in upstream "xmpp/);
  });

  const prosodyCases: [string, Patch | undefined][] = [
    ["the paper (0.12)", undefined],
    [
      "prosody 0.11",
      (raw) => {
        (raw["jitsi"] as Raw)["prosody"] = "0.11";
        raw["xmppWebsocket"] = true;
      },
    ],
    [
      "prosody 13, internal auth with guests, websocket, TURN",
      (raw) => {
        everything(raw);
        (raw["jitsi"] as Raw)["prosody"] = "13";
      },
    ],
    [
      "release 9646, everything on",
      (raw) => {
        everything(raw);
        release9646(raw);
      },
    ],
  ];
  for (const [name, patch] of prosodyCases) {
    it(`luac -p and prosodyctl check config: ${name}`, async () => {
      const r = await checkProsody(fileOf("xmpp", XMPP_PATHS.config, patch));
      expect(r.ok, r.output).toBe(true);
      expect(r.output).toMatch(/All checks passed/);
    });
  }

  it("config.js: node --check and evaluation, with the paper's settings and the websocket when on", async () => {
    const plain = await checkJs(fileOf("web", WEB_PATHS.configJs), {
      require: ["hosts.domain", "hosts.muc", "bosh"],
    });
    expect(plain.ok, plain.output).toBe(true);
    const all = await checkJs(fileOf("web", WEB_PATHS.configJs, everything), {
      require: [
        "hosts.domain",
        "hosts.muc",
        "hosts.anonymousdomain",
        "bosh",
        "websocket",
        "bridgeChannel.preferSctp",
      ],
    });
    expect(all.ok, all.output).toBe(true);
    expect(all.config?.["websocket"]).toBe("wss://jts.fips.de/xmpp-websocket");
  });
});
