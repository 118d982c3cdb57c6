// topology.svg, read back from the SVG text itself: every flow of flows.ts is drawn and nothing else is
// (flows.test.ts ties the flows to pf.conf), no two boxes overlap unless one lies inside the other, and no
// text leaves its box or runs into another text, for the paper's topology, 3 jvbs, and TURN with every
// optional flow.
import { describe, expect, it } from "vitest";
import { everyFlow, paperInput, threeJvbs } from "../../../../test/helpers/render.js";
import { deploymentFlows } from "./flows.js";
import { renderTopologySvg, textWidth } from "./topology.js";
import type { RenderInput } from "./types.js";

interface Rect {
  id: string;
  parent?: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

const attr = (tag: string, name: string) => new RegExp(`\\s${name}="([^"]*)"`).exec(tag)?.[1];
const num = (tag: string, name: string) => Number(attr(tag, name));
const unxml = (s: string) =>
  s
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");

function read(svg: string) {
  const boxes: Rect[] = [...svg.matchAll(/<rect [^>]*data-box="[^"]*"[^>]*>/g)].map(([tag]) => ({
    id: attr(tag, "data-box")!,
    ...(attr(tag, "data-parent") ? { parent: attr(tag, "data-parent")! } : {}),
    x: num(tag, "x"),
    y: num(tag, "y"),
    w: num(tag, "width"),
    h: num(tag, "height"),
  }));
  const texts = [...svg.matchAll(/<text ([^>]*)>([^<]*)<\/text>/g)].map(([, a, body]) => {
    const tag = ` ${a}`;
    const size = num(tag, "font-size");
    const text = unxml(body!);
    return {
      box: attr(tag, "data-in")!,
      text,
      x: num(tag, "x"),
      y: num(tag, "y") - size * 0.8,
      w: textWidth(text, size),
      h: size,
    };
  });
  const wires = [...svg.matchAll(/<path class="wire[^"]*" data-flows="([^"]*)"/g)].map(([, f]) =>
    unxml(f!).split(" ").filter(Boolean),
  );
  const viewBox = /viewBox="0 0 (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)"/.exec(svg)!;
  return { boxes, texts, wires, width: Number(viewBox[1]), height: Number(viewBox[2]) };
}

const overlap = (a: Rect | { x: number; y: number; w: number; h: number }, b: typeof a) =>
  a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
const inside = (a: { x: number; y: number; w: number; h: number }, b: typeof a) =>
  a.x >= b.x - 0.5 && a.y >= b.y - 0.5 && a.x + a.w <= b.x + b.w + 0.5 && a.y + a.h <= b.y + b.h + 0.5;

function expectReadable(input: RenderInput) {
  const options = { coordinatorPort: input.spec.host.coordinatorPort };
  const svg = renderTopologySvg(input.spec, options);
  const { boxes, texts, wires, width, height } = read(svg);
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const ancestors = (b: Rect): string[] => (b.parent ? [b.parent, ...ancestors(byId.get(b.parent)!)] : []);
  const clashes: string[] = [];
  for (const [i, a] of boxes.entries()) {
    expect(inside(a, { x: 0, y: 0, w: width, h: height }), `${a.id} inside the picture`).toBe(true);
    for (const b of boxes.slice(i + 1)) {
      if (ancestors(a).includes(b.id) || ancestors(b).includes(a.id)) {
        const [inner, outer] = ancestors(a).includes(b.id) ? [a, b] : [b, a];
        if (!inside(inner, outer)) clashes.push(`${inner.id} leaves ${outer.id}`);
      } else if (overlap(a, b)) clashes.push(`${a.id} overlaps ${b.id}`);
    }
  }
  for (const [i, t] of texts.entries()) {
    const box = byId.get(t.box);
    if (box && !inside(t, box)) clashes.push(`"${t.text}" leaves ${t.box}`);
    for (const u of texts.slice(i + 1)) if (overlap(t, u)) clashes.push(`"${t.text}" overlaps "${u.text}"`);
  }
  expect(clashes).toEqual([]);
  // Every flow is drawn, and every wire that carries flows carries flows of the model.
  const flows = deploymentFlows(input.spec, options);
  const drawn = new Set(wires.flat());
  expect(flows.filter((f) => !drawn.has(f.id)).map((f) => f.id)).toEqual([]);
  expect([...drawn].filter((id) => !flows.some((f) => f.id === id))).toEqual([]);
  for (const n of input.spec.nodes) expect(svg).toContain(`data-node="${n.name}"`);
  return { svg, boxes, width };
}

describe("topology.svg", () => {
  it("the paper's topology: VMs, flows and the brewery, nothing overlapping", () => {
    const { svg, boxes, width } = expectReadable(paperInput());
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain("public address 87.253.170.146 on egress");
    expect(svg).toContain("brewery JvbBrewery@internal.auth.jts.fips.de");
    expect(svg).toContain("▼ tcp 80,443 rdr");
    expect(svg).toContain("tcp 5222: XMPP client logins");
    // The brewery holds jicofo and the bridge, not prosody or web.
    expect(boxes.filter((b) => b.parent === "brewery").map((b) => b.id)).toEqual(["vm-jicofo", "vm-jvb"]);
    // Fits a laptop screen's width and an A4 page at a legible scale.
    expect(width).toBeLessThanOrEqual(1280);
    // The same spec, the same bytes.
    expect(renderTopologySvg(paperInput().spec, { coordinatorPort: 7443 })).toBe(svg);
  });

  it("3 jvbs: one media port each, all three in the brewery", () => {
    const { svg, boxes } = expectReadable(paperInput(threeJvbs));
    for (const p of ["10000", "10001", "10002"]) expect(svg).toContain(`▼ udp ${p} rdr`);
    expect(boxes.filter((b) => b.parent === "brewery").map((b) => b.id)).toEqual([
      "vm-jicofo",
      "vm-jvb",
      "vm-jvb2",
      "vm-jvb3",
    ]);
  });

  it("TURN, colibri websockets, debug BOSH, admin and monitor networks", () => {
    const { svg } = expectReadable(paperInput(everyFlow));
    expect(svg).toContain("▲ udp from 49152:65535");
    expect(svg).toContain("▼ tcp 8080 monitor");
    expect(svg).toContain("tcp 9090: colibri websockets");
  });

  it("the overlap check finds a box moved onto another", () => {
    const svg = renderTopologySvg(paperInput().spec, { coordinatorPort: 7443 });
    const moved = svg.replace(
      /(<rect [^>]*data-box="vm-web"[^>]*) x="(\d+)"/,
      (_m, a: string) => `${a} x="470"`,
    );
    const { boxes } = read(moved);
    const web = boxes.find((b) => b.id === "vm-web")!;
    const xmpp = boxes.find((b) => b.id === "vm-xmpp")!;
    expect(overlap(web, xmpp)).toBe(true);
  });
});
