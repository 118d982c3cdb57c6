// The rollout order the paper teaches ("startup ordering: nginx, prosody, jicofo, jvb - or wait times
// increase"; jicofo and jvb need prosody to log in): the VMM host first (it runs the VMs and the firewall),
// then prosody until it is healthy, then jicofo and the bridges until jicofo sees every bridge in the
// brewery, then the web VM (and TURN).
import type { Spec } from "@vmmeet/shared";

export type Gate = "applied" | "xmpp-healthy" | "brewery-complete" | "web-healthy";

export interface Stage {
  name: string;
  nodes: string[];
  gate: Gate;
}

export function rolloutStages(spec: Spec): Stage[] {
  const of = (...roles: string[]) => spec.nodes.filter((n) => roles.includes(n.role)).map((n) => n.name);
  return [
    { name: "host", nodes: [spec.host.name], gate: "applied" },
    { name: "xmpp", nodes: of("xmpp"), gate: "xmpp-healthy" },
    { name: "focus and bridges", nodes: of("jicofo", "jvb"), gate: "brewery-complete" },
    { name: "web", nodes: of("web", "turn"), gate: "web-healthy" },
  ];
}
