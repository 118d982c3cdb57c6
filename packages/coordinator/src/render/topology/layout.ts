// topology.svg: the deployment as the paper draws it in three figures (the VMs on the VMM host, the TCP and
// UDP flows pf lets through, the brewery of jicofo and its bridges), in one plain SVG made from the spec.
// Every arrow is a flow of flows.ts, which names the pf.conf rules behind it, so the picture cannot say
// what pf does not do. Pure: the same spec gives the same bytes; no browser is needed to make it.
//
// Layout (fixed grid, no solver, so that it is predictable and testable for overlaps):
//   top row      the Internet, the admin and monitor networks (when the spec lists them)
//   rails        one horizontal line per top-row source; from it, one arrow per flow drops to its target
//   host box     left column: the host's facts and its services (sshd, coordinator, resolver, NAT);
//                right: one column per VM in spec order, a label block above each naming the flows that
//                reach it from above, the brewery (dashed) around jicofo and the bridges
//   lanes        below the VMs, one horizontal lane per flow between VMs, labelled at its left end
//   bus          each VM's traffic to the host's services: a bus under the VMs and a trunk beside them
// Text uses a monospace font so that its width is known (0.6 em per character), which the overlap test
// and the layout rely on.
import { breweryJid, jvbUdpPort, type NodeSpec, type Spec, vmMemory } from "@vmmeet/shared";
import { ADMIN, deploymentFlows, type Flow, flowLabel, HOST, MONITOR, WORLD } from "../flows.js";
import type { SystemOptions } from "../system.js";
import { layoutBelowVms } from "./below.js";
import {
  type Box,
  COL_W,
  FONT,
  fit,
  LABEL_LINE,
  M,
  RAIL_STEP,
  SMALL,
  SVC_H,
  SVC_W,
  type TextLine,
  TOP_H,
  type TopologyLayout,
  textWidth,
  VM_GAP,
  VM_H,
  VM_W,
  type Wire,
} from "./grid.js";

const MARKS: Record<Flow["kind"], string> = {
  public: "public",
  internal: "internal",
  egress: "egress",
  control: "control",
  admin: "admin",
  monitor: "monitor",
};

export function layoutTopology(spec: Spec, options: SystemOptions = {}): TopologyLayout {
  const flows = deploymentFlows(spec, options);
  const boxes: Box[] = [];
  const texts: TextLine[] = [];
  const wires: Wire[] = [];
  const vms = spec.nodes;
  const isVm = (e: string) => vms.some((n) => n.name === e);

  // --- top row: the Internet and the networks that reach in
  const sources = [WORLD, ...(spec.host.adminNetworks.length > 0 ? [ADMIN] : [])];
  if (spec.host.monitorNetworks.length > 0) sources.push(MONITOR);
  const vmX0 = M + COL_W + 40;
  const vmX = (i: number) => vmX0 + i * (VM_W + VM_GAP);
  const width = Math.max(vmX(vms.length) - VM_GAP + 16 + M, M + sources.length * 320);
  const topW = (width - 2 * M - (sources.length - 1) * 20) / sources.length;
  const topBox = new Map<string, Box>();
  sources.forEach((s, i) => {
    const b: Box = { id: s.slice(1), kind: "external", x: M + i * (topW + 20), y: M, w: topW, h: TOP_H };
    boxes.push(b);
    topBox.set(s, b);
    const lines =
      s === WORLD
        ? ["Internet", `public address ${spec.publicAddress} on ${spec.host.egress}`]
        : s === ADMIN
          ? ["admin networks", spec.host.adminNetworks.join(" ")]
          : ["monitoring networks", spec.host.monitorNetworks.join(" ")];
    texts.push({ x: b.x + 10, y: b.y + 22, text: lines[0]!, size: FONT + 1, bold: true, box: b.id });
    texts.push({ x: b.x + 10, y: b.y + 42, text: fit(lines[1]!, b.w - 20, SMALL), size: SMALL, box: b.id });
  });

  // --- rails, one per top-row source
  const railY = (s: string) => M + TOP_H + 14 + sources.indexOf(s) * RAIL_STEP;
  const hostY = M + TOP_H + 14 + sources.length * RAIL_STEP + 10;

  // --- the flows from above (top-row sources to VMs and to the host), per target
  // (The VMs' own egress reaches the Internet through the host's NAT: drawn with the bus below.)
  const upper = flows.filter(
    (f) => f.kind !== "egress" && (f.from.some((e) => sources.includes(e)) || f.to.includes(WORLD)),
  );
  const perVm = new Map<string, { flow: Flow; source: string; up: boolean }[]>();
  for (const f of upper) {
    for (const target of f.to.includes(WORLD) ? f.from : f.to) {
      if (!isVm(target)) continue;
      const source = f.to.includes(WORLD) ? WORLD : f.from[0]!;
      const list = perVm.get(target) ?? [];
      list.push({ flow: f, source, up: f.to.includes(WORLD) });
      perVm.set(target, list);
    }
  }
  // Flows every VM shares (ssh from the admin networks) are one label line each, but one arrow per VM.
  const labelLines = (name: string) =>
    (perVm.get(name) ?? []).map(({ flow, source, up }) => {
      const from = source === WORLD ? "" : ` ${source.slice(1)}`;
      return `${up ? "▲" : "▼"} ${flowLabel(flow)}${flow.rdr ? " rdr" : ""}${from}`;
    });
  const maxLines = Math.max(1, ...vms.map((n) => labelLines(n.name).length));
  const breweryStrip = 24;
  const labelTop = hostY + 16;
  const vmY = labelTop + maxLines * LABEL_LINE + 10 + breweryStrip + 6;

  // --- host's left column: facts, then services
  const hostFacts = [
    `${spec.host.name}: VMM host`,
    `egress interface ${spec.host.egress}`,
    `VMs ${spec.host.vmNetwork}`,
    `Jitsi ${spec.jitsi.release}`,
  ];
  const colX = M + 14;
  const services: { id: string; lines: string[] }[] = [
    { id: "svc-sshd", lines: ["sshd tcp 22", "▶ ssh to every VM"] },
    { id: "svc-nat", lines: ["pf nat-to (egress)", "VMs and host out"] },
    { id: "svc-resolver", lines: [`resolver ${spec.host.resolver}`, "DNS of every VM (rdr-to)"] },
  ];
  if (options.coordinatorPort !== undefined)
    services.push({
      id: "svc-coordinator",
      lines: [`coordinator tcp ${options.coordinatorPort}`, "vmmeet agents"],
    });
  const factsTop = hostY + 22;
  const svcTop = factsTop + hostFacts.length * 16 + 10;
  const svcBox = new Map<string, Box>();
  services.forEach((s, i) => {
    const b: Box = {
      id: s.id,
      kind: "service",
      x: colX,
      y: svcTop + i * (SVC_H + 12),
      w: SVC_W,
      h: SVC_H,
      parent: "host",
    };
    boxes.push(b);
    svcBox.set(s.id, b);
    texts.push({ x: b.x + 8, y: b.y + 18, text: s.lines[0]!, size: FONT, bold: true, box: b.id });
    texts.push({ x: b.x + 8, y: b.y + 36, text: s.lines[1]!, size: SMALL, box: b.id });
  });
  const colBottom = svcTop + services.length * (SVC_H + 12);

  // --- VM boxes, label blocks, brewery
  const vmBox = new Map<string, Box>();
  vms.forEach((n, i) => {
    const b: Box = {
      id: `vm-${n.name}`,
      kind: "vm",
      x: vmX(i),
      y: vmY,
      w: VM_W,
      h: VM_H,
      parent: "host",
      node: n.name,
    };
    boxes.push(b);
    vmBox.set(n.name, b);
    const lines = vmLines(n);
    texts.push({ x: b.x + 10, y: b.y + 20, text: lines[0]!, size: FONT + 2, bold: true, box: b.id });
    lines.slice(1).forEach((t, k) => {
      texts.push({
        x: b.x + 10,
        y: b.y + 40 + k * 15,
        text: fit(t, VM_W - 20, SMALL),
        size: SMALL,
        box: b.id,
      });
    });
    const ll = labelLines(n.name);
    if (ll.length > 0) {
      const lb: Box = {
        id: `label-${n.name}`,
        kind: "label",
        x: b.x,
        y: labelTop,
        w: VM_W,
        h: ll.length * LABEL_LINE + 6,
        parent: "host",
      };
      boxes.push(lb);
      ll.forEach((t, k) => {
        texts.push({
          x: lb.x + 4,
          y: lb.y + 12 + k * LABEL_LINE,
          text: fit(t, VM_W - 8, SMALL),
          size: SMALL,
          box: lb.id,
        });
      });
    }
  });
  const brewed = vms.filter((n) => n.role === "jicofo" || n.role === "jvb").map((n) => vmBox.get(n.name)!);
  if (brewed.length > 0) {
    const x0 = Math.min(...brewed.map((b) => b.x)) - 8;
    const x1 = Math.max(...brewed.map((b) => b.x + b.w)) + 8;
    const br: Box = {
      id: "brewery",
      kind: "brewery",
      x: x0,
      y: vmY - breweryStrip - 2,
      w: x1 - x0,
      h: VM_H + breweryStrip + 10,
      parent: "host",
    };
    boxes.push(br);
    for (const b of brewed) b.parent = "brewery";
    texts.push({
      x: x0 + 8,
      y: br.y + 16,
      text: fit(`brewery ${breweryJid(spec)}`, x1 - x0 - 16, SMALL),
      size: SMALL,
      box: br.id,
      className: "brewery-label",
    });
  }

  // --- wires from the rails down to the VMs (and up, for media leaving a VM)
  const slotsUsed = new Map<string, number>();
  const slotX = (name: string) => {
    const b = vmBox.get(name)!;
    const n = (perVm.get(name) ?? []).length + 1;
    const k = (slotsUsed.get(name) ?? 0) + 1;
    slotsUsed.set(name, k);
    return Math.round(b.x + (b.w * k) / n);
  };
  const railSpan = new Map<string, [number, number]>();
  const extend = (s: string, x: number) => {
    const [a, z] = railSpan.get(s) ?? [x, x];
    railSpan.set(s, [Math.min(a, x), Math.max(z, x)]);
  };
  for (const n of vms) {
    for (const { flow, source, up } of perVm.get(n.name) ?? []) {
      const x = slotX(n.name);
      const y = railY(source);
      const top = vmBox.get(n.name)!.y;
      extend(source, x);
      wires.push({
        flows: [flow.id],
        kind: flow.kind,
        points: up
          ? [
              [x, top],
              [x, y],
            ]
          : [
              [x, y],
              [x, top],
            ],
        arrow: true,
      });
    }
  }
  // ssh to the host, from the Internet or the admin networks: down the left column's gutter.
  const gutter = colX + SVC_W + 8;
  const sshd = svcBox.get("svc-sshd")!;
  for (const f of flows.filter((x) => x.to.length === 1 && x.to[0] === HOST && x.ports[0] === "22")) {
    const s = f.from[0]!;
    extend(s, gutter);
    wires.push({
      flows: [f.id],
      kind: f.kind,
      points: [
        [gutter, railY(s)],
        [gutter, sshd.y + 14],
        [sshd.x + sshd.w, sshd.y + 14],
      ],
      arrow: true,
    });
  }
  // The host's own traffic and the VMs' NAT: up from the NAT box to the Internet.
  const nat = svcBox.get("svc-nat")!;
  const natUp = flows.filter(
    (f) => f.to.length === 1 && f.to[0] === WORLD && (f.from[0] === HOST || f.kind === "egress"),
  );
  const natX = gutter + 8;
  extend(WORLD, natX);
  wires.push({
    flows: natUp.map((f) => f.id),
    kind: "egress",
    points: [
      [nat.x + nat.w, nat.y + 14],
      [natX, nat.y + 14],
      [natX, railY(WORLD)],
    ],
    arrow: true,
  });
  // Rails, and a drop from each top-row box to its rail.
  for (const s of sources) {
    const b = topBox.get(s)!;
    const dropX = Math.round(b.x + b.w / 2);
    extend(s, dropX);
    const [a, z] = railSpan.get(s)!;
    wires.push({
      flows: [],
      kind: s === WORLD ? "public" : s === ADMIN ? "admin" : "monitor",
      points: [
        [dropX, b.y + b.h],
        [dropX, railY(s)],
      ],
      arrow: false,
    });
    wires.push({
      flows: [],
      kind: s === WORLD ? "public" : s === ADMIN ? "admin" : "monitor",
      points: [
        [a, railY(s)],
        [z, railY(s)],
      ],
      arrow: false,
    });
  }

  const busY = layoutBelowVms({ boxes, texts, wires }, flows, vms, vmBox, svcBox, { vmY, gutter, svcTop });

  // --- the host box around everything below the rails
  const hostBottom = Math.max(busY + 30, colBottom + 10);
  const host: Box = {
    id: "host",
    kind: "host",
    x: M,
    y: hostY,
    w: width - 2 * M,
    h: hostBottom - hostY,
    node: spec.host.name,
  };
  boxes.unshift(host);
  hostFacts.forEach((t, k) => {
    texts.push({
      x: colX,
      y: factsTop + k * 16,
      text: t,
      size: k === 0 ? FONT + 2 : SMALL,
      bold: k === 0,
      box: "host",
    });
  });
  const keyTexts = legend(width, hostBottom + 22);
  texts.push(...keyTexts.texts);
  boxes.push(keyTexts.box);
  return { width, height: hostBottom + 46, boxes, texts, wires, flows };
}

function vmLines(n: NodeSpec): string[] {
  const role: Record<NodeSpec["role"], string> = {
    web: "web: nginx, jitsi-meet",
    xmpp: "xmpp: prosody",
    jicofo: "jicofo",
    jvb: `jvb: media udp ${jvbUdpPort(n)}`,
    turn: "turn: coturn",
  };
  return [n.name, role[n.role], n.address, `memory ${vmMemory(n)}${n.vm.enable ? "" : ", disabled"}`];
}

function legend(width: number, y: number): { box: Box; texts: TextLine[] } {
  const items = ["public", "internal", "egress", "control", "admin", "monitor"] as const;
  const text = "flows: ";
  const box: Box = { id: "legend", kind: "label", x: M, y: y - 13, w: width - 2 * M, h: 18 };
  const texts: TextLine[] = [{ x: M, y, text, size: SMALL, bold: true, box: "legend" }];
  let x = M + textWidth(text, SMALL) + 6;
  for (const k of items) {
    texts.push({ x, y, text: `━ ${MARKS[k]}`, size: SMALL, box: "legend", className: `key-${k}` });
    x += textWidth(`━ ${k}`, SMALL) + 16;
  }
  return { box, texts };
}
