// The rollout order the paper teaches ("startup ordering: nginx, prosody, jicofo, jvb - or wait times
// increase"; jicofo and jvb need prosody to log in): the VMM host first (it runs the VMs and the firewall),
// then prosody until it is healthy, then jicofo and the bridges until jicofo sees every bridge in the
// brewery, and the web VM (and TURN). Each stage names the stages it waits for: the web VM's nginx proxies
// BOSH and the XMPP websocket to prosody and needs nothing of jicofo or the bridges, so it starts as soon as
// prosody passed its gate, beside the bridges' stage, instead of waiting for their brewery (which a prosody
// restart makes seconds long: every bridge reconnects and joins again).
import type { Spec } from "@vmmeet/shared";

export type Gate = "applied" | "xmpp-healthy" | "brewery-complete" | "web-healthy";

export interface Stage {
  name: string;
  nodes: string[];
  gate: Gate;
  /** The stages that must have passed before this one starts (listed earlier in the array). */
  after: string[];
}

export function rolloutStages(spec: Spec): Stage[] {
  const of = (...roles: string[]) => spec.nodes.filter((n) => roles.includes(n.role)).map((n) => n.name);
  return [
    { name: "host", nodes: [spec.host.name], gate: "applied", after: [] },
    { name: "xmpp", nodes: of("xmpp"), gate: "xmpp-healthy", after: ["host"] },
    { name: "focus and bridges", nodes: of("jicofo", "jvb"), gate: "brewery-complete", after: ["xmpp"] },
    { name: "web", nodes: of("web", "turn"), gate: "web-healthy", after: ["xmpp"] },
  ];
}
