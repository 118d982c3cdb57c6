// The deployment's machines: the roles a VM may have, and one VM's entry of the spec (its name, address,
// vm.conf settings and the options of its component).
import * as z from "zod";
import { Ipv4, NICK_RE, NodeName, Size } from "./fields.js";

export const ROLES = ["web", "xmpp", "jicofo", "jvb", "turn"] as const;
export const Role = z.enum(ROLES);
/** The VMM host is a node too (it runs an agent that applies vm.conf, pf.conf, sysctl.conf), named by host.name. */
export const HOST_ROLE = "host" as const;
export type NodeRole = (typeof ROLES)[number] | typeof HOST_ROLE;

/** The UDP port of a bridge without jvb.udpPort (videobridge.ice.udp.port's own default). */
export const DEFAULT_JVB_UDP_PORT = 10000;

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
      .default(DEFAULT_JVB_UDP_PORT)
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

export type NodeSpec = z.infer<typeof NodeSpec>;
export type Role = z.infer<typeof Role>;
