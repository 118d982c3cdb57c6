// Every release of the table (packages/shared/src/releases.ts), rendered from the paper's topology with a
// Java and a prosody the release is known to work with, with everything on (three bridges, colibri
// websockets, TURN, XMPP websocket, monitoring networks):
//  * prosody.cfg.lua passes luac5.4, the real `prosodyctl check config` and the lookup of every module it
//    names (prosody's own, or the jitsi plugins of that release, through plugin_paths);
//  * prosody.cfg.lua holds every setting of jitsi-meet's prosody template for the release, as written here
//    from docker-jitsi-meet's prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua at stable-9646 and
//    stable-11146-2 and the commits between them (named per setting), or the setting is a listed deliberate
//    difference with its reason, checked to be exactly as stated;
//  * jicofo.conf and jvb.conf parse with Typesafe Config, the REST servers listening where pf lets the
//    monitoring networks in.
// Then the ports' mixed set: each renderer follows its own component's release.
import {
  JITSI_RELEASES,
  type JitsiRelease,
  PORTS_RELEASE,
  PROSODY_PLUGINS,
  pluginModules,
} from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { renderDeployment } from "../packages/coordinator/src/render/index.js";
import { JICOFO_CONF } from "../packages/coordinator/src/render/jicofo.js";
import { JVB_CONF } from "../packages/coordinator/src/render/jvb.js";
import { XMPP_PATHS } from "../packages/coordinator/src/render/xmpp.js";
import { fakeInput } from "./fixtures/material.js";
import { checkHoconMany, checkProsody, type ProsodySection, prosodySections } from "./validators/index.js";

type Raw = Record<string, unknown>;
const D = "jts.fips.de";

/** The paper's spec at `release`, with everything on. */
function everything(release: unknown, java: number, prosody: string) {
  return fakeInput("paper-7648.yaml", (raw) => {
    raw.jitsi = { release, java, prosody };
    (raw.nodes as Raw[]).push(
      { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } },
      { name: "turn", role: "turn", address: "100.64.7.3" },
    );
    raw.bridgeChannel = "colibri-websocket";
    raw.xmppWebsocket = true;
    raw.turn = { enabled: true };
    raw.host = { ...(raw.host as Raw), monitorNetworks: ["198.51.100.0/24"] };
  });
}

function rendered(row: JitsiRelease, prosody: string) {
  const input = everything(row.release, row.java[0]!, prosody);
  const nodes = renderDeployment(input);
  const file = (node: string, path: string) => {
    const f = nodes[node]?.files.find((x) => x.path === path);
    if (!f) throw new Error(`${node} renders no ${path}`);
    return f.content;
  };
  return { nodes, file };
}

/** One setting of the template: the value, or the strings a list must contain, or a string it must not. */
interface Setting {
  section: string;
  key: string;
  value?: unknown;
  includes?: string[];
  excludes?: string;
  /** The commit (docker-jitsi-meet unless said) or template that says so. */
  source: string;
}

const host = (name: string) => `VirtualHost "${name}"`;
const component = (name: string, module: string) => `Component "${name}" "${module}"`;
const CONFERENCE = component(`conference.${D}`, "muc");
const INTERNAL = component(`internal.auth.${D}`, "muc");

/** jitsi-meet's prosody template of release `r` (9646 and later), with prosody `prosody`. */
function template(r: number, prosody: string): Setting[] {
  const s9646 = "template at stable-9646";
  const slim = r >= 10431;
  const out: Setting[] = [
    { section: "global", key: "admins", includes: [`focus@auth.${D}`, `jvb@auth.${D}`], source: s9646 },
    {
      section: "global",
      key: "plugin_paths",
      includes: [PROSODY_PLUGINS.dir.value],
      source: "jitsi-meet prosody.cfg.lua-jvb.example (plugin_paths of the plugins package)",
    },
    { section: host(D), key: "authentication", value: "jitsi-anonymous", source: "6433 (docker)" },
    {
      section: host(D),
      key: "modules_enabled",
      includes: slim
        ? [
            "bosh",
            "features_identity",
            "websocket",
            "smacks",
            "conference_duration",
            "muc_lobby_rooms",
            "muc_breakout_rooms",
          ]
        : [
            "bosh",
            "websocket",
            "smacks",
            "speakerstats",
            "conference_duration",
            "room_metadata",
            "end_conference",
            "muc_lobby_rooms",
            "muc_breakout_rooms",
            "av_moderation",
          ],
      source: slim ? "7c2b8b55, 3016b33e (10431)" : s9646,
    },
    { section: host(D), key: "main_muc", value: `conference.${D}`, source: s9646 },
    { section: host(D), key: "lobby_muc", value: `lobby.${D}`, source: s9646 },
    { section: host(D), key: "breakout_rooms_muc", value: `breakout.${D}`, source: s9646 },
    ...(slim
      ? []
      : [
          ["room_metadata_component", "metadata"],
          ["speakerstats_component", "speakerstats"],
          ["conference_duration_component", "conferenceduration"],
          ["end_conference_component", "endconference"],
          ["av_moderation_component", "avmoderation"],
        ].map(([key, sub]) => ({ section: host(D), key: key!, value: `${sub}.${D}`, source: s9646 }))),
    ...(
      [
        ["restrict_room_creation", true],
        ["storage", "memory"],
        ["muc_room_locking", false],
        ["muc_room_default_public_jids", true],
        ["muc_tombstones", false],
        ["muc_room_allow_persistent", false],
      ] as const
    ).map(([key, value]) => ({ section: CONFERENCE, key, value, source: s9646 })),
    {
      section: CONFERENCE,
      key: "modules_enabled",
      includes: [
        "muc_meeting_id",
        ...(r >= 10532 ? [] : ["polls"]),
        ...(r >= 10314 ? ["muc_hide_all"] : []),
        ...(r >= 10978 ? ["muc_resource_validate"] : []),
      ],
      source: "stable-9646; 24635a63 (10314), a5b307b9 (10532), 43ec99cb (10978)",
    },
    ...(r >= 10532
      ? [{ section: CONFERENCE, key: "modules_enabled", excludes: "polls", source: "a5b307b9 (10532)" }]
      : []),
    ...(r >= 10978
      ? [{ section: CONFERENCE, key: "anonymous_strict", value: true, source: "43ec99cb (10978)" }]
      : []),
    {
      section: component(`focus.${D}`, "client_proxy"),
      key: "target_address",
      value: `focus@auth.${D}`,
      source: s9646,
    },
    ...(
      [
        ["speakerstats", "speakerstats_component"],
        ...(slim ? [] : [["conferenceduration", "conference_duration_component"]]),
        ["endconference", "end_conference"],
        ["avmoderation", "av_moderation_component"],
        ["metadata", "room_metadata_component"],
        ...(r >= 10532 ? [["polls", "polls_component"]] : []),
      ] as [string, string][]
    ).map(([sub, module]) => ({
      section: component(`${sub}.${D}`, module),
      key: "muc_component",
      value: `conference.${D}`,
      source: module === "polls_component" ? "a5b307b9 (10532)" : s9646,
    })),
    ...["lobby", "breakout"].map((sub) => ({
      section: component(`${sub}.${D}`, "muc"),
      key: "restrict_room_creation",
      value: true,
      source: s9646,
    })),
    ...(
      [
        ["storage", "memory"],
        ["restrict_room_creation", true],
        ["muc_filter_whitelist", `auth.${D}`],
        ["muc_room_locking", false],
        ["muc_room_default_public_jids", true],
        ["muc_room_cache_size", 1000],
        ["muc_tombstones", false],
        ["muc_room_allow_persistent", false],
      ] as const
    ).map(([key, value]) => ({ section: INTERNAL, key, value, source: s9646 })),
    ...(r >= 10314
      ? [
          {
            section: INTERNAL,
            key: "modules_enabled",
            includes: ["muc_hide_all", "muc_filter_access"],
            source: "24635a63 (10314)",
          },
        ]
      : []),
    { section: host(`auth.${D}`), key: "authentication", value: "internal_hashed", source: s9646 },
    { section: host(`auth.${D}`), key: "modules_enabled", includes: ["limits_exception"], source: s9646 },
    ...(r >= 11146
      ? [{ section: "global", key: "storage", value: { smacks_h: "memory" }, source: "fbbec37d (11146)" }]
      : []),
  ];
  if (prosody === "13") {
    out.push(
      ...(r >= 10133
        ? [
            {
              section: "global",
              key: "component_admins_as_room_owners",
              value: true,
              source: "c44206c6 (10133)",
            },
          ]
        : []),
      { section: "global", key: "modules_enabled", includes: ["admin_shell"], source: "eab4bff7 (10741)" },
      ...["uptime", "time", "admin_adhoc"].map((m) => ({
        section: "global",
        key: "modules_enabled",
        excludes: m,
        source: "eab4bff7 (10741)",
      })),
    );
  }
  return out;
}

/** A template setting vmmeet renders differently on purpose: what ours is, and why. */
interface Difference {
  section: string;
  key: string;
  /** The template's value, or the list entry it has and we do not. */
  template: unknown;
  ours: unknown;
  /** Releases it concerns. */
  from: number;
  reason: string;
}

const DIFFERENCES: Difference[] = [
  {
    section: CONFERENCE,
    key: "modules_enabled",
    template: "muc_domain_mapper",
    ours: undefined,
    from: 9646,
    reason:
      "maps tenant subdomains (DOMAIN/tenant/room) to MUC addresses; the template loads it only with " +
      "subdomains, and vmmeet deploys no tenants",
  },
  {
    section: "global",
    key: "modules_enabled",
    template: "external_services",
    ours: undefined,
    from: 10133,
    reason:
      "4ae74385 (9823) moved it to the global section; vmmeet loads it on the hosts browsers log in to " +
      "(where they ask for TURN credentials), and only with TURN on",
  },
  {
    section: host(`auth.${D}`),
    key: "modules_enabled",
    template: "smacks",
    ours: undefined,
    from: 11146,
    reason:
      "stream management for jicofo and the bridges (with smacks_hibernation_time = 15) is in the 11146 " +
      "template, but vmmeet's sources name no commit or first release for it; jicofo and jvb log in again " +
      "after a broken connection without it",
  },
  {
    section: host(`auth.${D}`),
    key: "smacks_hibernation_time",
    template: 15,
    ours: undefined,
    from: 11146,
    reason: "goes with smacks on the auth host (above)",
  },
];

function options(sections: ProsodySection[], head: string): Record<string, unknown> | undefined {
  return sections.find((s) => s.head === head)?.options;
}

function expectSetting(sections: ProsodySection[], s: Setting): void {
  const where = `${s.section} :: ${s.key} (${s.source})`;
  const opts = options(sections, s.section);
  expect(opts, `${s.section} is rendered (${s.source})`).toBeDefined();
  const value = opts?.[s.key];
  if (s.includes) expect(value, where).toEqual(expect.arrayContaining(s.includes));
  else if (s.excludes) expect(value ?? [], where).not.toContain(s.excludes);
  else expect(value, where).toEqual(s.value);
}

describe.each(JITSI_RELEASES)("release $release", (row) => {
  const prosodies = row.prosody.filter((p) => p !== "0.11");
  const plugins = pluginModules(row.release, PROSODY_PLUGINS.modules.value, PROSODY_PLUGINS.release.value);

  it.each(prosodies)("prosody %s: luac, prosodyctl check config, every module found", async (prosody) => {
    const { file } = rendered(row, prosody);
    const r = await checkProsody(file("xmpp", XMPP_PATHS.config), { plugins });
    expect(r.ok, r.output).toBe(true);
    // jitsi-meet's modules come from the plugins package, through plugin_paths.
    const fromPlugins = new Set(
      r.modules.filter((m) => m.from === "jitsi-prosody-plugins").map((m) => m.name),
    );
    expect(fromPlugins.has("client_proxy")).toBe(true);
    if (row.release >= 9646) expect(fromPlugins.has("muc_meeting_id")).toBe(true);
  });

  it.each(prosodies)(
    "prosody %s: the settings of jitsi-meet's template, or listed differences",
    async (prosody) => {
      const { file } = rendered(row, prosody);
      const sections = await prosodySections(file("xmpp", XMPP_PATHS.config));
      if (row.release < 9646) {
        // The table has no template of these releases: the paper's configuration, a bare conference MUC.
        // (an empty Lua table reads as [] or {})
        expect(Object.keys(options(sections, CONFERENCE) ?? { missing: true })).toEqual([]);
        expect(options(sections, host(D))?.authentication).toBe("anonymous");
        return;
      }
      for (const s of template(row.release, prosody)) expectSetting(sections, s);
      for (const d of DIFFERENCES.filter((x) => row.release >= x.from)) {
        const value = options(sections, d.section)?.[d.key];
        const where = `${d.section} :: ${d.key}: ${d.reason}`;
        if (typeof d.template === "string" && Array.isArray(value))
          expect(value, where).not.toContain(d.template);
        else expect(value, where).toEqual(d.ours);
      }
    },
  );

  it("jicofo.conf and jvb.conf parse; REST servers listen where pf lets the monitors in", async () => {
    const { file } = rendered(row, prosodies[0]!);
    const [jicofo, jvb, jvb2] = await checkHoconMany([
      {
        text: file("jicofo", JICOFO_CONF),
        options: { require: ["jicofo.xmpp.client.hostname"], get: ["jicofo.rest.host"] },
      },
      ...["jvb", "jvb2"].map((n) => ({
        text: file(n, JVB_CONF),
        options: {
          require: ["videobridge.websockets.server-id"],
          get: ["videobridge.http-servers.private.host"],
        },
      })),
    ]);
    for (const r of [jicofo, jvb, jvb2]) expect(r!.ok, r!.output).toBe(true);
    expect(jicofo!.got["jicofo.rest.host"]).toBe("0.0.0.0");
    expect(jvb!.got["videobridge.http-servers.private.host"]).toBe("0.0.0.0");
  });
});

describe("the ports' mixed set: jicofo and jvb 9646, web and plugins 10133, prosody 0.12", () => {
  const input = everything({ ...PORTS_RELEASE }, 11, "0.12");
  const nodes = renderDeployment(input);
  const file = (node: string, path: string) => nodes[node]!.files.find((x) => x.path === path)!.content;

  it("prosody follows the 10133 template and needs only the modules of the ports' plugins package", async () => {
    const r = await checkProsody(file("xmpp", XMPP_PATHS.config));
    expect(r.ok, r.output).toBe(true);
    const sections = await prosodySections(file("xmpp", XMPP_PATHS.config));
    for (const s of template(10133, "0.12")) expectSetting(sections, s);
  });

  it("jicofo and jvb follow 9646; each node's log rules follow its own component's release", () => {
    expect(file("jvb", JVB_CONF)).not.toMatch(/^\s+tcp \{$/m);
    expect(file("jicofo", "/etc/jicofo/jicofo.in.sh")).toContain(
      "JICOFO_LOG_CONFIG=/etc/jicofo/logging.properties",
    );
    expect(Object.fromEntries(Object.entries(nodes).map(([n, d]) => [n, d.health.release]))).toEqual({
      vmm: 9646,
      web: 10133,
      xmpp: 10133,
      jicofo: 9646,
      jvb: 9646,
      jvb2: 9646,
      turn: 9646,
    });
  });
});
