// The VMM host node (spec.host.name): /etc/vm.conf, /etc/pf.conf, /etc/hosts, /etc/myname,
// /etc/sysctl.conf, and vmd.
//
// Model: the paper's section VI.A "VM setup" (vm.conf in template form, net.inet.ip.forwarding=1), VI.B
// (/etc/hosts "on each VM and on the VMM host") and VII.A "VMM" (rdr-to and pass rules). Deliberate
// differences, listed with their reasons in test/render-system.test.ts:
// - NAT (match out on egress ... nat-to): the paper assumes the VMs reach out through the host but shows
//   no nat-to; without it nothing from 100.64/10 comes back;
// - one rdr-to per bridge, each on its own UDP port (horizontal scale, the paper's section VII.D idea),
//   and the bridges' media leaves with its port unchanged (static-port);
// - the 5280 debug forward only with host.debugBosh;
// - the host filters what it forwards between VMs and from the VMs to the world (it is their router), and
//   lets in ssh from the admin networks (from anywhere when none are given: a reload must not lock the
//   operator out).
import { jvbUdpPort, type NodeSpec, type Spec, vmMemory } from "@vmmeet/shared";
import { parseSize } from "./grammar/vmconf.js";
import { HEADER } from "./header.js";
import { JICOFO_REST_PORT } from "./jicofo.js";
import { JVB_PRIVATE_HTTP_PORT } from "./jvb.js";
import { bare } from "./quote.js";
import {
  byRole,
  HOSTS,
  hostsFile,
  MYNAME,
  networkMacros,
  nodeMacros,
  PF_CONF,
  pfList,
  portList,
  refs,
  type SystemOptions,
  TURN_RELAY_PORTS,
  VM_EGRESS_PORTS,
} from "./system.js";
import type { ComponentRender, RenderInput } from "./types.js";
import { JVB_PUBLIC_HTTP_PORT } from "./web.js";

export const VM_CONF = "/etc/vm.conf";
export const SYSCTL_CONF = "/etc/sysctl.conf";
/** vmd's default `local prefix` (vm.conf(5)); another host.vmNetwork is written into vm.conf. */
export const VMD_DEFAULT_PREFIX = "100.64.0.0/10";

export function renderHost(input: RenderInput, options: SystemOptions = {}): ComponentRender {
  const { spec } = input;
  const root = { owner: "root", group: "wheel" } as const;
  return {
    files: [
      {
        path: VM_CONF,
        content: vmConf(spec),
        mode: "0644",
        ...root,
        // vmd re-reads vm.conf on SIGHUP (rcctl reload vmd); running VMs keep running.
        notify: [{ service: "vmd", action: "reload" }],
      },
      {
        path: PF_CONF,
        content: hostPfConf(spec, options),
        mode: "0600",
        ...root,
        notify: [{ service: "pf", action: "reload" }],
      },
      { path: HOSTS, content: hostsFile(spec), mode: "0644", ...root },
      { path: MYNAME, content: `${spec.host.name}\n`, mode: "0644", ...root },
      // Read at boot; the running value is set with sysctl(8), which no setup action does yet.
      { path: SYSCTL_CONF, content: sysctlConf(), mode: "0644", ...root },
    ],
    services: [{ name: "vmd", flags: null, order: 10, graceSeconds: 10 }],
    actions: [],
    programLogs: [],
    logs: [],
    probes: [],
  };
}

// ---------------------------------------------------------------------------------------------------------
// vm.conf

/** A vm.conf quoted string. Spec paths and names cannot hold these characters; this is the second fence. */
function vmq(value: string, where: string): string {
  if (/["\\\u0000-\u001f\u007f]/.test(value))
    throw new Error(`refusing to render ${JSON.stringify(value)} into ${where}`);
  return `"${value}"`;
}

export function diskPath(spec: Spec, node: NodeSpec): string {
  return `${spec.host.imageDir.replace(/\/+$/, "")}/${node.name}.qcow2`;
}

function vmConf(spec: Spec): string {
  const [template, ...instances] = spec.nodes;
  if (!template) throw new Error("nodes: the spec lists no VM");
  const disk = (n: NodeSpec) =>
    `\tdisk ${vmq(diskPath(spec, n), `vm.conf disk of ${n.name} (host.imageDir)`)} format qcow2`;
  const lines = [
    HEADER,
    "# vm.conf(5) in the paper's template form: the first VM is the template, every other VM an instance of",
    "# it that changes its disk, its memory when it differs, and enable/disable when it differs.",
    "# vmd gives each VM its local interface address; the spec's node addresses must be those.",
  ];
  if (spec.host.vmNetwork !== VMD_DEFAULT_PREFIX)
    lines.push("", `local prefix ${bare(spec.host.vmNetwork, "vm.conf local prefix (host.vmNetwork)")}`);
  lines.push(
    "",
    `vm ${vmq(template.name, "vm.conf vm name")} {`,
    `\t${template.vm.enable ? "enable" : "disable"}`,
    `\tmemory ${bare(vmMemory(template), "vm.conf memory")}`,
    disk(template),
    "\tlocal interface { up }",
    "}",
  );
  for (const n of instances) {
    lines.push(
      "",
      `vm ${vmq(template.name, "vm.conf vm name")} instance ${vmq(n.name, "vm.conf instance name")} {`,
    );
    // vm.conf(5): a VM is enabled unless it says disable. Whether an instance inherits its template's
    // disable is not documented, so a disabled instance always says so.
    if (!n.vm.enable) lines.push("\tdisable");
    else if (!template.vm.enable) lines.push("\tenable");
    if (parseSize(vmMemory(n)) !== parseSize(vmMemory(template)))
      lines.push(`\tmemory ${bare(vmMemory(n), "vm.conf memory")}`);
    lines.push(disk(n), "}");
  }
  return `${lines.join("\n")}\n`;
}

function sysctlConf(): string {
  return [
    HEADER,
    "# The host routes the VMs' traffic (the paper, section VI.A).",
    "net.inet.ip.forwarding=1",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------------------
// pf.conf of the host

function hostPfConf(spec: Spec, options: SystemOptions): string {
  const egress = bare(spec.host.egress, "pf.conf egress interface (host.egress)");
  const admin = spec.host.adminNetworks;
  const monitor = spec.host.monitorNetworks;
  const web = byRole(spec, "web");
  const xmpp = byRole(spec, "xmpp");
  const jicofo = byRole(spec, "jicofo");
  const jvbs = byRole(spec, "jvb");
  const turns = spec.turn.enabled ? byRole(spec, "turn") : [];
  const colibri = spec.bridgeChannel === "colibri-websocket";
  const relay = `${TURN_RELAY_PORTS.low}:${TURN_RELAY_PORTS.high}`;

  const lines: string[] = [
    HEADER,
    `# pf.conf(5) of the VMM host "${spec.host.name}": NAT and forwarding for the VMs (the paper, section VII.A).`,
    "",
    "# The deployment's VMs (the names of /etc/hosts).",
    ...nodeMacros(spec),
    `all_vms = ${pfList(
      spec.nodes.map((n) => n.address),
      "pf.conf all_vms",
    )}`,
    `vm_net = "${bare(spec.host.vmNetwork, "pf.conf vm_net (host.vmNetwork)")}"`,
    `dns_resolver = "${bare(spec.host.resolver, "pf.conf dns_resolver (host.resolver)")}"`,
    ...networkMacros(spec),
  ];

  lines.push(
    "",
    "set skip on lo",
    "",
    "# NAT: the VMs reach the world through the host's egress address. A bridge's media keeps its port",
    "# (static-port): ice4j announces PUBLIC:port and a check the bridge starts must leave from that port.",
    "# A match rule translates at once, so these come before the generic rule, which then no longer",
    "# sees the bridge's packets.",
    ...jvbs.map(
      (j) =>
        `match out on ${egress} inet proto udp from ${refs(spec, [j])} port ${jvbUdpPort(j)} nat-to (${egress}) static-port`,
    ),
    `match out on ${egress} inet from $vm_net nat-to (${egress})`,
    "",
    "block return log",
    "",
    "# The host itself: everything out (and what it forwards, already filtered where it came in).",
    "pass out",
  );
  if (admin.length > 0) lines.push("pass in proto tcp from $admin_nets to self port 22");
  else
    lines.push(
      "# ssh from anywhere: host.adminNetworks is empty, and a reload must not lock the operator out.",
      "pass in proto tcp to self port 22",
    );
  if (options.coordinatorPort !== undefined) {
    lines.push(
      "# vmmeet agents to the coordinator (each VM reaches the host at its gateway address).",
      `pass in proto tcp from $all_vms to self port ${options.coordinatorPort}`,
    );
  }

  lines.push(
    "",
    "# From the world (the paper's rdr-to rules).",
    `pass in on ${egress} proto tcp to any port { 80 443 } rdr-to ${refs(spec, web)}`,
    "# One UDP media port per bridge: a bridge more is a port more (horizontal scale).",
    ...jvbs.map(
      (j) => `pass in on ${egress} proto udp to any port ${jvbUdpPort(j)} rdr-to ${refs(spec, [j])}`,
    ),
  );
  if (spec.host.debugBosh)
    lines.push(
      "# host.debugBosh: BOSH straight to prosody (the paper's debug rule).",
      `pass in on ${egress} proto tcp to any port 5280 rdr-to ${refs(spec, xmpp)}`,
    );
  for (const t of turns) {
    lines.push(
      "# TURN: the ports prosody advertises, and coturn's relay ports.",
      `pass in on ${egress} proto udp to any port ${spec.turn.port} rdr-to ${refs(spec, [t])}`,
      `pass in on ${egress} proto tcp to any port ${spec.turn.tlsPort} rdr-to ${refs(spec, [t])}`,
      `pass in on ${egress} proto udp to any port ${relay} rdr-to ${refs(spec, [t])}`,
    );
  }

  lines.push(
    "",
    "# From the VMs to the world: what each VM's own pf.conf lets out (DNS is redirected below).",
    `pass in proto { tcp udp } from $all_vms to any port ${portList(VM_EGRESS_PORTS.filter((p) => p !== 53))}`,
    "# Bridges start ICE checks from their media port.",
    ...jvbs.map((j) => `pass in proto udp from ${refs(spec, [j])} port ${jvbUdpPort(j)} to any`),
    ...turns.map((t) => `pass in proto udp from ${refs(spec, [t])} port ${relay} to any`),
    "# The VMs' DNS goes to the host's resolver, whatever server they ask (the paper).",
    "pass in proto { udp tcp } from $all_vms to any port domain rdr-to $dns_resolver",
    "",
    "# Between the VMs (the paper's section VII.A).",
    `pass in proto tcp from ${refs(spec, [...jicofo, ...jvbs])} to ${refs(spec, xmpp)} port 5222`,
    `pass in proto tcp from ${refs(spec, web)} to ${refs(spec, xmpp)} port 5280`,
  );
  if (colibri)
    lines.push(
      `pass in proto tcp from ${refs(spec, web)} to ${refs(spec, jvbs)} port ${JVB_PUBLIC_HTTP_PORT}`,
    );
  if (admin.length > 0 || monitor.length > 0) lines.push("", "# Administration and monitoring of the VMs.");
  if (admin.length > 0) {
    lines.push("pass in proto tcp from $admin_nets to $all_vms port 22");
    if (xmpp.length > 0)
      lines.push(`pass in proto tcp from $admin_nets to ${refs(spec, xmpp)} port { 5280 5347 }`);
  }
  if (monitor.length > 0) {
    lines.push(`pass in proto tcp from $monitor_nets to ${refs(spec, jicofo)} port ${JICOFO_REST_PORT}`);
    lines.push(`pass in proto tcp from $monitor_nets to ${refs(spec, jvbs)} port ${JVB_PRIVATE_HTTP_PORT}`);
  }
  return `${lines.join("\n")}\n`;
}
