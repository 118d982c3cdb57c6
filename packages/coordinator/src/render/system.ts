// The system files of every VM: /etc/pf.conf, /etc/hosts, /etc/myname, /etc/syslog.conf and
// /etc/newsyslog.conf.
//
// Model: the paper's sections VI.B "DNS + /etc/hosts" and VII "FIREWALLING", and docs/openbsd-rc.md
// ("Logs of jicofo and jvb", section 4 on newsyslog). Deliberate differences from the paper's rules are
// listed in test/render-system.test.ts with their reasons; the main ones:
// - every rule of a VM is `quick on egress` (the paper mixes quick and non-quick rules; with a default
//   block first both work, quick makes each rule independent of the order);
// - jicofo gets no "in udp 10000": media goes to jvb, the paper's jicofo rule is a mistake;
// - the monitoring ports are jicofo 8888 (its REST API) and jvb 8080 (its private HTTP server); the
//   paper has them the other way round;
// - jvb may send UDP from its media port to anywhere: ICE connectivity checks start on the bridge too;
// - ssh is also allowed from the VMM host, the VM's gateway, so that the host can always reach its VMs.
import { ipToInt, jvbUdpPort, type NodeSpec, type Spec } from "@vmmeet/shared";
import { PF_KEYWORDS } from "./grammar/pf.js";
import { HEADER } from "./header.js";
import { JICOFO_REST_PORT } from "./jicofo.js";
import { JVB_PRIVATE_HTTP_PORT } from "./jvb.js";
import { bare } from "./quote.js";
import type { ComponentRender, ProgramLog, RenderInput } from "./types.js";
import { JVB_PUBLIC_HTTP_PORT } from "./web.js";

export const PF_CONF = "/etc/pf.conf";
export const HOSTS = "/etc/hosts";
export const MYNAME = "/etc/myname";
export const SYSLOG_CONF = "/etc/syslog.conf";
export const NEWSYSLOG_CONF = "/etc/newsyslog.conf";

/** The paper's common egress of every VM: NTP, DNS, HTTP and HTTPS (packages, ACME, time, names). */
export const VM_EGRESS_PORTS = [123, 53, 80, 443] as const;
/**
 * coturn's relay ports: its defaults min-port 49152 / max-port 65535 (turn.ts leaves them unset). The
 * relayed address a client receives is PUBLIC:port in this range, so the host forwards the whole range.
 */
export const TURN_RELAY_PORTS = { low: 49152, high: 65535 } as const;

export interface SystemOptions {
  /**
   * TCP port of the coordinator's agent listener on the VMM host, when the agents reach it through the
   * VM's gateway. Each VM then lets its agent out to the host and the host lets it in. The spec has no
   * such field yet; without it only 80/443 (the common egress) reach the host.
   */
  coordinatorPort?: number;
}

/**
 * The VMM host's end of a VM's vmd local interface: vmd gives each VM a /31 (host .2, VM .3 for the
 * paper's 100.64.N.3), so the gateway is the other address of the VM's /31.
 */
export function gatewayOf(address: string): string {
  const peer = ipToInt(address) ^ 1;
  return [24, 16, 8, 0].map((shift) => Math.floor(peer / 2 ** shift) % 256).join(".");
}

/**
 * The pf macro of a node: its name (the paper's host names). pfctl returns a keyword as a keyword token,
 * so a node named like one (e.g. "port") cannot be a macro: refuse it here, naming the spec path.
 */
export function pfMacro(spec: Spec, node: NodeSpec): string {
  if (PF_KEYWORDS.has(node.name)) {
    const i = spec.nodes.findIndex((n) => n.name === node.name);
    throw new Error(
      `nodes[${i}].name: "${node.name}" is a pf.conf keyword and cannot name a pf macro; rename the node`,
    );
  }
  return node.name;
}

/** `name = "ADDRESS"` for every node, in spec order. */
export function nodeMacros(spec: Spec): string[] {
  return spec.nodes.map((n) => `${pfMacro(spec, n)} = "${bare(n.address, `pf.conf macro for ${n.name}`)}"`);
}

/** `"{ a b }"` for a pf macro value holding networks. */
export function pfList(values: readonly string[], where: string): string {
  return `"{ ${values.map((v) => bare(v, where)).join(" ")} }"`;
}

/** `admin_nets` and `monitor_nets` macros, each only when the spec lists such networks. */
export function networkMacros(spec: Spec): string[] {
  const { adminNetworks: admin, monitorNetworks: monitor } = spec.host;
  const lines: string[] = [];
  if (admin.length > 0)
    lines.push(`admin_nets = ${pfList(admin, "pf.conf admin_nets (host.adminNetworks)")}`);
  if (monitor.length > 0)
    lines.push(`monitor_nets = ${pfList(monitor, "pf.conf monitor_nets (host.monitorNetworks)")}`);
  return lines;
}

/** `$a` for one node, `{ $a $b }` for several. */
export function refs(spec: Spec, nodes: readonly NodeSpec[]): string {
  const names = nodes.map((n) => `$${pfMacro(spec, n)}`);
  return names.length === 1 ? names[0]! : `{ ${names.join(" ")} }`;
}

/** `N` for one port, `{ N M }` for several. */
export function portList(ports: readonly number[]): string {
  return ports.length === 1 ? String(ports[0]) : `{ ${ports.join(" ")} }`;
}

export function byRole(spec: Spec, role: NodeSpec["role"]): NodeSpec[] {
  return spec.nodes.filter((n) => n.role === role);
}

/**
 * /etc/hosts of every VM and of the VMM host (the paper, section VI.B): each node `ADDRESS NAME`; the
 * xmpp line also carries the domain, which jicofo's --host=DOMAIN and jvb's XMPP connection must resolve
 * to prosody's VM ("the resolved IP address must point to the VM's local address", section X).
 */
export function hostsFile(spec: Spec): string {
  const lines = [HEADER, "127.0.0.1 localhost", "::1 localhost"];
  for (const n of spec.nodes) {
    const names = n.role === "xmpp" ? [n.name, spec.domain] : [n.name];
    lines.push([n.address, ...names].map((v) => bare(v, "/etc/hosts")).join(" "));
  }
  return `${lines.join("\n")}\n`;
}

export function renderSystem(
  input: RenderInput,
  node: NodeSpec,
  programLogs: ProgramLog[],
  options: SystemOptions = {},
): ComponentRender {
  const { spec } = input;
  if (!spec.nodes.some((n) => n.name === node.name && n.role === node.role))
    throw new Error(`node "${node.name}" is not one of spec.nodes`);
  const root = { owner: "root", group: "wheel" } as const;
  return {
    files: [
      {
        path: PF_CONF,
        content: vmPfConf(spec, node, options),
        // The stock /etc/pf.conf is 0600.
        mode: "0600",
        ...root,
        // The agent loads it with pfctl and keeps the old ruleset unless the new one is confirmed.
        notify: [{ service: "pf", action: "reload" }],
      },
      { path: HOSTS, content: hostsFile(spec), mode: "0644", ...root },
      // No header: /etc/myname holds just the name (myname(5)); the name takes effect at the next boot.
      { path: MYNAME, content: `${node.name}\n`, mode: "0644", ...root },
      {
        path: SYSLOG_CONF,
        content: syslogConf(programLogs.filter((l) => !l.self)),
        mode: "0644",
        ...root,
        notify: [{ service: "syslogd", action: "reload" }],
      },
      // newsyslog(8) reads its file at every run from cron: no service to tell.
      { path: NEWSYSLOG_CONF, content: newsyslogConf(node, programLogs), mode: "0644", ...root },
    ],
    services: [],
    // syslogd(8) does not create the file of a `!program` block: it must exist before syslogd is HUPed.
    actions: programLogs
      .filter((l) => !l.self)
      .map((l) => ({
        kind: "syslog-logfile" as const,
        path: l.path,
        mode: l.mode,
        owner: l.owner,
        group: l.group,
      })),
    programLogs: [],
    logs: [],
    probes: [],
  };
}

// ---------------------------------------------------------------------------------------------------------
// pf.conf of a VM

function vmPfConf(spec: Spec, node: NodeSpec, options: SystemOptions): string {
  const admin = spec.host.adminNetworks;
  const lines: string[] = [
    HEADER,
    `# pf.conf(5) of the ${node.role} VM "${node.name}": the rules of the paper's section VII for its role.`,
    "",
    "# The deployment's VMs (the names of /etc/hosts) and the VMM host's end of this VM's local interface.",
    ...nodeMacros(spec),
    `vmm_host = "${gatewayOf(node.address)}"`,
    ...networkMacros(spec),
  ];
  lines.push(
    "",
    "set skip on lo",
    "",
    "block return log",
    "# Time, names, packages and certificates (the paper's rule for every VM).",
    `pass out quick on egress proto { tcp udp } to any port ${portList(VM_EGRESS_PORTS)}`,
    "# ssh from the VMM host (this VM's gateway) and the admin networks.",
    "pass in quick on egress proto tcp from $vmm_host to self port 22",
  );
  if (admin.length > 0) lines.push("pass in quick on egress proto tcp from $admin_nets to self port 22");
  if (options.coordinatorPort !== undefined) {
    lines.push(
      "# vmmeet-agent to the coordinator on the VMM host.",
      `pass out quick on egress proto tcp to $vmm_host port ${port(options.coordinatorPort, "coordinatorPort")}`,
    );
  }
  lines.push("", `# ${node.role}`, ...roleRules(spec, node));
  return `${lines.join("\n")}\n`;
}

function port(n: number, where: string): number {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new Error(`${where}: ${n} is not a TCP/UDP port`);
  return n;
}

function roleRules(spec: Spec, node: NodeSpec): string[] {
  const xmpp = byRole(spec, "xmpp");
  const web = byRole(spec, "web");
  const jicofo = byRole(spec, "jicofo");
  const jvbs = byRole(spec, "jvb");
  const colibri = spec.bridgeChannel === "colibri-websocket";
  const monitor = spec.host.monitorNetworks.length > 0;
  const q = "pass in quick on egress";
  const o = "pass out quick on egress";
  switch (node.role) {
    case "web":
      return [
        "# Browsers: HTTP (ACME http-01, redirect) and HTTPS.",
        `${q} proto tcp to self port { 80 443 }`,
        "# nginx proxies BOSH (and XMPP websockets) to prosody.",
        `${o} proto tcp to ${refs(spec, xmpp)} port 5280`,
        ...(colibri
          ? [
              "# nginx proxies /colibri-ws/ to each bridge's public HTTP server.",
              `${o} proto tcp to ${refs(spec, jvbs)} port ${JVB_PUBLIC_HTTP_PORT}`,
            ]
          : []),
      ];
    case "xmpp":
      return [
        "# XMPP client connections of jicofo and the bridges.",
        `${q} proto tcp from ${refs(spec, [...jicofo, ...jvbs])} to self port 5222`,
        "# BOSH (and XMPP websockets) from nginx.",
        `${q} proto tcp from ${refs(spec, web)} to self port 5280`,
        ...(spec.host.adminNetworks.length > 0
          ? [
              "# Debugging from the admin networks: BOSH and the component port (the paper's rule).",
              `${q} proto tcp from $admin_nets to self port { 5280 5347 }`,
            ]
          : []),
        ...(spec.host.debugBosh
          ? [
              "# host.debugBosh: the VMM host forwards public 5280/tcp here (the paper's debug rdr-to).",
              `${q} proto tcp to self port 5280`,
            ]
          : []),
      ];
    case "jicofo":
      return [
        "# jicofo is an XMPP client of prosody (5222); 5280 as in the paper.",
        `${o} proto tcp to ${refs(spec, xmpp)} port { 5222 5280 }`,
        ...(monitor
          ? [
              "# Monitoring: jicofo's REST API (health, statistics).",
              `${q} proto tcp from $monitor_nets to self port ${JICOFO_REST_PORT}`,
            ]
          : []),
      ];
    case "jvb": {
      const udp = jvbUdpPort(node);
      return [
        "# The bridge is an XMPP client of prosody.",
        `${o} proto tcp to ${refs(spec, xmpp)} port 5222`,
        "# Media: ICE over UDP on this bridge's port, forwarded by the VMM host from the public address.",
        `${q} proto udp to self port ${udp}`,
        "# ICE connectivity checks also start on the bridge, from its media port to any client address;",
        "# replies to the clients' own checks already pass on the state of the rule above.",
        `${o} proto udp from self port ${udp} to any`,
        ...(colibri
          ? [
              "# Colibri websockets from nginx (the bridge channel; SCTP does not exist on OpenBSD).",
              `${q} proto tcp from ${refs(spec, web)} to self port ${JVB_PUBLIC_HTTP_PORT}`,
            ]
          : []),
        ...(monitor
          ? [
              "# Monitoring: jvb's private HTTP server (colibri REST, /about/health).",
              `${q} proto tcp from $monitor_nets to self port ${JVB_PRIVATE_HTTP_PORT}`,
            ]
          : []),
      ];
    }
    case "turn": {
      const relay = `${TURN_RELAY_PORTS.low}:${TURN_RELAY_PORTS.high}`;
      return [
        "# TURN over UDP and TURN over TLS (the ports prosody advertises through external_services).",
        `${q} proto udp to self port ${spec.turn.port}`,
        `${q} proto tcp to self port ${spec.turn.tlsPort}`,
        "# Relayed media: clients send to the relay ports, coturn forwards from them to the peers.",
        `${q} proto udp to self port ${relay}`,
        `${o} proto udp from self port ${relay} to any`,
      ];
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// syslog.conf and newsyslog.conf

/**
 * The rules of OpenBSD's stock /etc/syslog.conf (7.x, written down from the release's etc/syslog.conf;
 * syslog.conf(5); openbsd/src etc/syslog.conf routes daemon.info to /var/log/daemon). Kept so that replacing the file
 * changes nothing but the program blocks. Columns are tab-separated, as in the stock file.
 */
const STOCK_SYSLOG = [
  "*.notice;auth,authpriv,cron,ftp,kern,lpr,mail,user.none\t/var/log/messages",
  "kern.debug;syslog,user.info\t\t\t\t/var/log/messages",
  "auth.info\t\t\t\t\t\t/var/log/authlog",
  "authpriv.debug\t\t\t\t\t\t/var/log/secure",
  "cron.info\t\t\t\t\t\t/var/cron/log",
  "daemon.info\t\t\t\t\t\t/var/log/daemon",
  "ftp.info\t\t\t\t\t\t/var/log/xferlog",
  "lpr.debug\t\t\t\t\t\t/var/log/lpd-errs",
  "mail.info\t\t\t\t\t\t/var/log/maillog",
  "",
  '# Uncomment this line to send "important" messages to the system',
  "# console: be aware that this could create lots of output.",
  "#*.err;auth.notice;authpriv.none;kern.debug;mail.crit\t/dev/console",
  "",
  "# Everyone gets emergency messages.",
  "*.emerg\t\t\t\t\t\t\t*",
];

function syslogConf(programLogs: readonly ProgramLog[]): string {
  const lines = [
    HEADER,
    "# syslog.conf(5): OpenBSD's stock rules, then one block per program vmmeet logs to its own file.",
    "",
    ...STOCK_SYSLOG,
  ];
  if (programLogs.length > 0) {
    lines.push(
      "",
      "# Program blocks (the paper's jicofo and jvb sections). The daemons log through `logger -t NAME`",
      "# (daemon_logger in their rc.d scripts), so the lines also stay in /var/log/daemon. A `!program`",
      "# line applies to every rule below it: these blocks stay last.",
    );
    for (const l of programLogs) {
      lines.push(
        `!${bare(l.program, "syslog.conf program")}`,
        `*.*\t\t\t\t\t\t\t${bare(l.path, "syslog.conf log path")}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

/** One newsyslog.conf line: logfile owner:group mode count size when flags [pid_file signal | "command"]. */
function newsyslogLine(
  path: string,
  owner: string,
  mode: string,
  count: number | string,
  size: number | string,
  when: string,
  flags: string,
  tail = "",
): string {
  // Aligned columns, but never run together: a value as wide as its column still gets a blank after it
  // (/var/prosody/prosody.log, _prosody:_prosody).
  const pad = (v: string, width: number) => (v.length >= width ? `${v} ` : v.padEnd(width));
  const cols = [
    pad(path, 24),
    pad(owner, 16),
    pad(mode, 5),
    pad(String(count), 6),
    pad(String(size), 5),
    pad(when, 6),
    flags,
  ];
  return `${cols.join("")}${tail === "" ? "" : ` ${tail}`}`.trimEnd();
}

/**
 * OpenBSD's stock /etc/newsyslog.conf entries (7.x, openbsd/src etc/newsyslog.conf; docs/openbsd-rc.md
 * section 4: /var/log/daemon 640, 5 archives, 30 KB, Z). On the web VM nginx, not httpd, writes
 * /var/www/logs: its entries signal nginx's pid file with SIGUSR1 as the www/nginx port's README-main says
 * (docs/openbsd-rc.md section 3).
 */
function stockNewsyslog(node: NodeSpec): string[] {
  const web = node.role === "web";
  return [
    newsyslogLine("/var/cron/log", "root:wheel", "600", 3, 10, "*", "Z"),
    newsyslogLine("/var/log/authlog", "root:wheel", "640", 7, "*", "168", "Z"),
    newsyslogLine("/var/log/daemon", "", "640", 5, 30, "*", "Z"),
    newsyslogLine("/var/log/lpd-errs", "", "640", 7, 10, "*", "Z"),
    newsyslogLine("/var/log/maillog", "", "640", 7, "*", "24", "Z"),
    newsyslogLine("/var/log/messages", "", "644", 5, 30, "*", "Z"),
    newsyslogLine("/var/log/secure", "", "600", 7, "*", "168", "Z"),
    newsyslogLine("/var/log/wtmp", "", "644", 7, "*", "$W6D4", "B"),
    newsyslogLine("/var/log/xferlog", "", "640", 7, 250, "*", "Z"),
    newsyslogLine(
      "/var/log/pflog",
      "",
      "600",
      3,
      250,
      "*",
      "ZB",
      '"pkill -HUP -u root -U root -t - -x pflogd"',
    ),
    newsyslogLine(
      "/var/www/logs/access.log",
      "",
      "644",
      4,
      "*",
      "$W0",
      "Z",
      web ? "/var/run/nginx.pid SIGUSR1" : '"pkill -USR1 -u root -U root -x httpd"',
    ),
    newsyslogLine(
      "/var/www/logs/error.log",
      "",
      "644",
      7,
      250,
      "*",
      "Z",
      web ? "/var/run/nginx.pid SIGUSR1" : '"pkill -USR1 -u root -U root -x httpd"',
    ),
  ];
}

function newsyslogConf(node: NodeSpec, programLogs: readonly ProgramLog[]): string {
  const lines = [
    HEADER,
    "# newsyslog.conf(5): OpenBSD's stock entries, then one per program log so that it does not grow forever.",
    "# logfile_name\t\towner:group\tmode count size when  flags",
    ...stockNewsyslog(node),
  ];
  for (const l of programLogs) {
    if (!Number.isInteger(l.keep) || l.keep < 0)
      throw new Error(`program log ${l.path}: keep must be a count`);
    if (!Number.isInteger(l.sizeKb) || l.sizeKb < 1)
      throw new Error(`program log ${l.path}: sizeKb must be positive`);
    const owner = `${bare(l.owner, "newsyslog.conf owner")}:${bare(l.group, "newsyslog.conf group")}`;
    // Z: compress archives. syslogd is HUPed by default after the rotation (no pid file column needed);
    // a program that writes its own log gets its pid file and signal.
    const tail = l.self
      ? `${bare(l.self.pidfile, "newsyslog.conf pid file")} ${bare(l.self.signal, "newsyslog.conf signal")}`
      : "";
    lines.push(
      newsyslogLine(
        bare(l.path, "newsyslog.conf path"),
        owner,
        modeDigits(l.mode),
        l.keep,
        l.sizeKb,
        "*",
        "Z",
        tail,
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}

/** newsyslog's mode column is three octal digits ("640"); FileMode has four ("0640"). */
function modeDigits(mode: string): string {
  const m = /^0?([0-7]{3})$/.exec(mode);
  if (!m) throw new Error(`bad file mode ${JSON.stringify(mode)} for newsyslog.conf`);
  return m[1]!;
}
