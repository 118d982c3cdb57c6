// Which paths and services each role may manage. Both sides enforce it: the coordinator never sends a
// node another role's files, and the agent refuses a desired state naming anything else (an agent runs as
// root and writes /etc: whoever talks to it must not be able to write /etc/master.passwd).
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
