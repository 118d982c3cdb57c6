// Below the VMs: one lane per flow between VMs, labelled at its left end, then the bus that carries every
// VM's traffic to the host's services (NTP/HTTP through the NAT, DNS, the coordinator) and ssh back.
import type { NodeSpec } from "@vmmeet/shared";
import { type Flow, flowLabel, HOST, RESOLVER, WORLD } from "../flows.js";
import { type Box, type Drawing, LANE_STEP, SMALL, textWidth, VM_H } from "./grid.js";

/** Where the part above left off: the VMs' top, the host column's gutter and its first service. */
export interface Above {
  vmY: number;
  gutter: number;
  svcTop: number;
}

/** Lay out the lanes and the bus into `d`; returns the bus's y, the lowest line of the host box. */
export function layoutBelowVms(
  d: Drawing,
  flows: Flow[],
  vms: readonly NodeSpec[],
  vmBox: ReadonlyMap<string, Box>,
  svcBox: ReadonlyMap<string, Box>,
  { vmY, gutter, svcTop }: Above,
): number {
  const { boxes, texts, wires } = d;
  const isVm = (e: string) => vms.some((n) => n.name === e);
  // --- lanes below the VMs: flows between VMs
  const internal = flows.filter((f) => f.from.every(isVm) && f.to.every(isVm));
  const laneTop = vmY + VM_H + 12 + 30;
  const bottomSlots = new Map<string, number>();
  const bottomX = (name: string) => {
    const b = vmBox.get(name)!;
    const k = (bottomSlots.get(name) ?? 0) + 1;
    bottomSlots.set(name, k);
    return Math.round(b.x + 14 + (k - 1) * 18);
  };
  internal.forEach((f, i) => {
    const y = laneTop + i * LANE_STEP;
    const ends = [...f.from.map((n) => ({ n, src: true })), ...f.to.map((n) => ({ n, src: false }))].map(
      (e) => ({
        ...e,
        x: bottomX(e.n),
      }),
    );
    const xs = ends.map((e) => e.x);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    wires.push({
      flows: [f.id],
      kind: f.kind,
      points: [
        [x0, y],
        [x1, y],
      ],
      arrow: false,
    });
    for (const e of ends) {
      const bottom = vmBox.get(e.n)!.y + VM_H;
      wires.push({
        flows: [f.id],
        kind: f.kind,
        points: e.src
          ? [
              [e.x, bottom],
              [e.x, y],
            ]
          : [
              [e.x, y],
              [e.x, bottom],
            ],
        arrow: !e.src,
      });
    }
    const label = `${flowLabel(f)}: ${f.what}`;
    const lb: Box = {
      id: `lane-${i}`,
      kind: "label",
      x: x0 + 4,
      y: y - 17,
      w: textWidth(label, SMALL) + 8,
      h: 15,
      parent: "host",
    };
    boxes.push(lb);
    texts.push({ x: lb.x + 4, y: y - 6, text: label, size: SMALL, box: lb.id });
  });

  // --- the bus: every VM to the host's services (NTP/HTTP via NAT, DNS, the coordinator), ssh back
  const busY = laneTop + internal.length * LANE_STEP + 14;
  const trunkX = gutter + 16;
  const busFlows = flows.filter((f) => f.kind === "egress" || f.kind === "control");
  for (const n of vms) {
    const x = bottomX(n.name);
    wires.push({
      flows: busFlows.map((f) => f.id),
      kind: "egress",
      points: [
        [x, vmBox.get(n.name)!.y + VM_H],
        [x, busY],
      ],
      arrow: false,
    });
  }
  const lastX = Math.max(...vms.map((n) => bottomX(n.name) - 18));
  wires.push({
    flows: busFlows.map((f) => f.id),
    kind: "egress",
    points: [
      [lastX, busY],
      [trunkX, busY],
      [trunkX, svcTop + 14],
    ],
    arrow: false,
  });
  const branch = (svc: string, flowsOf: Flow[], toService: boolean) => {
    const b = svcBox.get(svc);
    if (!b || flowsOf.length === 0) return;
    const y = b.y + 32;
    wires.push({
      flows: flowsOf.map((f) => f.id),
      kind: flowsOf[0]!.kind,
      points: toService
        ? [
            [trunkX, y],
            [b.x + b.w, y],
          ]
        : [
            [b.x + b.w, y],
            [trunkX, y],
          ],
      arrow: true,
    });
  };
  branch(
    "svc-nat",
    flows.filter((f) => f.kind === "egress" && f.to[0] === WORLD),
    true,
  );
  branch(
    "svc-resolver",
    flows.filter((f) => f.to[0] === RESOLVER),
    true,
  );
  branch(
    "svc-coordinator",
    flows.filter((f) => f.to[0] === HOST && f.kind === "control"),
    true,
  );
  branch(
    "svc-sshd",
    flows.filter((f) => f.from[0] === HOST && f.ports[0] === "22"),
    false,
  );
  const busLabel = "every VM: its pf.conf lets these out, the host lets them in";
  const bl: Box = {
    id: "bus-label",
    kind: "label",
    x: trunkX + 8,
    y: busY + 4,
    w: textWidth(busLabel, SMALL) + 8,
    h: 15,
    parent: "host",
  };
  boxes.push(bl);
  texts.push({ x: bl.x + 4, y: bl.y + 11, text: busLabel, size: SMALL, box: bl.id });
  return busY;
}
