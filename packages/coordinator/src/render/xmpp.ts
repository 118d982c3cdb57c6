// The xmpp VM: prosody with the jitsi plugins (net/prosody, net/jitsi/prosody-plugins), the auth.DOMAIN
// certificate signed by the deployment CA, and the prosody users jicofo and jvb log in as.
//
// Model: the paper's testing-config/prosody.cfg.lua (double-p/presentations AsiaBSDCon/2023) for the
// releases before 9646, and from 9646 on jitsi-meet's own prosody template for the release of the prosody
// plugins (docker-jitsi-meet prosody/rootfs/defaults/conf.d/jitsi-meet.cfg.lua at the release's tag: the
// conference MUC's modules and settings, the lobby, breakout-room and other components), adjusted for the
// prosody version in spec.jitsi.prosody (docs/jitsi-config-notes.md section 3). The deliberate differences from the
// paper are listed in test/render-web-xmpp.test.ts, those from the template in test/render-releases.test.ts,
// each with its reason.
import {
  hasChange,
  type NodeSpec,
  nodeByRole,
  PROSODY,
  PROSODY_PLUGINS,
  releaseOf,
  type Spec,
} from "@vmmeet/shared";
import { GENERATED } from "./header.js";
import { lua } from "./quote.js";
import type { ComponentRender, ComponentRenderer, RenderInput } from "./types.js";
import { PROSODY_HTTP_PORT } from "./web.js";

/** Paths on the xmpp VM (OpenBSD package net/prosody: config in /etc/prosody, data in /var/prosody). */
export const XMPP_PATHS = {
  config: PROSODY.config.value,
  pidfile: PROSODY.pidfile.value,
  log: PROSODY.log.value,
  errorLog: PROSODY.errorLog.value,
  plugins: PROSODY_PLUGINS.dir.value,
} as const;

/** The auth.DOMAIN certificate and key prosody serves on c2s (5222), where the paper put them. */
export function authTlsPaths(spec: Spec): { certificate: string; key: string } {
  return {
    certificate: `${PROSODY.dataDir.value}/auth.${spec.domain}.crt`,
    key: `${PROSODY.dataDir.value}/auth.${spec.domain}.key`,
  };
}

/**
 * The first plugins release whose prosody configuration follows jitsi-meet's template: 9646, the release
 * OpenBSD packaged after the paper's. Before it the paper's configuration is the model (a bare conference
 * MUC): the release table holds no template of those releases.
 */
export const TEMPLATE_FROM = 9646;

const RESTART = [{ service: PROSODY.service.value, action: "restart" as const }];

export const renderXmpp: ComponentRenderer = (input: RenderInput, node: NodeSpec): ComponentRender => {
  const { spec, secrets, pki } = input;
  if (node.role !== "xmpp") {
    throw new Error(`nodes[${spec.nodes.indexOf(node)}].role: renderXmpp called for a ${node.role} node`);
  }
  if (spec.turn.enabled && secrets.turnSecret.length === 0) {
    throw new Error("turn.enabled: TURN is on but the deployment has no TURN secret (secrets.turnSecret)");
  }
  if (!pki.authCertPem.includes("-----BEGIN") || !pki.authKeyPem.includes("-----BEGIN")) {
    throw new Error(`domain: no PEM certificate/key for auth.${spec.domain} in the deployment PKI`);
  }
  const d = spec.domain;
  const authTls = authTlsPaths(spec);
  // Only prosody 13 changes the commands: older messages (and agents) stay as they were.
  const via = spec.jitsi.prosody === "13" ? { prosody: "13" as const } : {};
  return {
    files: [
      {
        path: XMPP_PATHS.config,
        content: prosodyConfig(input),
        // Read by prosody, which runs as _prosody (daemon_user in net/prosody's rc.d script).
        mode: "0640",
        owner: "root",
        group: PROSODY.group.value,
        // Holds the TURN secret (external_service_secret) when TURN is on.
        secret: spec.turn.enabled,
        notify: RESTART,
      },
      {
        path: authTls.certificate,
        content: withNewline(pki.authCertPem),
        mode: "0644",
        owner: "root",
        group: PROSODY.group.value,
        notify: RESTART,
      },
      {
        path: authTls.key,
        content: withNewline(pki.authKeyPem),
        mode: "0640",
        owner: "root",
        group: PROSODY.group.value,
        secret: true,
        notify: RESTART,
      },
    ],
    services: [{ name: PROSODY.service.value, flags: PROSODY.flags.value, order: 10, graceSeconds: 10 }],
    actions: [
      // The paper's section VIII.A (`prosodyctl register ...`), with generated passwords; prosody 13 the
      // way it does it (`prosodyctl shell user create`), which the agent chooses by `prosody`.
      { kind: "prosody-user", host: `auth.${d}`, user: "focus", password: secrets.focusPassword, ...via },
      { kind: "prosody-user", host: `auth.${d}`, user: "jvb", password: secrets.jvbPassword, ...via },
      // client_proxy forwards to focus@auth only once the proxy is in its roster (the paper, VIII.A).
      { kind: "prosody-roster-subscribe", proxy: `focus.${d}`, jid: `focus@auth.${d}`, ...via },
    ],
    // prosody writes its own logs (net/prosody's dist config) and no package rotates them: newsyslog does,
    // then HUPs prosody, which reopens them (mod_posix).
    programLogs: [XMPP_PATHS.log, XMPP_PATHS.errorLog].map((path) => ({
      program: "prosody",
      path,
      owner: PROSODY.user.value,
      group: PROSODY.group.value,
      mode: "0640",
      keep: 7,
      sizeKb: 1024,
      self: { pidfile: XMPP_PATHS.pidfile, signal: "SIGHUP" },
    })),
    logs: [
      { component: "prosody", path: XMPP_PATHS.log },
      { component: "prosody", path: XMPP_PATHS.errorLog },
    ],
    probes: [{ component: "prosody", service: "prosody", ports: [5222, PROSODY_HTTP_PORT] }],
  };
};

function withNewline(text: string): string {
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** A Lua list of strings, one per line, `;`-separated as in the paper. */
function luaList(items: readonly string[], indent: string): string[] {
  return ["{", ...items.map((i) => `${indent}    ${lua(i)};`), `${indent}}`];
}

function block(head: string, items: readonly string[], indent: string): string[] {
  const [first, ...rest] = luaList(items, indent);
  return [`${indent}${head}${first}`, ...rest];
}

/** What jitsi-meet's prosody template of a plugins release holds, as the renderer follows it. */
export interface ProsodyTemplate {
  /** false before TEMPLATE_FROM: the paper's configuration. */
  template: boolean;
  /** The anonymous login provider: jitsi's `jitsi-anonymous` (docker since stable-6433) or prosody's. */
  anonymousAuth: "jitsi-anonymous" | "anonymous";
  /** Modules the main VirtualHost loads for jitsi-meet's features, besides BOSH and friends. */
  mainModules: string[];
  /** `key = "component.DOMAIN"` settings of the main VirtualHost: component name by setting. */
  mainPointers: Record<string, string>;
  conferenceModules: string[];
  /** Components beside the conference MUC: [subdomain, component module]. */
  components: [string, string][];
  internalModules: string[];
  authModules: string[];
  /** `storage = { smacks_h = "memory" }` in the global section. */
  smacksMemory: boolean;
}

/** The template of the plugins release `plugins` (jitsi-meet-prosody), by the changes in releases.ts. */
export function prosodyTemplate(plugins: number): ProsodyTemplate {
  if (plugins < TEMPLATE_FROM) {
    return {
      template: false,
      anonymousAuth: "anonymous",
      mainModules: [],
      mainPointers: {},
      conferenceModules: [],
      components: [],
      internalModules: [],
      authModules: [],
      smacksMemory: false,
    };
  }
  const has = (c: Parameters<typeof hasChange>[0]) => hasChange(c, plugins);
  // From 10431 the main host loads features_identity and no longer points at the components it used to
  // list (docker-jitsi-meet 7c2b8b55, 3016b33e); conference_duration's component goes then too.
  const slim = has("featuresIdentity");
  const mainPointers: Record<string, string> = {
    main_muc: "conference",
    lobby_muc: "lobby",
    breakout_rooms_muc: "breakout",
    ...(slim
      ? {}
      : {
          room_metadata_component: "metadata",
          speakerstats_component: "speakerstats",
          conference_duration_component: "conferenceduration",
          end_conference_component: "endconference",
          av_moderation_component: "avmoderation",
        }),
  };
  return {
    template: true,
    anonymousAuth: "jitsi-anonymous",
    mainModules: slim
      ? ["features_identity", "conference_duration", "muc_lobby_rooms", "muc_breakout_rooms"]
      : [
          "speakerstats",
          "conference_duration",
          "room_metadata",
          "end_conference",
          "muc_lobby_rooms",
          "muc_breakout_rooms",
          "av_moderation",
        ],
    mainPointers,
    conferenceModules: [
      "muc_meeting_id",
      ...(has("pollsComponent") ? [] : ["polls"]),
      ...(has("mucHideAll") ? ["muc_hide_all"] : []),
      ...(has("mucResourceValidate") ? ["muc_resource_validate"] : []),
    ],
    components: [
      ["speakerstats", "speakerstats_component"],
      ...(slim ? [] : ([["conferenceduration", "conference_duration_component"]] as [string, string][])),
      ["endconference", "end_conference"],
      ["avmoderation", "av_moderation_component"],
      ["metadata", "room_metadata_component"],
      ...(has("pollsComponent") ? ([["polls", "polls_component"]] as [string, string][]) : []),
    ],
    internalModules: has("mucHideAll") ? ["muc_hide_all", "muc_filter_access"] : [],
    authModules: ["limits_exception"],
    smacksMemory: has("smacksMemory"),
  };
}

function prosodyConfig({ spec, secrets }: RenderInput): string {
  const d = spec.domain;
  const version = spec.jitsi.prosody;
  const web = nodeByRole(spec, "web");
  const authTls = authTlsPaths(spec);
  const t = prosodyTemplate(releaseOf(spec, "plugins"));
  const L: string[] = [];

  // Global modules: the paper's list. admin_shell replaced admin_telnet in 0.12; mod_smacks is bundled
  // from 0.12 on only (docs/jitsi-config-notes.md section 3), and a module prosody cannot find is an error on
  // every host, so 0.11 goes without it. jitsi-meet's template for prosody 13 no longer loads time, uptime
  // and admin_adhoc (docker-jitsi-meet eab4bff7); admin_shell stays: `prosodyctl shell` needs it.
  const globalModules = [
    "disco",
    "roster",
    "saslauth",
    "tls",
    "blocklist",
    "carbons",
    ...(version === "0.11" ? [] : ["smacks"]),
    "ping",
    "register",
    ...(version === "13" ? [] : ["time", "uptime"]),
    "version",
    ...(version === "13" ? [] : ["admin_adhoc"]),
    version === "0.11" ? "admin_telnet" : "admin_shell",
  ];

  L.push(
    `-- ${GENERATED}`,
    t.template
      ? `-- prosody ${version} on the xmpp VM; the model is jitsi-meet's prosody template of release ${releaseOf(spec, "plugins")}.`
      : `-- prosody ${version} on the xmpp VM; the model is the paper's testing-config/prosody.cfg.lua.`,
    "",
    `prosody_user = ${lua(PROSODY.user.value)}`,
    `prosody_group = ${lua(PROSODY.group.value)}`,
    "",
    `pidfile = ${lua(XMPP_PATHS.pidfile)}`,
    "",
    "-- mod_client_proxy (focus.DOMAIN below), mod_roster_command and jitsi-meet's modules come from",
    "-- net/jitsi/prosody-plugins. That directory also holds copies of modules prosody ships itself (mod_smacks,",
    "-- the XEP-0215 module), which would shadow prosody's own (docker-jitsi-meet deletes jitsi's mod_smacks",
    "-- for 0.12.4 and later): prosody's module directory comes first, so its own modules win.",
    `plugin_paths = { ${lua(PROSODY.modulesDir.value)}, ${lua(XMPP_PATHS.plugins)} }`,
    "",
    ...block("modules_enabled = ", globalModules, ""),
    "",
    "-- nginx on the web VM proxies BOSH (and XMPP websockets) to this port. Without http_interfaces,",
    "-- prosody 0.12 binds HTTP to loopback only and nginx gets 'connection refused'.",
    `http_ports = { ${PROSODY_HTTP_PORT} }`,
    `http_interfaces = { ${lua("*")}, ${lua("::")} }`,
    "-- Client addresses in X-Forwarded-For are believed from nginx (and loopback) only.",
    `trusted_proxies = { ${lua("127.0.0.1")}, ${lua("::1")}, ${lua(web.address)} }`,
    "-- Browsers reach nginx over https; nginx talks to prosody inside the VMM host's VM network.",
    "consider_bosh_secure = true",
  );
  if (spec.xmppWebsocket) L.push("consider_websocket_secure = true");
  if (t.template) {
    L.push(
      "-- jicofo (focus) owns the conference rooms and creates them (restrict_room_creation below); the",
      "-- bridges are admins of the brewery.",
      `admins = { ${lua(`focus@auth.${d}`)}, ${lua(`jvb@auth.${d}`)} }`,
      "-- The main domain, for jitsi's plugins (their room lookups; jitsi-meet's own templates set it). From",
      "-- release 11031 on end_conference, av_moderation_component, polls_component and room_metadata_component",
      "-- turn themselves off without it (render/invariants/plugins.ts has each plugin's source line).",
      `muc_mapper_domain_base = ${lua(d)}`,
    );
  }
  if (t.smacksMemory && version !== "0.11") {
    L.push("-- Stream-management counters need no persistence (docker-jitsi-meet fbbec37d).");
    L.push(`storage = { smacks_h = ${lua("memory")} }`);
  }
  if (version === "13") {
    L.push(
      "-- prosody 13 no longer makes component admins room owners by default; jicofo (focus) and the",
      "-- bridges rely on it in the brewery (docker-jitsi-meet c44206c6).",
      "component_admins_as_room_owners = true",
    );
  }
  if (spec.turn.enabled) {
    const common = `host = ${lua(d)}`;
    L.push(
      "",
      "-- TURN credentials for the clients (XEP-0215, mod_external_services). The secret is coturn's",
      "-- static-auth-secret; the ports are coturn's listening-port and tls-listening-port.",
      `external_service_secret = ${lua(secrets.turnSecret)}`,
      "external_services = {",
      `    { type = ${lua("stun")}, ${common}, port = ${spec.turn.port} },`,
      `    { type = ${lua("turn")}, ${common}, port = ${spec.turn.port}, transport = ${lua("udp")}, secret = true, ttl = 86400, algorithm = ${lua("turn")} },`,
      `    { type = ${lua("turns")}, ${common}, port = ${spec.turn.tlsPort}, transport = ${lua("tcp")}, secret = true, ttl = 86400, algorithm = ${lua("turn")} },`,
      "}",
    );
  }
  L.push(
    "",
    "log = {",
    `    info = ${lua(XMPP_PATHS.log)};`,
    `    error = ${lua(XMPP_PATHS.errorLog)};`,
    "}",
    "",
  );

  // The hosts browsers log in to: modules for BOSH, optionally websocket (+ stream management) and TURN,
  // and from 9646 on the modules of jitsi-meet's features (lobby, breakout rooms, ...).
  const clientModules = [
    "bosh",
    "pubsub",
    "ping",
    ...(spec.xmppWebsocket ? ["websocket", ...(version === "0.11" ? [] : ["smacks"])] : []),
    ...(spec.turn.enabled ? ["external_services"] : []),
  ];
  const clientHost = (name: string, auth: string, comment: string, main: boolean) => {
    L.push(
      `-- ${comment}`,
      `VirtualHost ${lua(name)}`,
      `    authentication = ${lua(auth)}`,
      ...block("modules_enabled = ", [...clientModules, ...(main ? t.mainModules : [])], "    "),
      // TLS ends at nginx on the web VM (see consider_bosh_secure).
      "    c2s_require_encryption = false",
    );
    if (main) {
      for (const [key, sub] of Object.entries(t.mainPointers)) L.push(`    ${key} = ${lua(`${sub}.${d}`)}`);
    }
    if (auth === "internal_hashed" && version === "13") {
      L.push(
        "    -- prosody 13 offers mechanisms the web client does not use (docker-jitsi-meet 6668c1ba).",
        `    disable_sasl_mechanisms = { ${lua("DIGEST-MD5")}, ${lua("OAUTHBEARER")} }`,
      );
    }
    L.push("");
  };
  if (spec.auth.mode === "internal") {
    clientHost(d, "internal_hashed", "users log in with an account (auth.mode: internal)", true);
    if (spec.auth.guests)
      clientHost(`guest.${d}`, t.anonymousAuth, "guests (config.js hosts.anonymousdomain)", false);
  } else {
    clientHost(d, t.anonymousAuth, "everybody joins anonymously (auth.mode: anonymous)", true);
  }

  L.push(
    "-- jicofo (focus) and the bridges (jvb) log in here over c2s with TLS; the certificate is signed by",
    "-- the deployment CA that is in their Java truststores.",
    `VirtualHost ${lua(`auth.${d}`)}`,
    "    ssl = {",
    `        key = ${lua(authTls.key)};`,
    `        certificate = ${lua(authTls.certificate)};`,
    "    }",
    `    authentication = ${lua("internal_hashed")}`,
  );
  if (t.authModules.length > 0) L.push(...block("modules_enabled = ", t.authModules, "    "));
  if (version === "13") {
    L.push(
      "    -- prosody 13 offers mechanisms jicofo and jvb do not use (docker-jitsi-meet 6668c1ba).",
      `    disable_sasl_mechanisms = { ${lua("DIGEST-MD5")}, ${lua("OAUTHBEARER")} }`,
    );
  }
  L.push("", `Component ${lua(`conference.${d}`)} ${lua("muc")}`);
  if (t.template) {
    L.push(
      "    -- Only admins (focus) create rooms; jicofo 9646 logs a warning without a meeting id.",
      "    restrict_room_creation = true",
      `    storage = ${lua("memory")}`,
      ...block("modules_enabled = ", t.conferenceModules, "    "),
      ...(t.conferenceModules.includes("muc_resource_validate") ? ["    anonymous_strict = true"] : []),
      "    muc_room_locking = false",
      "    muc_room_default_public_jids = true",
      "    muc_tombstones = false",
      "    muc_room_allow_persistent = false",
      "",
      "-- The lobby and breakout rooms of the conference (mod_muc_lobby_rooms, mod_muc_breakout_rooms).",
    );
    for (const sub of ["lobby", "breakout"]) {
      L.push(
        `Component ${lua(`${sub}.${d}`)} ${lua("muc")}`,
        "    restrict_room_creation = true",
        `    storage = ${lua("memory")}`,
        "    muc_room_locking = false",
        "    muc_room_default_public_jids = true",
        "    muc_tombstones = false",
        "    muc_room_allow_persistent = false",
      );
    }
    L.push("", "-- jitsi-meet's feature components, each serving the conference MUC.");
    for (const [sub, module] of t.components) {
      L.push(
        `Component ${lua(`${sub}.${d}`)} ${lua(module)}`,
        `    muc_component = ${lua(`conference.${d}`)}`,
      );
      if (module === "room_metadata_component")
        L.push(`    breakout_rooms_component = ${lua(`breakout.${d}`)}`);
    }
  }
  L.push(
    "",
    "-- jicofo is an XMPP client (focus@auth) since jitsi 5765; client_proxy gives it the address focus.DOMAIN.",
    `Component ${lua(`focus.${d}`)} ${lua("client_proxy")}`,
    `    target_address = ${lua(`focus@auth.${d}`)}`,
    "",
    `-- The bridge brewery (${spec.brewery}@internal.auth.DOMAIN): jicofo and every jvb join it.`,
    `Component ${lua(`internal.auth.${d}`)} ${lua("muc")}`,
    `    storage = ${lua("memory")}`,
    ...block("modules_enabled = ", ["ping", ...t.internalModules], "    "),
    `    admins = { ${lua(`focus@auth.${d}`)}, ${lua(`jvb@auth.${d}`)} }`,
    "    muc_room_locking = false",
    "    muc_room_default_public_jids = true",
    "    muc_room_cache_size = 1000",
  );
  if (t.template) {
    L.push(
      "    restrict_room_creation = true",
      `    muc_filter_whitelist = ${lua(`auth.${d}`)}`,
      "    muc_tombstones = false",
      "    muc_room_allow_persistent = false",
    );
  }
  return `${L.join("\n")}\n`;
}
