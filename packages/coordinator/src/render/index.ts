// Composes the component renderers into one desired state per node: the component's own files, then the
// VM's system files (pf.conf, hosts, myname, syslog.conf and newsyslog.conf with the component's program
// blocks), and the VMM host as a node of its own. Pure: same input, same bytes.
import {
  jvbNickname,
  type NodeDesired,
  NodeDesired as NodeDesiredSchema,
  type NodeSpec,
  pathRefusal,
  type Role,
  releaseOf,
  serviceRefusal,
} from "@vmmeet/shared";
import { renderHost } from "./host.js";
import { renderJicofo } from "./jicofo.js";
import { renderJvb } from "./jvb.js";
import { renderSystem } from "./system.js";
import { renderTurn } from "./turn.js";
import type { ComponentRender, ComponentRenderer, RenderInput } from "./types.js";
import { renderWeb } from "./web.js";
import { renderXmpp } from "./xmpp.js";

const COMPONENT: Record<Role, ComponentRenderer> = {
  web: renderWeb,
  xmpp: renderXmpp,
  jicofo: renderJicofo,
  jvb: renderJvb,
  turn: renderTurn,
};

export function renderNode(input: RenderInput, node: NodeSpec): NodeDesired {
  const component = COMPONENT[node.role](input, node);
  const system = renderSystem(input, node, component.programLogs, {
    coordinatorPort: input.spec.host.coordinatorPort,
  });
  return assemble(input, node.name, node.role, [component, system]);
}

export function renderHostNode(input: RenderInput): NodeDesired {
  return assemble(
    input,
    input.spec.host.name,
    "host",
    [renderHost(input, { coordinatorPort: input.spec.host.coordinatorPort })],
    // The host's agent starts the enabled VMs vmd does not run (vm.conf's names are the node names).
    input.spec.nodes.map((n) => ({ name: n.name, enable: n.vm.enable })),
  );
}

/** Every node's desired state, the VMM host first, then the VMs in spec order. */
export function renderDeployment(input: RenderInput): Record<string, NodeDesired> {
  const out: Record<string, NodeDesired> = { [input.spec.host.name]: renderHostNode(input) };
  for (const node of input.spec.nodes) out[node.name] = renderNode(input, node);
  return out;
}

function assemble(
  input: RenderInput,
  name: string,
  role: NodeDesired["role"],
  parts: ComponentRender[],
  vms?: NodeDesired["vms"],
): NodeDesired {
  const files = parts.flatMap((p) => p.files);
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw new Error(`internal: two renderers produced ${f.path} for node ${name}`);
    seen.add(f.path);
    // The coordinator enforces the same allow-list as the agent: a renderer bug never reaches a VM.
    const refusal = pathRefusal(role, f.path);
    if (refusal)
      throw new Error(`internal: renderer produced ${f.path} for ${role} node ${name}: ${refusal}`);
  }
  const services = parts
    .flatMap((p) => p.services)
    .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
  for (const s of services) {
    const refusal = serviceRefusal(role, s.name);
    if (refusal)
      throw new Error(`internal: renderer produced service ${s.name} for ${role} node ${name}: ${refusal}`);
  }
  return NodeDesiredSchema.parse({
    node: name,
    role,
    files: [...files].sort((a, b) => a.path.localeCompare(b.path)),
    services,
    actions: parts.flatMap((p) => p.actions),
    health: {
      // The log rules of the component this node runs follow that component's release.
      release: releaseOf(
        input.spec,
        role === "jvb" ? "jvb" : role === "xmpp" ? "plugins" : role === "web" ? "web" : "jicofo",
      ),
      logs: parts.flatMap((p) => p.logs),
      probes: parts.flatMap((p) => p.probes.map((probe) => ({ ...probe, ports: probe.ports ?? [] }))),
      // jicofo's agent tells a bridge the spec took out (expected to leave the brewery) from a lost one.
      ...(role === "jicofo"
        ? { bridges: input.spec.nodes.filter((n) => n.role === "jvb").map((n) => jvbNickname(n)) }
        : {}),
    },
    // Every node has a pf.conf: its agent reverts a new one unless this coordinator confirms it in time.
    pf: { confirmSeconds: input.spec.operations.pfConfirmSeconds },
    ...(vms ? { vms } : {}),
  });
}
