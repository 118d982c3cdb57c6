// The deployment spec: one YAML document describing a whole compartmentalized Jitsi Meet on one OpenBSD
// VMM host. This module is the single definition of its shape (TypeScript types come from z.infer) and of
// the cross-field rules that keep the rendered files consistent with each other.
//
// Every string that ends up inside a rendered file is constrained here to a character set that cannot
// break out of its context (Lua string, HOCON string, nginx directive, pf macro, ksh assignment, vm.conf
// quoted string). The renderers may therefore interpolate spec values without escaping; the escaping
// functions they use anyway are a second line of defence.
import * as z from "zod";

export const SPEC_VERSION = 1;

/** Jitsi releases (the jitsi-meet stable tag number) with behaviour changes that a renderer handles. */
export const RELEASES = {
  /** The paper's packages (OpenBSD 7.2, net/jitsi 2.0.7648). */
  paper: 7648,
  /** jicofo ignores command-line XMPP args; jicofo.xmpp.client.xmpp-domain required (jicofo 2943c21f). */
  jicofoXmppDomain: 8044,
  /** jvb websockets.domains (list) joins websockets.domain (jvb e3a2ae20). */
  jvbWebsocketDomains: 8319,
  /** Current OpenBSD packages; jvb ICE/TCP removed (jvb 89dde6ea). */
  current: 9646,
  /** jicofo as an XMPP client with prosody's client_proxy (jicofo 945dcc93): the oldest release vmmeet renders. */
  oldest: 5765,
} as const;

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

export const PROSODY_VERSIONS = ["0.11", "0.12", "13"] as const;

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
    name: NodeName,
    role: Role,
    address: Ipv4.describe("The VM's address on its vmd local interface (the paper: 100.64.N.3)"),
    vm: Vm.default({ disk: "5G", enable: true }),
    jvb: JvbOptions.optional(),
    jicofo: JicofoOptions.optional(),
  })
  .strict();

const Tls = z.discriminatedUnion("mode", [
  z
    .object({
      mode: z.literal("acme"),
      contact: z
        .string()
        .regex(/^mailto:[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+$/, "must be mailto:ADDRESS")
        .optional(),
      authority: z.enum(["letsencrypt", "letsencrypt-staging"]).default("letsencrypt"),
      certificate: AbsPath.optional().describe(
        "Full chain written by acme-client; default /etc/ssl/DOMAIN.fullchain.pem",
      ),
      key: AbsPath.optional().describe("Key written by acme-client; default /etc/ssl/private/DOMAIN.key"),
    })
    .strict(),
  z
    .object({
      mode: z.literal("files"),
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
    jicofo: z.number().int().min(1).max(3600).default(RECOVERY_SECONDS_DEFAULT.jicofo),
    jvb: z.number().int().min(1).max(3600).default(RECOVERY_SECONDS_DEFAULT.jvb),
    nginx: z.number().int().min(1).max(3600).default(RECOVERY_SECONDS_DEFAULT.nginx),
  })
  .strict();

export const SpecSchema = z
  .object({
    version: z.literal(SPEC_VERSION, {
      error: `must be ${SPEC_VERSION} (the spec format this vmmeet reads)`,
    }),
    domain: DomainName.describe("The XMPP domain and public site name (the paper: jts.fips.de)"),
    jitsi: z
      .object({
        release: z
          .number()
          .int()
          .min(
            RELEASES.oldest,
            `vmmeet renders releases from ${RELEASES.oldest} on (jicofo as a client_proxy user)`,
          )
          .max(99999)
          .describe(
            "Jitsi release installed on the VMs: 7648 = the paper's OpenBSD 7.2 packages, 9646 = current OpenBSD packages",
          ),
        prosody: z.enum(PROSODY_VERSIONS).default("0.12").describe("Prosody major version on the xmpp VM"),
      })
      .strict(),
    publicAddress: Ipv4.describe(
      "The address the world reaches (egress of the VMM host; jvb's NAT public address)",
    ),
    host: z
      .object({
        name: NodeName.default("vmm"),
        egress: z
          .string()
          .regex(IFACE_RE, "must be an interface or interface group name like em0 or egress")
          .default("egress"),
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
          .describe("Networks allowed to scrape jicofo (8080/8888) and jvb (8080)"),
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
      }),
    nodes: z.array(NodeSpec).min(1, "must list the deployment's VMs"),
    tls: Tls.default({ mode: "acme", authority: "letsencrypt" }),
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
        enabled: z.boolean().default(false),
        port: z.number().int().min(1).max(65535).default(3478),
        tlsPort: z.number().int().min(1).max(65535).default(5349),
      })
      .strict()
      .default({ enabled: false, port: 3478, tlsPort: 5349 }),
    auth: z
      .object({
        mode: z.enum(["anonymous", "internal"]).default("anonymous"),
        guests: z
          .boolean()
          .default(true)
          .describe("With internal auth: let unauthenticated guests join rooms a user opened"),
      })
      .strict()
      .default({ mode: "anonymous", guests: true }),
    web: z
      .object({
        stunServers: z
          .array(z.string().regex(/^stuns?:[A-Za-z0-9.-]+(:\d{1,5})?$/, "must be stun:HOST[:PORT]"))
          .default(["stun:meet-jit-si-turnrelay.jitsi.net:443"]),
        welcomePage: z.boolean().default(true),
        prejoin: z.boolean().default(true),
      })
      .strict()
      .default({
        stunServers: ["stun:meet-jit-si-turnrelay.jitsi.net:443"],
        welcomePage: true,
        prejoin: true,
      }),
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
              .default("* * * * *"),
            jitterSeconds: z.number().int().min(0).max(3600).default(15),
            alarmAfterSeconds: z.number().int().min(10).default(300),
          })
          .strict()
          .default({ schedule: "* * * * *", jitterSeconds: 15, alarmAfterSeconds: 300 }),
        pfConfirmSeconds: z.number().int().min(5).max(3600).default(60),
        recoverySeconds: RecoverySeconds.default(RECOVERY_SECONDS_DEFAULT),
      })
      .strict()
      .default({
        heal: { schedule: "* * * * *", jitterSeconds: 15, alarmAfterSeconds: 300 },
        pfConfirmSeconds: 60,
        recoverySeconds: RECOVERY_SECONDS_DEFAULT,
      }),
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
  const auth = asRecord(s.auth);
  if (auth.mode !== "internal" && auth.guests === false) {
    issue(["auth", "guests"], "guests: false needs auth.mode: internal (an anonymous site has only guests)");
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
