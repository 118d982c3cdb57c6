// The grid topology.svg is laid out on: the shapes the layout produces (boxes, text lines, wires), the
// fixed sizes, and the width of monospace text, which the layout and the overlap test rely on.
import type { Flow } from "../flows.js";

export interface Box {
  id: string;
  kind: "external" | "host" | "service" | "vm" | "brewery" | "label";
  x: number;
  y: number;
  w: number;
  h: number;
  /** The box this one lies inside (boxes may only overlap their ancestors). */
  parent?: string;
  /** The node a vm box stands for (status page: `[data-node]`). */
  node?: string;
}

export interface TextLine {
  x: number;
  /** Baseline. */
  y: number;
  text: string;
  size: number;
  bold?: boolean;
  /** The box it belongs to; it must lie inside it. */
  box: string;
  className?: string;
  anchor?: "start" | "middle";
}

export interface Wire {
  /** Flow ids this line draws. */
  flows: string[];
  kind: Flow["kind"];
  points: [number, number][];
  arrow: boolean;
}

export interface TopologyLayout {
  width: number;
  height: number;
  boxes: Box[];
  texts: TextLine[];
  wires: Wire[];
  flows: Flow[];
}

/** Width of monospace text: 0.6 em per character (DejaVu Sans Mono, Liberation Mono, Menlo). */
export const textWidth = (text: string, size: number) => [...text].length * size * 0.6;

export const M = 20; // outer margin
export const VM_W = 172;
export const VM_GAP = 26;
export const VM_H = 104;
export const COL_W = 230; // host's left column
export const SVC_W = 206;
export const SVC_H = 46;
export const TOP_H = 58;
export const RAIL_STEP = 12;
export const LABEL_LINE = 14;
export const LANE_STEP = 30;
export const FONT = 12;
export const SMALL = 10.5;

/** Shortens `text` with an ellipsis so that it fits `width` at `size`. */
export function fit(text: string, width: number, size: number): string {
  const max = Math.floor(width / (size * 0.6));
  return [...text].length <= max ? text : `${[...text].slice(0, max - 1).join("")}…`;
}

/** What a part of the layout adds to the picture. */
export interface Drawing {
  boxes: Box[];
  texts: TextLine[];
  wires: Wire[];
}
