// The Jitsi releases vmmeet renders, as data: each stable release (the jitsi-meet stable tag number) with
// its component versions, the Java it runs on, the prosody versions it is known to work with, and the
// changes between releases that change a rendered file. A release not in this table is refused; a release
// may also be given per component (jicofo, jvb, web, plugins), as OpenBSD's ports ship a mixed set.
//
// Sources: component versions from the jitsi-meet stable metadata (shawnchin/jitsi-repo-metadata
// deps_stable_jitsi-meet.json @72a695c393c0; 11146: the jicofo tag 1189 on stable/jitsi-meet_11146 and
// `git describe` of jitsi-videobridge at that tag); Java from debian/control and the poms of jicofo and
// jitsi-videobridge at each tag; prosody from docker-jitsi-meet prosody/Dockerfile at the same tag.

export const PROSODY_VERSIONS = ["0.11", "0.12", "13"] as const;
export type ProsodyVersion = (typeof PROSODY_VERSIONS)[number];

export const JAVA_VERSIONS = [11, 17, 21] as const;
export type JavaVersion = (typeof JAVA_VERSIONS)[number];

export interface JitsiRelease {
  release: number;
  /** jicofo's tag date. */
  date: string;
  jicofo: string;
  jvb: string;
  /** jitsi-meet (web) and jitsi-meet-prosody (the prosody plugins): one version; null where unknown. */
  web: string | null;
  /** The JDKs the release's debian packages accept. */
  java: readonly JavaVersion[];
  /** prosody versions the release is known to work with (docker-jitsi-meet's image at that tag). */
  prosody: readonly ProsodyVersion[];
  note: string;
}

export const JITSI_RELEASES: readonly JitsiRelease[] = [
  {
    release: 7648,
    date: "2022-08-11",
    jicofo: "1.0-911",
    jvb: "2.2-22-g42bc1b99",
    web: "1.0.6447",
    java: [11],
    prosody: ["0.11", "0.12"],
    note: "the paper's packages (OpenBSD 7.2, net/jitsi 2.0.7648)",
  },
  {
    release: 8044,
    date: "2022-11-11",
    jicofo: "1.0-954",
    jvb: "2.2-61-g98c9f868",
    web: "1.0.6776",
    java: [11],
    prosody: ["0.12"],
    note: "jicofo reads its XMPP settings from jicofo.conf only (xmpp-domain)",
  },
  {
    release: 8319,
    date: "2023-02-21",
    jicofo: "1.0-996",
    jvb: "2.2-79-gf6426ea0",
    web: "1.0.6991",
    java: [11],
    prosody: ["0.12"],
    note: "jvb websockets.domains",
  },
  {
    release: 9646,
    date: "2024-08-01",
    jicofo: "1.0-1090",
    jvb: "2.3-160-g97a1f15b",
    web: "1.0.8091",
    java: [11, 17],
    prosody: ["0.12"],
    note: "OpenBSD's net/jitsi/jicofo and net/jitsi/videobridge 2.0.9646; jvb without ICE/TCP",
  },
  {
    release: 10133,
    date: "2025-03-19",
    jicofo: "1.0-1124",
    jvb: "2.3-215-gbee626bf",
    web: "1.0.8499",
    java: [11, 17],
    prosody: ["0.12", "13"],
    note: "OpenBSD's net/jitsi/prosody-plugins 2.0.10133; the first release with prosody 13 fixes (docker c44206c6)",
  },
  {
    release: 10184,
    date: "2025-04-10",
    jicofo: "1.0-1128",
    jvb: "2.3-220-g7cda0a66",
    web: "1.0.8542",
    java: [11, 17],
    prosody: ["13"],
    note: "docker-jitsi-meet pairs it with prosody 13.0.x (6d969dff)",
  },
  {
    release: 10314,
    date: "2025-06-05",
    jicofo: "1.0-1138",
    jvb: "2.3-236-g95ef6210",
    web: "1.0.8648",
    java: [11, 17],
    prosody: ["13"],
    note: "jicofo's REST server on 127.0.0.1 by default; muc_hide_all in the template",
  },
  {
    release: 10590,
    date: "2025-10-20",
    jicofo: "1.0-1162",
    jvb: "2.3-259-g22868ff7d",
    web: "1.0.8877",
    java: [11, 17],
    prosody: ["13"],
    note: "features_identity, polls as a component, component pointers dropped from the main host",
  },
  {
    release: 11031,
    date: "2026-06-08",
    jicofo: "1.0-1183",
    jvb: "2.3-295-g8d5c0037b",
    web: "1.0.9268",
    java: [17, 21],
    prosody: ["13"],
    note: "Java 17 bytecode (jicofo a09594418, jvb 5bf62d636): does not start on the ports' JDK 11",
  },
  {
    release: 11146,
    date: "2026-08-03",
    jicofo: "1.0-1189",
    jvb: "2.3-307-g4bb0aead1",
    web: null,
    java: [17, 21],
    prosody: ["13"],
    note: "the newest stable release (its web version is not in the stable metadata, which ends at 11031)",
  },
];

export const KNOWN_RELEASES: readonly number[] = JITSI_RELEASES.map((r) => r.release);

export function jitsiRelease(release: number): JitsiRelease | undefined {
  return JITSI_RELEASES.find((r) => r.release === release);
}

/** The components whose version a spec may give separately. */
export const JITSI_COMPONENTS = ["jicofo", "jvb", "web", "plugins"] as const;
export type JitsiComponent = (typeof JITSI_COMPONENTS)[number];

/**
 * OpenBSD's ports tree today: jicofo and jvb 2.0.9646, jitsi-prosody-plugins 2.0.10133, and jitsi-meet
 * 1.0.8529, which is no stable release's web build (10133 ships 1.0.8499, 10169 1.0.8532): its nearest
 * stable release not newer than it is 10133. (net/jitsi/{jicofo,videobridge,prosody-plugins,meet} Makefiles.)
 */
export const PORTS_RELEASE: Readonly<Record<JitsiComponent, number>> = {
  jicofo: 9646,
  jvb: 9646,
  web: 10133,
  plugins: 10133,
};

/** A change between releases that a renderer handles: the first release that has it, and where it is. */
export interface ReleaseChange {
  component: JitsiComponent;
  since: number;
  what: string;
  source: string;
}

const change = (component: JitsiComponent, since: number, what: string, source: string): ReleaseChange => ({
  component,
  since,
  what,
  source,
});

/** The changes the renderers follow, by name. `since` is an upstream stable release number. */
export const CHANGES = {
  jicofoXmppDomain: change(
    "jicofo",
    8044,
    "jicofo ignores --host; jicofo.xmpp.client.xmpp-domain has no default",
    "jitsi/jicofo 2943c21f",
  ),
  jvbWebsocketDomains: change(
    "jvb",
    8319,
    "videobridge.websockets.domains (a list) joins websockets.domain",
    "jitsi/jitsi-videobridge e3a2ae20",
  ),
  jvbNoIceTcp: change("jvb", 9646, "videobridge.ice.tcp removed", "jitsi/jitsi-videobridge 89dde6ea"),
  /** Not upstream: the port moved logging.properties to /etc/{jicofo,jvb} with its 2.0.9646 update. */
  portEtcLayout: change(
    "jicofo",
    9646,
    "logging.properties in /etc/jicofo and /etc/jvb",
    "openbsd/ports net/jitsi/jicofo pkg/PLIST @bfa379beb1b0",
  ),
  jicofoRestLoopback: change(
    "jicofo",
    10314,
    "jicofo.rest.host defaults to 127.0.0.1 (was all interfaces)",
    "jitsi/jicofo 486d8387a",
  ),
  java17: change(
    "jicofo",
    11031,
    "Java 17 bytecode",
    "jitsi/jicofo a09594418, jitsi/jitsi-videobridge 5bf62d636",
  ),
  /** jitsi-meet's prosody template (docker-jitsi-meet prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua). */
  prosody13Fixes: change(
    "plugins",
    10133,
    "component_admins_as_room_owners for prosody 13",
    "jitsi/docker-jitsi-meet c44206c6",
  ),
  mucHideAll: change(
    "plugins",
    10314,
    "muc_hide_all on the conference MUC; muc_hide_all and muc_filter_access on the internal MUC",
    "jitsi/docker-jitsi-meet 24635a63",
  ),
  featuresIdentity: change(
    "plugins",
    10431,
    "features_identity on the main host; speakerstats, room_metadata, end_conference, av_moderation and the *_component pointers dropped from it",
    "jitsi/docker-jitsi-meet 7c2b8b55, 3016b33e",
  ),
  pollsComponent: change(
    "plugins",
    10532,
    'polls moves from the conference MUC to Component "polls.DOMAIN" "polls_component"',
    "jitsi/docker-jitsi-meet a5b307b9",
  ),
  prosodyShell: change(
    "plugins",
    10741,
    "users and the focus roster subscription made with prosodyctl shell (prosody 13)",
    "jitsi/docker-jitsi-meet eab4bff7",
  ),
  smacksMemory: change(
    "plugins",
    11146,
    'storage = { smacks_h = "memory" }: stream-management counters kept in memory',
    "jitsi/docker-jitsi-meet fbbec37d",
  ),
  mucResourceValidate: change(
    "plugins",
    10978,
    "muc_resource_validate (anonymous_strict) on the conference MUC",
    "jitsi/docker-jitsi-meet 43ec99cb",
  ),
} as const;

export type ChangeName = keyof typeof CHANGES;

/** Plugin modules the template starts to use after the ports' plugins release, by the change that adds them. */
export const PLUGIN_MODULES_ADDED: Readonly<Record<string, ChangeName>> = {
  features_identity: "featuresIdentity",
  polls_component: "pollsComponent",
  muc_resource_validate: "mucResourceValidate",
};

/**
 * The jitsi plugin modules a plugins release has, as far as the renderers need to know: the ports'
 * package (`portsModules`, release `portsRelease`) plus the modules added by later changes. For releases
 * before the ports' this is an upper bound (the renderers name those modules only from 9646 on).
 */
export function pluginModules(
  release: number,
  portsModules: readonly string[],
  portsRelease: number,
): string[] {
  const added = Object.entries(PLUGIN_MODULES_ADDED)
    .filter(([, c]) => hasChange(c, release) && CHANGES[c].since > portsRelease)
    .map(([m]) => m);
  return [...portsModules, ...added];
}

/** The release of each component: one number for all, or the spec's per-component numbers. */
export function componentReleases(
  release: number | Readonly<Record<JitsiComponent, number>>,
): Record<JitsiComponent, number> {
  return typeof release === "number"
    ? { jicofo: release, jvb: release, web: release, plugins: release }
    : { ...release };
}

/** Does `version` (a release number of the change's component) have the change? */
export function hasChange(name: ChangeName, version: number): boolean {
  return version >= CHANGES[name].since;
}
