// The deployment spec: one YAML document describing a whole compartmentalized Jitsi Meet on one OpenBSD
// VMM host. This module is the single definition of its shape (TypeScript types come from z.infer); the
// parts have their own modules beside it (fields, nodes, jitsi, operations), and so do the cross-field rules
// that keep the rendered files consistent with each other (rules.ts).
import * as z from "zod";
import { AbsPath, Cidr, DomainName, IFACE_RE, Ipv4, NodeName } from "./fields.js";
import { Jitsi } from "./jitsi.js";
import { NodeSpec } from "./nodes.js";
import { Operations } from "./operations.js";
import { crossFieldRules } from "./rules.js";

export const SPEC_VERSION = 1;

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

export const SpecSchema = z
  .object({
    version: z
      .literal(SPEC_VERSION, {
        error: `must be ${SPEC_VERSION} (the spec format this vmmeet reads)`,
      })
      .describe("The spec format; older formats are migrated on read"),
    domain: DomainName.describe("The XMPP domain and public site name (the paper: jts.fips.de)"),
    jitsi: Jitsi.describe("The Jitsi packages on the VMs"),
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
    operations: Operations.describe("How the coordinator operates the deployment"),
  })
  .strict()
  // Cross-field rules run even when some fields failed (`when`), so that one run reports every problem;
  // they therefore read the value defensively.
  .superRefine((value, ctx) => crossFieldRules(value, ctx), { when: () => true });

export type Spec = z.infer<typeof SpecSchema>;
export type SpecInput = z.input<typeof SpecSchema>;
