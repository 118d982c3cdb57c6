// The TCP and UDP flows pf lets through in a deployment, derived from the spec: what topology.svg draws and
// the status page colours. Each flow names the pf.conf rules that carry it, hop by hop (the source VM's
// `pass out`, the VMM host's `pass in` or rdr-to, the destination VM's `pass in`), in one canonical form.
// flows.test.ts reads the rendered pf.conf files back with the pf.conf checker and proves both
// directions: every rule of a flow is in pf.conf, and every pass rule of every pf.conf belongs to a flow.
// Pure, like the renderers, and built from the same facts they use (system.ts and host.ts): the ports,
// the roles, the UDP port of each bridge.
//
// A rule in canonical form: `FILE DIR PROTO FROM[:PORT] > TO:PORT[ rdr-to TARGET]`, where FILE is the node
// whose pf.conf holds the rule (the VMM host by its name), PROTO is tcp, udp or any, and an end is a node
// name, `host` (the VMM host, the VM's gateway), `any`, `admin` or `monitor` (host.adminNetworks,
// host.monitorNetworks) or, after rdr-to only, `resolver` (host.resolver).
import { jvbUdpPort, type Spec } from "@vmmeet/shared";
import { JICOFO_REST_PORT } from "./jicofo.js";
import { JVB_PRIVATE_HTTP_PORT } from "./jvb.js";
import { byRole, type SystemOptions, TURN_RELAY_PORTS, VM_EGRESS_PORTS } from "./system.js";
import { JVB_PUBLIC_HTTP_PORT } from "./web.js";

/** Ends of a flow that are not nodes: the Internet, the VMM host itself, its resolver, extra networks. */
export const WORLD = "@world";
export const HOST = "@host";
export const RESOLVER = "@resolver";
export const ADMIN = "@admin";
export const MONITOR = "@monitor";

export type FlowKind = "public" | "internal" | "egress" | "control" | "admin" | "monitor";

export interface Flow {
  /** Stable within a spec: the status page colours `[data-flow=ID]`. */
  id: string;
  kind: FlowKind;
  /** Node names or one of WORLD, HOST, RESOLVER, ADMIN, MONITOR. */
  from: string[];
  to: string[];
  proto: "tcp" | "udp" | "tcp/udp" | "any";
  /** Destination ports ("80", "49152:65535"); empty: any port. */
  ports: string[];
  /** Source port, when pf names one (a bridge's ICE checks leave from its media port). */
  fromPort?: string;
  /** The VMM host forwards it from its public address (rdr-to on egress). */
  rdr: boolean;
  /** What it is for, for a reader of the picture. */
  what: string;
  /** The pf.conf rules that carry it, in canonical form (see the top of this file). */
  rules: string[];
}

/** The ports the paper opens on prosody for debugging from the admin networks (BOSH, component port). */
const XMPP_DEBUG_PORTS = [5280, 5347] as const;

const portText = (p: number | string) => String(p);

/** An end as a rule in canonical form names it. */
function pfEnd(e: string): string {
  if (e === WORLD || e === RESOLVER) return "any";
  return e.startsWith("@") ? e.slice(1) : e;
}

/** The flows of a deployment, in drawing order. `options` as the pf renderers get them (index.ts). */
export function deploymentFlows(spec: Spec, options: SystemOptions = {}): Flow[] {
  const H = spec.host.name;
  const web = byRole(spec, "web").map((n) => n.name);
  const xmpp = byRole(spec, "xmpp").map((n) => n.name);
  const jicofo = byRole(spec, "jicofo").map((n) => n.name);
  const jvbs = byRole(spec, "jvb");
  const turns = spec.turn.enabled ? byRole(spec, "turn").map((n) => n.name) : [];
  const vms = spec.nodes.map((n) => n.name);
  const admin = spec.host.adminNetworks.length > 0;
  const monitor = spec.host.monitorNetworks.length > 0;
  const relay = `${TURN_RELAY_PORTS.low}:${TURN_RELAY_PORTS.high}`;
  const protos = (p: Flow["proto"]) => (p === "tcp/udp" ? ["tcp", "udp"] : [p]);
  const flows: Flow[] = [];

  /**
   * A flow between two ends and the rules of each hop: the source VM lets it out (unless the source is the
   * host, the world or a network), the host lets it in (or redirects it), the destination VM lets it in.
   */
  const add = (f: Omit<Flow, "rules" | "id">) => {
    const isVm = (e: string) => spec.nodes.some((n) => n.name === e);
    const rules: string[] = [];
    for (const proto of protos(f.proto))
      for (const port of f.ports.length > 0 ? f.ports : ["any"])
        for (const from of f.from)
          for (const to of f.to) {
            const src = f.fromPort ? `${pfEnd(from)}:${f.fromPort}` : pfEnd(from);
            // The source VM's pass out names its peer when the peer is a VM or the host, else any.
            if (isVm(from))
              rules.push(`${from} out ${proto} ${f.fromPort ? src : "any"} > ${pfEnd(to)}:${port}`);
            // The host redirects (from the world), forwards (from a VM) or is an end itself.
            if (f.rdr) rules.push(`${H} in ${proto} ${src} > any:${port} rdr-to ${to}`);
            else if (to === RESOLVER) rules.push(`${H} in ${proto} ${src} > any:${port} rdr-to resolver`);
            else if (from === HOST) rules.push(`${H} out any any > any:any`);
            else rules.push(`${H} in ${proto} ${src} > ${pfEnd(to)}:${port}`);
            // The destination VM's pass in: redirected traffic arrives from any address.
            if (isVm(to)) rules.push(`${to} in ${proto} ${f.rdr ? "any" : pfEnd(from)} > ${to}:${port}`);
          }
    const ends = (e: string[]) => e.map((x) => x.replace("@", "")).join("+");
    const id = `${ends(f.from)}>${ends(f.to)}:${f.proto}/${f.fromPort ? `from${f.fromPort}` : f.ports.join(",") || "any"}`;
    flows.push({ ...f, id, rules: [...new Set(rules)] });
  };

  /** What nginx on each web VM proxies to `to` on `port`. */
  const throughNginx = (to: string[], port: number, what: string) => {
    for (const w of web)
      add({ kind: "internal", from: [w], to, proto: "tcp", ports: [portText(port)], rdr: false, what });
  };

  // From the world, through the host's rdr-to rules (the paper's section VII.A).
  for (const w of web)
    add({
      kind: "public",
      from: [WORLD],
      to: [w],
      proto: "tcp",
      ports: ["80", "443"],
      rdr: true,
      what: "browsers: HTTP and HTTPS",
    });
  for (const j of jvbs)
    add({
      kind: "public",
      from: [WORLD],
      to: [j.name],
      proto: "udp",
      ports: [portText(jvbUdpPort(j))],
      rdr: true,
      what: "media (ICE over UDP)",
    });
  if (spec.host.debugBosh)
    for (const x of xmpp)
      add({
        kind: "public",
        from: [WORLD],
        to: [x],
        proto: "tcp",
        ports: ["5280"],
        rdr: true,
        what: "BOSH straight to prosody (host.debugBosh)",
      });
  for (const t of turns) {
    add({
      kind: "public",
      from: [WORLD],
      to: [t],
      proto: "udp",
      ports: [portText(spec.turn.port)],
      rdr: true,
      what: "TURN over UDP",
    });
    add({
      kind: "public",
      from: [WORLD],
      to: [t],
      proto: "tcp",
      ports: [portText(spec.turn.tlsPort)],
      rdr: true,
      what: "TURN over TLS",
    });
    add({
      kind: "public",
      from: [WORLD],
      to: [t],
      proto: "udp",
      ports: [relay],
      rdr: true,
      what: "relayed media",
    });
  }
  // Media that starts on the VMs: a bridge's ICE checks, coturn's relay to the peers.
  for (const j of jvbs)
    add({
      kind: "public",
      from: [j.name],
      to: [WORLD],
      proto: "udp",
      ports: [],
      fromPort: portText(jvbUdpPort(j)),
      rdr: false,
      what: "ICE checks from the media port (nat-to, static-port)",
    });
  for (const t of turns)
    add({
      kind: "public",
      from: [t],
      to: [WORLD],
      proto: "udp",
      ports: [],
      fromPort: relay,
      rdr: false,
      what: "relayed media to the peers",
    });

  // Between the VMs.
  for (const x of xmpp) {
    add({
      kind: "internal",
      from: [...jicofo, ...jvbs.map((j) => j.name)],
      to: [x],
      proto: "tcp",
      ports: ["5222"],
      rdr: false,
      what: "XMPP client logins (focus, jvb); the brewery",
    });
    throughNginx([x], 5280, "BOSH (and XMPP websockets) through nginx");
  }
  if (spec.bridgeChannel === "colibri-websocket")
    throughNginx(
      jvbs.map((j) => j.name),
      JVB_PUBLIC_HTTP_PORT,
      "colibri websockets through nginx",
    );

  // Every VM: time, packages and certificates to the world (NAT), DNS to the host's resolver, its agent to
  // the coordinator.
  add({
    kind: "egress",
    from: vms,
    to: [WORLD],
    proto: "tcp/udp",
    ports: VM_EGRESS_PORTS.filter((p) => p !== 53).map(portText),
    rdr: false,
    what: "NTP, HTTP, HTTPS (nat-to the egress address)",
  });
  add({
    kind: "egress",
    from: vms,
    to: [RESOLVER],
    proto: "tcp/udp",
    ports: ["53"],
    rdr: false,
    what: "DNS, redirected to host.resolver",
  });
  if (options.coordinatorPort !== undefined)
    add({
      kind: "control",
      from: vms,
      to: [HOST],
      proto: "tcp",
      ports: [portText(options.coordinatorPort)],
      rdr: false,
      what: "vmmeet agents to the coordinator",
    });

  // The host itself, and administration.
  add({
    kind: "control",
    from: [HOST],
    to: [WORLD],
    proto: "any",
    ports: [],
    rdr: false,
    what: "the host's own traffic",
  });
  add({
    kind: "control",
    from: [HOST],
    to: vms,
    proto: "tcp",
    ports: ["22"],
    rdr: false,
    what: "ssh from the host to its VMs",
  });
  add({
    kind: "admin",
    from: [admin ? ADMIN : WORLD],
    to: [HOST],
    proto: "tcp",
    ports: ["22"],
    rdr: false,
    what: admin ? "ssh to the host" : "ssh to the host (host.adminNetworks is empty)",
  });
  if (admin) {
    add({
      kind: "admin",
      from: [ADMIN],
      to: vms,
      proto: "tcp",
      ports: ["22"],
      rdr: false,
      what: "ssh to the VMs",
    });
    for (const x of xmpp)
      add({
        kind: "admin",
        from: [ADMIN],
        to: [x],
        proto: "tcp",
        ports: XMPP_DEBUG_PORTS.map(portText),
        rdr: false,
        what: "debugging prosody: BOSH and the component port",
      });
  }
  if (monitor) {
    for (const j of jicofo)
      add({
        kind: "monitor",
        from: [MONITOR],
        to: [j],
        proto: "tcp",
        ports: [portText(JICOFO_REST_PORT)],
        rdr: false,
        what: "jicofo's REST API (health, statistics)",
      });
    add({
      kind: "monitor",
      from: [MONITOR],
      to: jvbs.map((j) => j.name),
      proto: "tcp",
      ports: [portText(JVB_PRIVATE_HTTP_PORT)],
      rdr: false,
      what: "jvb's private HTTP server (colibri REST, health)",
    });
  }
  return flows;
}

/** `tcp 80,443`, `udp 10000`, `udp from 10000`, `any`: the label of a flow's arrow. */
export function flowLabel(f: Flow): string {
  const ports = f.ports.join(",");
  if (f.proto === "any") return "any";
  if (f.fromPort) return `${f.proto} from ${f.fromPort}`;
  return `${f.proto} ${ports}`;
}
