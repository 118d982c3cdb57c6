// topology.svg drawn from its layout (topology/layout.ts): boxes, then wires with the pf rules of their
// flows as tooltips, then labels and text on top. Pure: the same spec gives the same bytes.
import type { Spec } from "@vmmeet/shared";
import { type Flow, flowLabel } from "./flows.js";
import type { SystemOptions } from "./system.js";
import type { Box } from "./topology/grid.js";
import { layoutTopology } from "./topology/layout.js";

export {
  type Box,
  type TextLine,
  type TopologyLayout,
  textWidth,
  type Wire,
} from "./topology/grid.js";
export { layoutTopology } from "./topology/layout.js";

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const STYLE = `
text { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, monospace; fill: #1b1f24; }
.box-host { fill: #f6f8fa; stroke: #57606a; stroke-width: 1.5; }
.box-external { fill: #ffffff; stroke: #57606a; stroke-width: 1.5; }
.box-service { fill: #ffffff; stroke: #8c959f; }
.box-vm { fill: #ffffff; stroke: #24292f; stroke-width: 1.5; }
.box-brewery { fill: none; stroke: #8250df; stroke-dasharray: 6 4; stroke-width: 1.5; }
.box-label { fill: #ffffff; fill-opacity: 0.92; stroke: none; }
.brewery-label { fill: #8250df; }
.wire { fill: none; stroke-width: 1.6; }
.wire-public { stroke: #0969da; } .key-public { fill: #0969da; }
.wire-internal { stroke: #1a7f37; } .key-internal { fill: #1a7f37; }
.wire-egress { stroke: #9a6700; } .key-egress { fill: #9a6700; }
.wire-control { stroke: #6e7781; } .key-control { fill: #6e7781; }
.wire-admin { stroke: #bf3989; } .key-admin { fill: #bf3989; }
.wire-monitor { stroke: #8250df; } .key-monitor { fill: #8250df; }
path.wire { fill: none; }
`;

/** topology.svg of a spec; `options` as the pf renderers get them (coordinatorPort). */
export function renderTopologySvg(spec: Spec, options: SystemOptions = {}): string {
  const l = layoutTopology(spec, options);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${l.width} ${l.height}" width="${l.width}" height="${l.height}" role="img" aria-labelledby="topology-title">`,
    `<title id="topology-title">${esc(`vmmeet topology of ${spec.domain}: ${spec.nodes.length} VMs on ${spec.host.name}`)}</title>`,
    `<style>${STYLE}</style>`,
    `<defs>${(["public", "internal", "egress", "control", "admin", "monitor"] as const)
      .map(
        (k) =>
          `<marker id="arrow-${k}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="key-${k}"/></marker>`,
      )
      .join("")}</defs>`,
  ];
  const rect = (b: Box) =>
    `<rect class="box box-${b.kind}" data-box="${esc(b.id)}"${b.parent ? ` data-parent="${esc(b.parent)}"` : ""} x="${b.x}" y="${b.y}" width="${b.w}" height="${b.h}" rx="${b.kind === "label" ? 2 : 6}"/>`;
  // Boxes first (host, services, VMs), then the wires, then the label boxes and all text on top.
  for (const b of l.boxes.filter((x) => x.kind !== "label")) {
    if (b.node) out.push(`<g class="node" data-node="${esc(b.node)}">${rect(b)}</g>`);
    else out.push(rect(b));
  }
  const byFlow = new Map(l.flows.map((f) => [f.id, f]));
  for (const w of l.wires) {
    const d = w.points.map(([x, y], i) => `${i === 0 ? "M" : "L"}${x},${y}`).join(" ");
    const tip = w.flows
      .map((id) => byFlow.get(id))
      .filter((f): f is Flow => f !== undefined)
      .map((f) => `${f.what}: ${flowLabel(f)}\n${f.rules.join("\n")}`)
      .join("\n\n");
    out.push(
      `<path class="wire wire-${w.kind}" data-flows="${esc(w.flows.join(" "))}" d="${d}"${w.arrow ? ` marker-end="url(#arrow-${w.kind})"` : ""}>${tip ? `<title>${esc(tip)}</title>` : ""}</path>`,
    );
  }
  for (const b of l.boxes.filter((x) => x.kind === "label" && x.id !== "legend")) out.push(rect(b));
  for (const t of l.texts) {
    const attrs = [
      `x="${round(t.x)}"`,
      `y="${round(t.y)}"`,
      `font-size="${t.size}"`,
      ...(t.bold ? [`font-weight="bold"`] : []),
      ...(t.className ? [`class="${t.className}"`] : []),
      ...(t.anchor === "middle" ? [`text-anchor="middle"`] : []),
      `data-in="${esc(t.box)}"`,
    ];
    out.push(`<text ${attrs.join(" ")}>${esc(t.text)}</text>`);
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

const round = (n: number) => Math.round(n * 10) / 10;
