// What the renderers derive from a valid spec: defaults that depend on another field (a VM's memory by its
// role, a bridge's nickname by its name, the certificate's paths by the domain) and lookups.
import { componentReleases, type JitsiComponent } from "../releases.js";
import { DEFAULT_JVB_UDP_PORT, type NodeSpec, type Role } from "./nodes.js";
import type { Spec } from "./schema.js";

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
  return node.jvb?.udpPort ?? DEFAULT_JVB_UDP_PORT;
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
