// Which paths and services each role may manage. Both sides enforce it: the coordinator never sends a
// node another role's files, and the agent refuses a desired state naming anything else (an agent runs as
// root and writes /etc: whoever talks to it must not be able to write /etc/master.passwd).
import type { SetupAction } from "./desired.js";
import type { NodeRole } from "./spec.js";

const common = [
  /^\/etc\/pf\.conf$/,
  /^\/etc\/hosts$/,
  /^\/etc\/myname$/,
  /^\/etc\/syslog\.conf$/,
  /^\/etc\/newsyslog\.conf$/,
];
const vmServices = ["syslogd", "pf"];

export const ROLE_ALLOWLIST: Record<NodeRole, { paths: RegExp[]; services: string[] }> = {
  web: {
    paths: [
      ...common,
      /^\/etc\/nginx\/nginx\.conf$/,
      /^\/var\/www\/jitsi-meet\/config\.js$/,
      /^\/etc\/acme-client\.conf$/,
    ],
    services: [...vmServices, "nginx"],
  },
  xmpp: {
    paths: [...common, /^\/etc\/prosody\/prosody\.cfg\.lua$/, /^\/var\/prosody\/[a-z0-9.-]+\.(crt|key)$/],
    services: [...vmServices, "prosody"],
  },
  jicofo: {
    paths: [...common, /^\/etc\/jicofo\/(jicofo\.conf|jicofo\.in\.sh)$/, /^\/etc\/ssl\/jicofo-key\.store$/],
    services: [...vmServices, "jicofo"],
  },
  jvb: {
    paths: [
      ...common,
      /^\/etc\/jvb\/(jvb\.conf|jvb\.in\.sh|sip-communicator\.properties)$/,
      /^\/etc\/ssl\/jvb-key\.store$/,
    ],
    services: [...vmServices, "jvb"],
  },
  turn: { paths: [...common, /^\/etc\/turnserver\.conf$/], services: [...vmServices, "turnserver"] },
  host: {
    paths: [
      /^\/etc\/vm\.conf$/,
      /^\/etc\/pf\.conf$/,
      /^\/etc\/hosts$/,
      /^\/etc\/myname$/,
      /^\/etc\/sysctl\.conf$/,
    ],
    services: ["vmd", "pf", "unbound"],
  },
};

/** Why a path may not be managed by a node of this role, or null when it may. */
export function pathRefusal(role: NodeRole, path: string): string | null {
  if (!path.startsWith("/")) return "not an absolute path";
  if (path.split("/").some((part) => part === ".." || part === ".")) return "contains '.' or '..' components";
  if (/[\0\n\r]/.test(path)) return "contains control characters";
  if (!ROLE_ALLOWLIST[role].paths.some((re) => re.test(path))) return `not a path the ${role} role manages`;
  return null;
}

export function serviceRefusal(role: NodeRole, service: string): string | null {
  return ROLE_ALLOWLIST[role].services.includes(service) ? null : `not a service the ${role} role manages`;
}

/**
 * Setup actions bound to roles (a kind not listed here may run on any node). acme-certificate makes the agent
 * write a key and a certificate and run acme-client(1): only the web node serves the site over TLS, and
 * only its port 80 answers the http-01 challenge.
 */
const ACTION_ROLES: Partial<Record<SetupAction["kind"], readonly NodeRole[]>> = {
  "acme-certificate": ["web"],
};

/**
 * Where acme-certificate may write: the agent creates a placeholder key and certificate there (and
 * acme-client replaces them), so they are confined like managed files are. The key goes to
 * /etc/ssl/private (0700 on OpenBSD), the challenge directory lies inside nginx's /var/www chroot.
 */
export const ACME_PATHS = {
  certificate: /^\/etc\/ssl\/[A-Za-z0-9_][A-Za-z0-9._-]*$/,
  key: /^\/etc\/ssl\/private\/[A-Za-z0-9_][A-Za-z0-9._-]*$/,
  challengeDir: /^\/var\/www\/[A-Za-z0-9_][A-Za-z0-9._-]*$/,
} as const;

/**
 * Why a setup action may not run on a node of this role, or null when it may. A path problem is reported
 * as "FIELD: why" (the coordinator's renderer prefixes the spec section).
 */
export function actionRefusal(role: NodeRole, action: SetupAction): string | null {
  const roles = ACTION_ROLES[action.kind];
  if (roles && !roles.includes(role)) return `not an action the ${role} role runs (${roles.join(", ")} only)`;
  if (action.kind === "acme-certificate") {
    if (!ACME_PATHS.certificate.test(action.certificate))
      return "certificate: must be a file directly in /etc/ssl (acme-client writes it, nginx reads it)";
    if (!ACME_PATHS.key.test(action.key)) return "key: must be a file directly in /etc/ssl/private";
    if (!ACME_PATHS.challengeDir.test(action.challengeDir))
      return "challengeDir: must be a directory directly in /var/www (nginx's chroot)";
  }
  return null;
}
