// The xmpp VM: prosody with the jitsi plugins (net/prosody, net/jitsi/prosody-plugins), the auth.DOMAIN
// certificate signed by the deployment CA, and the prosody users jicofo and jvb log in as.
//
// Model: the paper's testing-config/prosody.cfg.lua (shared/samples/asiabsdcon-jts.fips.de/), adjusted
// for the prosody version in spec.jitsi.prosody (jitsi-configs.md section 3). The deliberate differences
// from the paper are listed in test/render-web-xmpp.test.ts with their reasons.
import { type NodeSpec, nodeByRole, type Spec } from "@vmmeet/shared";
import { lua } from "./quote.js";
import type { ComponentRender, ComponentRenderer, RenderInput } from "./types.js";
import { GENERATED, PROSODY_HTTP_PORT } from "./web.js";

/** Paths on the xmpp VM (OpenBSD package net/prosody: config in /etc/prosody, data in /var/prosody). */
export const XMPP_PATHS = {
  config: "/etc/prosody/prosody.cfg.lua",
  pidfile: "/var/prosody/prosody.pid",
  log: "/var/prosody/prosody.log",
  errorLog: "/var/prosody/prosody.err",
  plugins: "/usr/local/share/jitsi-prosody-plugins",
} as const;

/** The auth.DOMAIN certificate and key prosody serves on c2s (5222), where the paper put them. */
export function authTlsPaths(spec: Spec): { certificate: string; key: string } {
  return {
    certificate: `/var/prosody/auth.${spec.domain}.crt`,
    key: `/var/prosody/auth.${spec.domain}.key`,
  };
}

const RESTART = [{ service: "prosody", action: "restart" as const }];

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
  return {
    files: [
      {
        path: XMPP_PATHS.config,
        content: prosodyConfig(input),
        // Read by prosody, which runs as _prosody (daemon_user in net/prosody's rc.d script).
        mode: "0640",
        owner: "root",
        group: "_prosody",
        // Holds the TURN secret (external_service_secret) when TURN is on.
        secret: spec.turn.enabled,
        notify: RESTART,
      },
      {
        path: authTls.certificate,
        content: withNewline(pki.authCertPem),
        mode: "0644",
        owner: "root",
        group: "_prosody",
        notify: RESTART,
      },
      {
        path: authTls.key,
        content: withNewline(pki.authKeyPem),
        mode: "0640",
        owner: "root",
        group: "_prosody",
        secret: true,
        notify: RESTART,
      },
    ],
    services: [{ name: "prosody", flags: null, order: 10, graceSeconds: 10 }],
    actions: [
      // The paper's section VIII.A (`prosodyctl register ...`), with generated passwords.
      { kind: "prosody-user", host: `auth.${d}`, user: "focus", password: secrets.focusPassword },
      { kind: "prosody-user", host: `auth.${d}`, user: "jvb", password: secrets.jvbPassword },
      // client_proxy forwards to focus@auth only once the proxy is in its roster (the paper, VIII.A).
      { kind: "prosody-roster-subscribe", proxy: `focus.${d}`, jid: `focus@auth.${d}` },
    ],
    programLogs: [],
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

function prosodyConfig({ spec, secrets }: RenderInput): string {
  const d = spec.domain;
  const version = spec.jitsi.prosody;
  const web = nodeByRole(spec, "web");
  const authTls = authTlsPaths(spec);
  const L: string[] = [];

  // Global modules: the paper's list. admin_shell replaced admin_telnet in 0.12; mod_smacks is bundled
  // from 0.12 on only (jitsi-configs.md section 3), and a module prosody cannot find is an error on
  // every host, so 0.11 goes without it.
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
    "time",
    "uptime",
    "version",
    "admin_adhoc",
    version === "0.11" ? "admin_telnet" : "admin_shell",
  ];

  L.push(
    `-- ${GENERATED}`,
    `-- prosody ${version} on the xmpp VM; the model is the paper's testing-config/prosody.cfg.lua.`,
    "",
    `prosody_user = ${lua("_prosody")}`,
    `prosody_group = ${lua("_prosody")}`,
    "",
    `pidfile = ${lua(XMPP_PATHS.pidfile)}`,
    "",
    "-- mod_client_proxy (focus.DOMAIN below) and mod_roster_command come from net/jitsi/prosody-plugins.",
    `plugin_paths = { ${lua(XMPP_PATHS.plugins)} }`,
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

  // The hosts browsers log in to: modules for BOSH, optionally websocket (+ stream management) and TURN.
  const clientModules = [
    "bosh",
    "pubsub",
    "ping",
    ...(spec.xmppWebsocket ? ["websocket", ...(version === "0.11" ? [] : ["smacks"])] : []),
    ...(spec.turn.enabled ? ["external_services"] : []),
  ];
  const clientHost = (name: string, auth: string, comment: string) => {
    L.push(
      `-- ${comment}`,
      `VirtualHost ${lua(name)}`,
      `    authentication = ${lua(auth)}`,
      ...block("modules_enabled = ", clientModules, "    "),
      // TLS ends at nginx on the web VM (see consider_bosh_secure).
      "    c2s_require_encryption = false",
      "",
    );
  };
  if (spec.auth.mode === "internal") {
    clientHost(d, "internal_hashed", "users log in with an account (auth.mode: internal)");
    if (spec.auth.guests) clientHost(`guest.${d}`, "anonymous", "guests (config.js hosts.anonymousdomain)");
  } else {
    clientHost(d, "anonymous", "everybody joins anonymously (auth.mode: anonymous)");
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
  if (version === "13") {
    L.push(
      "    -- prosody 13 offers mechanisms jicofo and jvb do not use (docker-jitsi-meet 6668c1ba).",
      `    disable_sasl_mechanisms = { ${lua("DIGEST-MD5")}, ${lua("OAUTHBEARER")} }`,
    );
  }
  L.push(
    "",
    `Component ${lua(`conference.${d}`)} ${lua("muc")}`,
    "",
    "-- jicofo is an XMPP client (focus@auth) since jitsi 5765; client_proxy gives it the address focus.DOMAIN.",
    `Component ${lua(`focus.${d}`)} ${lua("client_proxy")}`,
    `    target_address = ${lua(`focus@auth.${d}`)}`,
    "",
    `-- The bridge brewery (${spec.brewery}@internal.auth.DOMAIN): jicofo and every jvb join it.`,
    `Component ${lua(`internal.auth.${d}`)} ${lua("muc")}`,
    `    storage = ${lua("memory")}`,
    ...block("modules_enabled = ", ["ping"], "    "),
    `    admins = { ${lua(`focus@auth.${d}`)}, ${lua(`jvb@auth.${d}`)} }`,
    "    muc_room_locking = false",
    "    muc_room_default_public_jids = true",
    "    muc_room_cache_size = 1000",
  );
  return `${L.join("\n")}\n`;
}
