// What OpenBSD's packages install: every path, user, group, rc.d service name and flag that a renderer or
// the agent assumes about a VM comes from this one table, and each entry names where the fact is written
// (the port, the file in it, and the openbsd/ports commit it was read at). Renderers, the agent and the
// tests take the values from here and never spell them again.
//
// Commits are abbreviated openbsd/ports (or openbsd/src, for base) commit hashes.

/** Where a fact is written: repository path and commit. */
export interface Source {
  /** e.g. "net/prosody" (openbsd/ports) or "base" (openbsd/src). */
  port: string;
  file: string;
  commit: string;
}

export interface Fact<T> {
  value: T;
  source: Source;
}

const src = (port: string, file: string, commit: string): Source => ({ port, file, commit });
const fact = <T>(value: T, source: Source): Fact<T> => ({ value, source });

const PROSODY_PLIST = src("net/prosody", "pkg/PLIST", "730a93b529f9");
const PROSODY_CFG_PATCH = src("net/prosody", "patches/patch-prosody_cfg_lua_dist", "56a0703c690e");
const PROSODY_RC = src("net/prosody", "pkg/prosody.rc", "2d29e0aea3b8");
const PLUGINS_PLIST = src("net/jitsi/prosody-plugins", "pkg/PLIST", "2c55442456bd");
const JICOFO_PLIST = src("net/jitsi/jicofo", "pkg/PLIST", "bfa379beb1b0");
const JICOFO_OLD_PLIST = src("net/jitsi/jicofo", "pkg/PLIST", "3063ccbe4a73");
const JICOFO_WRAPPER = src("net/jitsi/jicofo", "files/jicofo.sh", "3063ccbe4a73");
const JICOFO_RC = src("net/jitsi/jicofo", "pkg/jicofo.rc", "2f8f703402a6");
const JICOFO_MAKEFILE = src("net/jitsi/jicofo", "Makefile", "52dddc1bb948");
const JVB_PLIST = src("net/jitsi/videobridge", "pkg/PLIST", "388643794411");
const JVB_OLD_PLIST = src("net/jitsi/videobridge", "pkg/PLIST", "3063ccbe4a73");
const JVB_WRAPPER = src("net/jitsi/videobridge", "files/jvb.sh", "3063ccbe4a73");
const JVB_RC = src("net/jitsi/videobridge", "pkg/jvb.rc", "2f8f703402a6");
const JVB_MAKEFILE = src("net/jitsi/videobridge", "Makefile", "489d303e6eb8");
const NGINX_MAKEFILE = src("www/nginx", "Makefile", "930a9ec902a8");
const NGINX_RC = src("www/nginx", "pkg/nginx.rc", "ec14803114d6");
const MEET_PLIST = src("net/jitsi/meet", "pkg/PLIST", "1313220a7d0e");
const COTURN_PLIST = src("telephony/coturn", "pkg/PLIST", "0d9fdfd80781");
const COTURN_RC = src("telephony/coturn", "pkg/turnserver.rc", "43875c893a1a");
const ACME_EXAMPLE = src("base", "etc/examples/acme-client.conf", "222ffc23a7c7");
const ACME_MAN = src("base", "usr.sbin/acme-client/acme-client.1", "e06f14db116e");

/** net/prosody: prosody 0.12.4 (13.0.x patches present), Lua 5.4. */
export const PROSODY = {
  /** All binaries in sbin: the port patches the Makefile to `BIN = $(PREFIX)/sbin`. */
  prosodyctl: fact("/usr/local/sbin/prosodyctl", PROSODY_PLIST),
  daemon: fact("/usr/local/sbin/prosody", PROSODY_RC),
  /** prosody's own modules (Lua under /usr/local/lib/prosody/): mod_smacks, mod_external_services, ... */
  modulesDir: fact("/usr/local/lib/prosody/modules", PROSODY_PLIST),
  /** @sample share/examples/prosody/prosody.cfg.lua. */
  config: fact("/etc/prosody/prosody.cfg.lua", PROSODY_PLIST),
  /** data_path (mode 770 _prosody:_prosody): accounts, rosters, pid and logs. */
  dataDir: fact("/var/prosody", PROSODY_PLIST),
  pidfile: fact("/var/prosody/prosody.pid", PROSODY_CFG_PATCH),
  log: fact("/var/prosody/prosody.log", PROSODY_CFG_PATCH),
  errorLog: fact("/var/prosody/prosody.err", PROSODY_CFG_PATCH),
  /** `@newuser _prosody:638`; the rc script's daemon_user. */
  user: fact("_prosody", PROSODY_PLIST),
  group: fact("_prosody", PROSODY_PLIST),
  service: fact("prosody", PROSODY_RC),
  /** daemon_flags: none (the rc script's daemon line carries -D itself). */
  flags: fact(null, PROSODY_RC),
} as const;

/** net/jitsi/prosody-plugins: jitsi-meet's resources/prosody-plugins, outside prosody's plugin_paths. */
export const PROSODY_PLUGINS = {
  dir: fact("/usr/local/share/jitsi-prosody-plugins", PLUGINS_PLIST),
  /**
   * Modules of jitsi-prosody-plugins 2.0.10133 that vmmeet's configurations can name (mod_NAME.lua in the
   * PLIST; `auth_jitsi-anonymous` is the `jitsi-anonymous` authentication provider). The package has no
   * mod_polls_component, mod_features_identity or mod_muc_resource_validate.
   */
  modules: fact(
    [
      "client_proxy",
      "roster_command",
      "auth_jitsi-anonymous",
      "muc_meeting_id",
      "muc_domain_mapper",
      "polls",
      "muc_lobby_rooms",
      "muc_breakout_rooms",
      "room_metadata",
      "room_metadata_component",
      "end_conference",
      "av_moderation",
      "av_moderation_component",
      "speakerstats",
      "speakerstats_component",
      "conference_duration",
      "conference_duration_component",
      "muc_hide_all",
      "muc_filter_access",
      "limits_exception",
      "external_services",
      "smacks",
      "turncredentials",
    ] as readonly string[],
    PLUGINS_PLIST,
  ),
  /** The jitsi-meet release of the package (GH_TAGNAME jitsi-meet_10133). */
  release: fact(10133, src("net/jitsi/prosody-plugins", "Makefile", "2c55442456bd")),
} as const;

/** net/jitsi/jicofo 2.0.9646 (the paper's 2.0.7648 had another logging.properties path). */
export const JICOFO = {
  /** ksh wrapper: sources jicofo.in.sh, exits 1 with a usage text unless given at least one argument. */
  wrapper: fact("/usr/local/bin/jicofo", JICOFO_WRAPPER),
  config: fact("/etc/jicofo/jicofo.conf", JICOFO_PLIST),
  env: fact("/etc/jicofo/jicofo.in.sh", JICOFO_PLIST),
  logConfig: fact("/etc/jicofo/logging.properties", JICOFO_PLIST),
  /** Where 2.0.7648 kept it (the paper's jicofo.in.sh). */
  logConfigBefore9646: fact("/usr/local/share/jicofo/lib/logging.properties", JICOFO_OLD_PLIST),
  /** The wrapper's default JICOFO_TRUSTSTORE. */
  truststore: fact("/etc/ssl/jicofo-key.store", JICOFO_WRAPPER),
  /** `@newuser _jicofo:533`; files 640 root:_jicofo. */
  user: fact("_jicofo", JICOFO_PLIST),
  group: fact("_jicofo", JICOFO_PLIST),
  service: fact("jicofo", JICOFO_RC),
  /** The wrapper needs one argument; --host=DOMAIN is the one the port's README sets. */
  needsFlags: fact(true, JICOFO_WRAPPER),
  /** MODJAVA_VER=11. */
  java: fact(11, JICOFO_MAKEFILE),
} as const;

/** net/jitsi/videobridge 2.0.9646. */
export const JVB = {
  wrapper: fact("/usr/local/bin/jvb", JVB_WRAPPER),
  config: fact("/etc/jvb/jvb.conf", JVB_PLIST),
  env: fact("/etc/jvb/jvb.in.sh", JVB_PLIST),
  properties: fact("/etc/jvb/sip-communicator.properties", JVB_PLIST),
  logConfig: fact("/etc/jvb/logging.properties", JVB_PLIST),
  logConfigBefore9646: fact("/usr/local/share/jvb/lib/logging.properties", JVB_OLD_PLIST),
  /** The wrapper's SC_HOME_LOCATION and SC_HOME_NAME: sip-communicator.properties is read from /etc/jvb. */
  scHomeLocation: fact("/etc", JVB_WRAPPER),
  scHomeName: fact("jvb", JVB_WRAPPER),
  /** `@newuser _jvb:534`; files 640 root:_jvb. */
  user: fact("_jvb", JVB_PLIST),
  group: fact("_jvb", JVB_PLIST),
  service: fact("jvb", JVB_RC),
  flags: fact(null, JVB_RC),
  java: fact(11, JVB_MAKEFILE),
} as const;

/** www/nginx 1.26 and net/jitsi/meet. */
export const NGINX = {
  config: fact("/etc/nginx/nginx.conf", NGINX_MAKEFILE),
  /** Prefix and chroot of the workers (user www's home). */
  chroot: fact("/var/www", NGINX_MAKEFILE),
  errorLog: fact("/var/www/logs/error.log", NGINX_MAKEFILE),
  accessLog: fact("/var/www/logs/access.log", NGINX_MAKEFILE),
  user: fact("www", NGINX_MAKEFILE),
  service: fact("nginx", NGINX_RC),
  flags: fact(null, NGINX_RC),
  /** PREFIX=/var: jitsi-meet's tree, inside nginx's chroot. */
  webRoot: fact("/var/www/jitsi-meet", MEET_PLIST),
  configJs: fact("/var/www/jitsi-meet/config.js", MEET_PLIST),
} as const;

/** telephony/coturn (package turnserver). */
export const COTURN = {
  config: fact("/etc/turnserver.conf", COTURN_PLIST),
  user: fact("_turnserver", COTURN_PLIST),
  group: fact("_turnserver", COTURN_PLIST),
  service: fact("turnserver", COTURN_RC),
} as const;

/** acme-client(1), OpenBSD base. */
export const ACME = {
  config: fact("/etc/acme-client.conf", ACME_EXAMPLE),
  challengeDir: fact("/var/www/acme", ACME_MAN),
} as const;

/** Every fact by a dotted name, for the README's table and for tests that walk all of them. */
export const PORT_DEFAULTS: Record<string, Fact<unknown>> = Object.fromEntries(
  Object.entries({
    prosody: PROSODY,
    "prosody-plugins": PROSODY_PLUGINS,
    jicofo: JICOFO,
    jvb: JVB,
    nginx: NGINX,
    coturn: COTURN,
    acme: ACME,
  }).flatMap(([group, facts]) =>
    Object.entries(facts as Record<string, Fact<unknown>>).map(([k, f]) => [`${group}.${k}`, f]),
  ),
);
