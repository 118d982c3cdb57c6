// The optional TURN VM (spec.turn.enabled): coturn's /etc/turnserver.conf.
//
// Not in the paper (it uses public STUN only). Modelled on jitsi-meet's doc/debian/jitsi-meet-turn/
// turnserver.conf as docs/jitsi-config-notes.md section 9 describes it, with the invariants of section 10: the
// secret and ports equal what prosody advertises through mod_external_services (external_service_secret,
// external_services), realm = the domain, external-ip = the public address.
import { COTURN, inCidr, ipToInt, tlsPaths } from "@vmmeet/shared";
import { HEADER } from "./header.js";
import { requireRole } from "./jicofo.js";
import type { ComponentRenderer } from "./types.js";

export const TURN_CONF = COTURN.config.value;

// Peers a TURN client must not reach through the relay: the relay sits inside the VM network, next to
// prosody, jicofo's REST API and the VMM host (coturn's own examples deny private ranges the same way).
const PRIVATE_RANGES = ["0.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.168.0.0/16"];

export const renderTurn: ComponentRenderer = (input, node) => {
  const { spec, secrets } = input;
  requireRole(spec, node, "turn");
  if (!spec.turn.enabled) throw new Error("turn.enabled: the turn renderer was called but TURN is disabled");
  const tls = tlsPaths(spec);
  const denied = [...PRIVATE_RANGES, spec.host.vmNetwork].filter((c, i, all) => all.indexOf(c) === i);
  // Bridges are the one internal peer a relayed client needs: ice4j offers the VM address as a host
  // candidate next to the NAT-mapped public one. allowed-peer-ip takes precedence over denied-peer-ip.
  const bridges = spec.nodes.filter((n) => n.role === "jvb" && denied.some((c) => inCidr(n.address, c)));
  const lines = [
    HEADER,
    // TURN REST API credentials: prosody hands clients time-limited HMAC credentials of this secret.
    "use-auth-secret",
    `static-auth-secret=${line(secrets.turnSecret, "secrets.turnSecret")}`,
    `realm=${spec.domain}`,
    // The ports prosody advertises: turn (udp) on turn.port, turns (tcp) on turn.tlsPort.
    `listening-port=${spec.turn.port}`,
    `tls-listening-port=${spec.turn.tlsPort}`,
    // No plain TCP listener: prosody advertises TCP only as turns (jitsi's template does the same).
    "no-tcp",
    // PUBLIC/PRIVATE: the VM sits behind the VMM host's NAT; coturn maps its own address to the public one.
    `external-ip=${spec.publicAddress}/${node.address}`,
    // turns must present the site's certificate (a browser checks it against DOMAIN), i.e. the web VM's.
    // vmmeet does not copy it to this VM: until it is there coturn logs "cannot find certificate file"
    // and runs without its TLS listeners, plain TURN/UDP keeps working (docs/jitsi-config-notes.md section 9).
    `cert=${tls.certificate}`,
    `pkey=${tls.key}`,
    "no-multicast-peers",
    ...denied.map((c) => `denied-peer-ip=${cidrRange(c)}`),
    ...bridges.map((n) => `allowed-peer-ip=${n.address}`),
    // The telnet CLI on loopback has no password by default; nothing here uses it.
    "no-cli",
    "syslog",
  ];
  return {
    files: [
      {
        path: TURN_CONF,
        content: `${lines.join("\n")}\n`,
        // coturn reads its config as root or as _turnserver: group read, nothing for others.
        mode: "0640",
        owner: "root",
        group: COTURN.group.value,
        secret: true,
        notify: [{ service: COTURN.service.value, action: "restart" }],
      },
    ],
    // The node's only Jitsi service; 10 keeps it ahead of anything added to the turn VM later.
    services: [{ name: COTURN.service.value, flags: null, order: 10, graceSeconds: 10 }],
    actions: [],
    programLogs: [],
    logs: [],
    probes: [],
  };
};

/** coturn takes peer ranges as FIRST-LAST, not CIDR. */
export function cidrRange(cidr: string): string {
  const [net, lenText] = cidr.split("/");
  const size = 2 ** (32 - Number(lenText));
  const base = Math.floor(ipToInt(net ?? "") / size) * size;
  return `${intToIp(base)}-${intToIp(base + size - 1)}`;
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

// coturn's config is `name=value` lines without quoting: a value with a blank, '#' or a line break would
// be cut or start a new option.
function line(value: string, where: string): string {
  if (!/^[A-Za-z0-9._~+/=-]+$/.test(value)) throw new Error(`${where}: not a value turnserver.conf can hold`);
  return value;
}
