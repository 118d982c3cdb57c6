// The spec's cross-field rules: what no single field's schema can say (unique names, addresses and bridge
// ports, exactly one node of each role, a Java new enough for the release). They run on the raw value even
// when some fields failed, so that one run reports every problem; they therefore read it defensively.
import type * as z from "zod";
import { CHANGES, componentReleases, jitsiRelease } from "../releases.js";
import { Cidr, IPV4_RE, inCidr } from "./fields.js";
import { DEFAULT_JVB_UDP_PORT, type Role } from "./nodes.js";

// Cross-field rules. Each pushes an issue with the exact path it concerns, so that the CLI prints every
// problem at once as `path: message` lines.
export function crossFieldRules(value: unknown, ctx: z.RefinementCtx): void {
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
    const port = typeof opts.udpPort === "number" ? opts.udpPort : DEFAULT_JVB_UDP_PORT;
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
