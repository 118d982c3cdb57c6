// The deployment spec: one YAML document describing a whole compartmentalized Jitsi Meet on one OpenBSD
// VMM host. This module is the single definition of its shape (TypeScript types come from z.infer) and of
// the cross-field rules that keep the rendered files consistent with each other.
//
// Every string that ends up inside a rendered file is constrained here to a character set that cannot
// break out of its context (Lua string, HOCON string, nginx directive, pf macro, ksh assignment, vm.conf
// quoted string). The renderers may therefore interpolate spec values without escaping; the escaping
// functions they use anyway are a second line of defence.
import * as z from "zod";
import {
  CHANGES,
  componentReleases,
  JAVA_VERSIONS,
  type JitsiComponent,
  jitsiRelease,
  KNOWN_RELEASES,
  PORTS_RELEASE,
  PROSODY_VERSIONS,
} from "./releases.js";

export const SPEC_VERSION = 1;

/**
 * Jitsi releases with behaviour changes that a renderer handles (the table of supported releases and every
 * change with its source: releases.ts).
 */
export const RELEASES = {
  /** The paper's packages (OpenBSD 7.2, net/jitsi 2.0.7648). */
  paper: 7648,
  /** jicofo ignores command-line XMPP args; jicofo.xmpp.client.xmpp-domain required (jicofo 2943c21f). */
  jicofoXmppDomain: CHANGES.jicofoXmppDomain.since,
  /** jvb websockets.domains (list) joins websockets.domain (jvb e3a2ae20). */
  jvbWebsocketDomains: CHANGES.jvbWebsocketDomains.since,
  /** Current OpenBSD packages of jicofo and jvb; jvb ICE/TCP removed (jvb 89dde6ea). */
  current: PORTS_RELEASE.jicofo,
} as const;

/** A release number of the table (releases.ts); anything else is refused with the list of known ones. */
const ReleaseNumber = z
  .number()
  .int()
  .refine((r) => KNOWN_RELEASES.includes(r), {
    error: (issue) => `unknown release ${String(issue.input)}: vmmeet renders ${KNOWN_RELEASES.join(", ")}`,
  });

const dnsLabel = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN_RE = new RegExp(`^(?=.{1,200}$)${dnsLabel}(\\.${dnsLabel})+$`);
const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NAME_RE = /^[a-z][a-z0-9]{0,30}$/;
const NICK_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const PATH_RE = /^\/[A-Za-z0-9._\-/]*$/;
const SIZE_RE = /^[1-9]\d{0,5}[KMGT]$/;
const IFACE_RE = /^[a-z]{1,12}\d{0,3}$/;

export const DomainName = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .regex(
        DOMAIN_RE,
        "must be a lower-case DNS name with at least two labels (letters, digits, '-', '.'); no spaces, quotes or newlines",
      ),
  );
export const Ipv4 = z.string().regex(IPV4_RE, "must be a dotted-quad IPv4 address");
export const Cidr = z.string().refine((s) => {
  const [addr, len, ...rest] = s.split("/");
  return (
    rest.length === 0 &&
    addr !== undefined &&
    IPV4_RE.test(addr) &&
    len !== undefined &&
    /^\d{1,2}$/.test(len) &&
    Number(len) <= 32
  );
}, "must be an IPv4 network in CIDR form, e.g. 192.0.2.0/24");
export const AbsPath = z
  .string()
  .regex(PATH_RE, "must be an absolute path of letters, digits, '.', '_', '-' and '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'");
/** vm.conf(5) sizes: a number with a K, M, G or T suffix. */
export const Size = z.string().regex(SIZE_RE, "must be a size like 512M, 2G or 20G");
export const NodeName = z
  .string()
  .regex(
    NAME_RE,
    "must start with a lower-case letter, then letters or digits (at most 31): it is a host name, a vm.conf name and a pf macro",
  );

export const ROLES = ["web", "xmpp", "jicofo", "jvb", "turn"] as const;
export const Role = z.enum(ROLES);
/** The VMM host is a node too (it runs an agent that applies vm.conf, pf.conf, sysctl.conf), named by host.name. */
export const HOST_ROLE = "host" as const;
export type NodeRole = (typeof ROLES)[number] | typeof HOST_ROLE;

const Vm = z
  .object({
    memory: Size.optional().describe(
      "Memory of the VM (vm.conf 'memory'); defaults per role follow the paper: 2G web/xmpp/turn, 4G jicofo/jvb",
    ),
    disk: Size.default("5G").describe(
      "Size of the disk image that 'vmmeet vm create' makes (the paper: vmctl create -s 5G)",
    ),
    enable: z.boolean().default(true).describe("Start the VM at boot (vm.conf 'enable'/'disable')"),
  })
  .strict();

const JvbOptions = z
  .object({
    nickname: z
      .string()
      .regex(NICK_RE, "must be letters, digits, '_' or '-' (it is the bridge's MUC nickname)")
      .optional()
      .describe("MUC nickname in the brewery; defaults to the node name. Must differ between bridges."),
    udpPort: z
      .number()
      .int()
      .min(1024)
      .max(65535)
      .default(10000)
      .describe(
        "ICE UDP port (videobridge.ice.udp.port); the host forwards it from the public address. Distinct per bridge.",
      ),
    maxMemory: Size.default("3G").describe("JVB_MAXMEM in jvb.in.sh"),
  })
  .strict();

const JicofoOptions = z
  .object({ maxMemory: Size.default("3G").describe("JICOFO_MAXMEM in jicofo.in.sh") })
  .strict();

export const NodeSpec = z
  .object({
    name: NodeName.describe("The VM's name: host name, vm.conf name, pf macro. Unique, and not host.name"),
    role: Role.describe(
      "What the VM runs: web (nginx, jitsi-meet), xmpp (prosody), jicofo, jvb, turn (coturn)",
    ),
    address: Ipv4.describe(
      "The VM's address on its vmd local interface (the paper: 100.64.N.3). Unique, inside host.vmNetwork",
    ),
    vm: Vm.default({ disk: "5G", enable: true }).describe("The VM's vm.conf settings"),
    jvb: JvbOptions.optional().describe("Bridge options; only on a jvb node"),
    jicofo: JicofoOptions.optional().describe("Jicofo options; only on the jicofo node"),
  })
  .strict();

const Tls = z.discriminatedUnion("mode", [
  z
    .object({
      mode: z
        .literal("acme")
        .describe("acme: the web VM's agent obtains and renews the certificate with acme-client"),
      contact: z
        .string()
        .regex(/^mailto:[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/, "must be mailto:ADDRESS")
        .optional()
        .describe("acme-client's contact for the account (mailto:ADDRESS)"),
      authority: z
        .enum(["letsencrypt", "letsencrypt-staging"])
        .default("letsencrypt")
        .describe("The ACME CA"),
      certificate: AbsPath.optional().describe(
        "Full chain written by acme-client; default /etc/ssl/DOMAIN.fullchain.pem",
      ),
      key: AbsPath.optional().describe("Key written by acme-client; default /etc/ssl/private/DOMAIN.key"),
    })
    .strict(),
  z
    .object({
      mode: z.literal("files").describe("files: the certificate and key are installed on the web VM by hand"),
      certificate: AbsPath.describe("Full chain PEM on the web VM"),
      key: AbsPath.describe("Private key PEM on the web VM"),
    })
    .strict(),
]);

/**
 * How long a component may take to come back by itself after a push restarted one it depends on (prosody
 * for jicofo, every jvb and nginx; a jvb for jicofo's brewery). Inside this window its reconnect-type
 * problems count as recovering, not as a failure. The defaults follow the real programs' reconnect timing:
 * - jvb (30 s): jicoco's MucClient sets smack's ReconnectionManager to a fixed 1 s delay ("We want to
 *   reconnect as soon as possible") and retries a failed reconnect every 2 s (jitsi/jicoco,
 *   jicoco-mucclient/src/main/java/org/jitsi/xmpp/mucclient/MucClient.java). The window covers prosody's
 *   restart (its 10 s grace), those 1-2 s retries and the brewery MUC join, with room for a second try.
 * - jicofo (45 s): jicofo sets smack's fixed reconnect delay to 2 s (jitsi/jicofo,
 *   jicofo/src/main/kotlin/org/jitsi/jicofo/xmpp/Smack.kt) and its connect task retries every 1 s
 *   (XmppProvider.kt); after a reconnect without stream resumption it leaves and joins the brewery again,
 *   and a failed join is retried after the 15 s reply timeout (BaseBrewery.java). 10 s restart + 2 s + 15 s
 *   retry + 15 s for the join itself, rounded up; the bridges must be back in the brewery inside it too.
 * - nginx (20 s): nginx keeps no connection to prosody; each BOSH or websocket request is proxied anew, so
 *   it serves again as soon as prosody listens (the 10 s grace of its restart) and the next poll succeeds.
 */
export const RECOVERY_SECONDS_DEFAULT = { jicofo: 45, jvb: 30, nginx: 20 } as const;
const RecoverySeconds = z
  .object({
    jicofo: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(RECOVERY_SECONDS_DEFAULT.jicofo)
      .describe("seconds jicofo may take to log in again and see every bridge back in its brewery"),
    jvb: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(RECOVERY_SECONDS_DEFAULT.jvb)
      .describe("seconds a bridge may take to log in again and rejoin the brewery"),
    nginx: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(RECOVERY_SECONDS_DEFAULT.nginx)
      .describe("seconds nginx's BOSH and XMPP websocket proxying may fail while prosody restarts"),
  })
  .strict();

export const SpecSchema = z
  .object({
    version: z
      .literal(SPEC_VERSION, {
        error: `must be ${SPEC_VERSION} (the spec format this vmmeet reads)`,
      })
      .describe("The spec format; older formats are migrated on read"),
    domain: DomainName.describe("The XMPP domain and public site name (the paper: jts.fips.de)"),
    jitsi: z
      .object({
        release: z
          .union(
            [
              ReleaseNumber,
              z
                .object({
                  jicofo: ReleaseNumber.describe("jicofo's release (net/jitsi/jicofo)"),
                  jvb: ReleaseNumber.describe("jitsi-videobridge's release (net/jitsi/videobridge)"),
                  web: ReleaseNumber.describe("jitsi-meet's release (net/jitsi/meet)"),
                  plugins: ReleaseNumber.describe(
                    "jitsi's prosody plugins' release (net/jitsi/prosody-plugins)",
                  ),
                })
                .strict(),
            ],
            {
              error: `must be a release number (${KNOWN_RELEASES.join(", ")}) or a mapping of jicofo, jvb, web and plugins release numbers`,
            },
          )
          .describe(
            "Jitsi release on the VMs: 7648 = the paper's OpenBSD 7.2 packages, 11146 = the newest stable; or per component, e.g. the ports tree's mix: { jicofo: 9646, jvb: 9646, web: 10133, plugins: 10133 }",
          ),
        prosody: z.enum(PROSODY_VERSIONS).default("0.12").describe("Prosody major version on the xmpp VM"),
        java: z
          .union(JAVA_VERSIONS.map((v) => z.literal(v)))
          .default(11)
          .describe("Java major version of the jicofo and jvb VMs (the ports build with MODJAVA_VER=11)"),
      })
      .strict()
      .describe("The Jitsi packages on the VMs"),
    publicAddress: Ipv4.describe(
      "The address the world reaches (egress of the VMM host; jvb's NAT public address); outside host.vmNetwork",
    ),
    host: z
      .object({
        name: NodeName.default("vmm").describe("The VMM host's node name (its agent's --node)"),
        egress: z
          .string()
          .regex(IFACE_RE, "must be an interface or interface group name like em0 or egress")
          .default("egress")
          .describe("Interface or interface group of the public address (pf)"),
        resolver: Ipv4.default("127.0.0.1").describe(
          "Where the host redirects the VMs' DNS queries (pf rdr-to)",
        ),
        vmNetwork: Cidr.default("100.64.0.0/10").describe(
          "vmd's local interface prefix; every VM address lies inside",
        ),
        adminNetworks: z
          .array(Cidr)
          .default([])
          .describe("Networks allowed to ssh into the VMs in addition to the VMM host"),
        monitorNetworks: z
          .array(Cidr)
          .default([])
          .describe(
            "Networks allowed to scrape jicofo (8888) and jvb (8080); their REST servers then listen on every address",
          ),
        imageDir: AbsPath.default("/home/vmm").describe("Directory of the VM disk images"),
        debugBosh: z
          .boolean()
          .default(false)
          .describe("The paper's debug rule: forward public 5280/tcp to prosody"),
        coordinatorPort: z
          .number()
          .int()
          .min(1)
          .max(65535)
          .default(7443)
          .describe(
            "TCP port of the coordinator on the VMM host: the VMs' pf.conf lets their agent reach it",
          ),
      })
      .strict()
      .default({
        name: "vmm",
        egress: "egress",
        resolver: "127.0.0.1",
        vmNetwork: "100.64.0.0/10",
        adminNetworks: [],
        monitorNetworks: [],
        imageDir: "/home/vmm",
        debugBosh: false,
        coordinatorPort: 7443,
      })
      .describe("The VMM host"),
    nodes: z
      .array(NodeSpec)
      .min(1, "must list the deployment's VMs")
      .describe(
        "The VMs: exactly one web, one xmpp and one jicofo node, at least one jvb, a turn node exactly when turn.enabled. The first is the template VM of vm.conf",
      ),
    tls: Tls.default({ mode: "acme", authority: "letsencrypt" }).describe(
      "The site certificate of the web VM; with acme, certificate and key must lie in /etc/ssl and /etc/ssl/private",
    ),
    bridgeChannel: z
      .enum(["colibri-websocket", "none"])
      .default("none")
      .describe(
        "SCTP is not available on OpenBSD; colibri websockets are the only bridge channel (the paper: none)",
      ),
    xmppWebsocket: z
      .boolean()
      .default(false)
      .describe("Serve XMPP over websocket (/xmpp-websocket) besides BOSH"),
    turn: z
      .object({
        enabled: z.boolean().default(false).describe("Run coturn on the turn node (needs exactly one)"),
        port: z.number().int().min(1).max(65535).default(3478).describe("TURN port (UDP and TCP)"),
        tlsPort: z.number().int().min(1).max(65535).default(5349).describe("TURNS port; differs from port"),
      })
      .strict()
      .default({ enabled: false, port: 3478, tlsPort: 5349 })
      .describe("TURN relay"),
    auth: z
      .object({
        mode: z
          .enum(["anonymous", "internal"])
          .default("anonymous")
          .describe("anonymous, or internal (users in prosody)"),
        guests: z
          .boolean()
          .default(true)
          .describe(
            "With internal auth: let unauthenticated guests join rooms a user opened (false needs internal)",
          ),
      })
      .strict()
      .default({ mode: "anonymous", guests: true })
      .describe("Who may open rooms"),
    web: z
      .object({
        stunServers: z
          .array(z.string().regex(/^stuns?:[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be stun:HOST[:PORT]"))
          .default(["stun:meet-jit-si-turnrelay.jitsi.net:443"])
          .describe("STUN servers in config.js (stun:HOST[:PORT])"),
        welcomePage: z.boolean().default(true).describe("config.js welcomePage"),
        prejoin: z.boolean().default(true).describe("config.js prejoin page"),
      })
      .strict()
      .default({
        stunServers: ["stun:meet-jit-si-turnrelay.jitsi.net:443"],
        welcomePage: true,
        prejoin: true,
      })
      .describe("The jitsi-meet web app (config.js)"),
    brewery: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,62}$/, "must be a MUC room name (letters, digits, '_', '-')")
      .default("JvbBrewery")
      .describe("Room of the bridge brewery on internal.auth.DOMAIN, used by jicofo and every jvb"),
    operations: z
      .object({
        heal: z
          .object({
            schedule: z
              .string()
              .regex(/^[0-9*/,\- ]+$/, "must be a cron expression")
              .default("* * * * *")
              .describe("cron expression of the coordinator's healing rounds"),
            jitterSeconds: z
              .number()
              .int()
              .min(0)
              .max(3600)
              .default(15)
              .describe("random delay of each round"),
            alarmAfterSeconds: z
              .number()
              .int()
              .min(10)
              .default(300)
              .describe("a node unhealthy this long raises an alarm"),
          })
          .strict()
          .default({ schedule: "* * * * *", jitterSeconds: 15, alarmAfterSeconds: 300 })
          .describe("The coordinator's healing schedule"),
        pfConfirmSeconds: z
          .number()
          .int()
          .min(5)
          .max(3600)
          .default(60)
          .describe("commit-confirm window of a pf.conf change"),
        recoverySeconds: RecoverySeconds.default(RECOVERY_SECONDS_DEFAULT).describe(
          "How long jicofo, the bridges and nginx may take to reconnect after a push restarted prosody or a bridge they depend on; their reconnect-type problems count as recovering until then",
        ),
      })
      .strict()
      .default({
        heal: { schedule: "* * * * *", jitterSeconds: 15, alarmAfterSeconds: 300 },
        pfConfirmSeconds: 60,
        recoverySeconds: RECOVERY_SECONDS_DEFAULT,
      })
      .describe("How the coordinator operates the deployment"),
  })
  .strict()
  // Cross-field rules run even when some fields failed (`when`), so that one run reports every problem;
  // they therefore read the value defensively.
  .superRefine((value, ctx) => crossFieldRules(value, ctx), { when: () => true });

export type Spec = z.infer<typeof SpecSchema>;
export type SpecInput = z.input<typeof SpecSchema>;
export type NodeSpec = z.infer<typeof NodeSpec>;
export type Role = z.infer<typeof Role>;

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [net, lenText] = cidr.split("/");
  const len = Number(lenText);
  if (net === undefined || !IPV4_RE.test(ip)) return false;
  const size = 2 ** (32 - len);
  const base = Math.floor(ipToInt(net) / size) * size;
  const value = ipToInt(ip);
  return value >= base && value < base + size;
}

// Cross-field rules. Each pushes an issue with the exact path it concerns, so that the CLI prints every
// problem at once as `path: message` lines.
function crossFieldRules(value: unknown, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: "custom", path, message, input: value });
  const s = asRecord(value);
  const host = asRecord(s.host);
  const vmNetwork =
    typeof host.vmNetwork === "string" && Cidr.safeParse(host.vmNetwork).success ? host.vmNetwork : undefined;
  const hostName = typeof host.name === "string" ? host.name : "vmm";
  const nodes = Array.isArray(s.nodes) ? s.nodes.map(asRecord) : [];
  const names = new Map<string, number>();
  const addresses = new Map<string, number>();
  nodes.forEach((node, i) => {
    if (typeof node.name === "string") {
      const other = names.get(node.name);
      if (other !== undefined)
        issue(["nodes", i, "name"], `duplicate node name "${node.name}" (also nodes[${other}])`);
      else names.set(node.name, i);
      if (node.name === hostName)
        issue(["nodes", i, "name"], `"${node.name}" is the VMM host's name (host.name)`);
    }
    if (typeof node.address === "string" && IPV4_RE.test(node.address)) {
      const otherAddr = addresses.get(node.address);
      if (otherAddr !== undefined)
        issue(["nodes", i, "address"], `duplicate address ${node.address} (also nodes[${otherAddr}])`);
      else addresses.set(node.address, i);
      if (vmNetwork && !inCidr(node.address, vmNetwork)) {
        issue(
          ["nodes", i, "address"],
          `${node.address} is outside the VM network ${vmNetwork} (host.vmNetwork)`,
        );
      }
    }
    if (node.jvb !== undefined && node.role !== "jvb")
      issue(["nodes", i, "jvb"], `only a jvb node takes jvb options (this node is ${String(node.role)})`);
    if (node.jicofo !== undefined && node.role !== "jicofo") {
      issue(
        ["nodes", i, "jicofo"],
        `only a jicofo node takes jicofo options (this node is ${String(node.role)})`,
      );
    }
  });
  if (
    typeof s.publicAddress === "string" &&
    vmNetwork &&
    IPV4_RE.test(s.publicAddress) &&
    inCidr(s.publicAddress, vmNetwork)
  ) {
    issue(
      ["publicAddress"],
      `${s.publicAddress} is inside the VM network ${vmNetwork}; it must be the host's public address`,
    );
  }
  if (!Array.isArray(s.nodes)) return;
  const byRole = (role: Role) => nodes.map((n, i) => [n, i] as const).filter(([n]) => n.role === role);
  for (const role of ["web", "xmpp", "jicofo"] as const) {
    const found = byRole(role);
    if (found.length === 0) issue(["nodes"], `needs exactly one ${role} node, found none`);
    for (const [, i] of found.slice(1))
      issue(["nodes", i, "role"], `only one ${role} node is supported (the first is nodes[${found[0]![1]}])`);
  }
  const jvbs = byRole("jvb");
  if (jvbs.length === 0) issue(["nodes"], "needs at least one jvb node");
  const nicks = new Map<string, number>();
  const ports = new Map<number, number>();
  for (const [node, i] of jvbs) {
    const opts = asRecord(node.jvb);
    const nickRaw =
      typeof opts.nickname === "string"
        ? opts.nickname
        : typeof node.name === "string"
          ? node.name
          : undefined;
    if (nickRaw !== undefined) {
      // MUC nicknames are compared case-insensitively (resourceprep of the occupant JID).
      const nick = nickRaw.toLowerCase();
      const n = nicks.get(nick);
      if (n !== undefined)
        issue(
          ["nodes", i, "jvb", "nickname"],
          `bridge nickname "${nick}" is also used by nodes[${n}]; each jvb needs its own`,
        );
      else nicks.set(nick, i);
    }
    const port = typeof opts.udpPort === "number" ? opts.udpPort : 10000;
    const p = ports.get(port);
    if (p !== undefined)
      issue(
        ["nodes", i, "jvb", "udpPort"],
        `UDP port ${port} is also used by nodes[${p}]; the host forwards one port per bridge`,
      );
    else ports.set(port, i);
  }
  const turn = asRecord(s.turn);
  const turnEnabled = turn.enabled === true;
  const turns = byRole("turn");
  if (turnEnabled && turns.length === 0)
    issue(["turn", "enabled"], "TURN is enabled but no node has role turn");
  if (!turnEnabled && turns.length > 0)
    issue(["nodes", turns[0]![1], "role"], "a turn node is listed but turn.enabled is false");
  for (const [, i] of turns.slice(1)) issue(["nodes", i, "role"], "only one turn node is supported");
  if (turn.port !== undefined && turn.port === turn.tlsPort)
    issue(["turn", "tlsPort"], "must differ from turn.port");
  javaRule(asRecord(s.jitsi), issue);
  const auth = asRecord(s.auth);
  if (auth.mode !== "internal" && auth.guests === false) {
    issue(["auth", "guests"], "guests: false needs auth.mode: internal (an anonymous site has only guests)");
  }
}

/** A jicofo or jvb release that needs a newer JDK than the spec's cannot start: an error, not a warning. */
function javaRule(
  jitsi: Record<string, unknown>,
  issue: (path: (string | number)[], message: string) => void,
) {
  const java = typeof jitsi.java === "number" ? jitsi.java : 11;
  const raw = jitsi.release;
  const perComponent = typeof raw === "object" && raw !== null;
  const releases =
    typeof raw === "number" ? componentReleases(raw) : perComponent ? asRecord(raw) : undefined;
  if (!releases) return;
  for (const component of ["jicofo", "jvb"] as const) {
    const r = releases[component];
    const row = typeof r === "number" ? jitsiRelease(r) : undefined;
    if (!row || java >= Math.min(...row.java)) continue;
    issue(
      ["jitsi", "java"],
      `${component} of release ${row.release} needs Java ${row.java.join(" or ")} (${CHANGES.java17.what} from ${CHANGES.java17.since}: ${CHANGES.java17.source}); the VMs have ${java}: install that JDK and set jitsi.java`,
    );
    return;
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

/** Default VM memory per role (the paper's vm.conf: web template 2G, jicofo and jvb instances 4G). */
export function vmMemory(node: NodeSpec): string {
  return node.vm.memory ?? (node.role === "jicofo" || node.role === "jvb" ? "4G" : "2G");
}

/** The brewery MUC JID: one value for jicofo's bridge.brewery-jid and every jvb's muc_jids. */
export function breweryJid(spec: Spec): string {
  return `${spec.brewery}@internal.auth.${spec.domain}`;
}

/** The release of one component: renderers use their own component's, never another's. */
export function releaseOf(spec: Spec, component: JitsiComponent): number {
  return componentReleases(spec.jitsi.release)[component];
}

export function jvbNickname(node: NodeSpec): string {
  return node.jvb?.nickname ?? node.name;
}

export function jvbUdpPort(node: NodeSpec): number {
  return node.jvb?.udpPort ?? 10000;
}

export function nodeByRole(spec: Spec, role: Role): NodeSpec {
  const node = spec.nodes.find((n) => n.role === role);
  if (!node) throw new Error(`spec has no ${role} node (validate the spec first)`);
  return node;
}

export function tlsPaths(spec: Spec): { certificate: string; key: string } {
  return {
    certificate: spec.tls.certificate ?? `/etc/ssl/${spec.domain}.fullchain.pem`,
    key: spec.tls.key ?? `/etc/ssl/private/${spec.domain}.key`,
  };
}
