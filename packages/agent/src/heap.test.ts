import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ManualClock } from "@vmmeet/node";
import { describe, expect, it } from "vitest";
import { exposedGc, HeapTrimmer } from "./heap.js";

const MB = 1024 * 1024;

/** A trimmer on a scripted heap: `used` and `busy` are what the next look sees. */
function setup(start = 20 * MB) {
  const clock = new ManualClock(0);
  const heap = { used: start, busy: 0, gcs: 0, liveAfterGc: start };
  const trims: [number, number][] = [];
  const trimmer = new HeapTrimmer({
    gc: () => {
      heap.gcs++;
      heap.used = heap.liveAfterGc;
    },
    oldSpaceUsed: () => heap.used,
    busy: () => heap.busy,
    clock,
    onTrim: (before, after) => trims.push([before, after]),
  });
  return { clock, heap, trims, trimmer };
}

describe("HeapTrimmer", () => {
  it("collects once when the loop is quiet and the old generation grew by 1 MB since the last collection", () => {
    const { heap, trims, trimmer } = setup();
    heap.used = 24 * MB;
    expect(trimmer.check()).toBe(true);
    expect(heap.gcs).toBe(1);
    expect(trims).toEqual([[24 * MB, 20 * MB]]);
    // The garbage is gone: the next looks find nothing to do.
    expect(trimmer.check()).toBe(false);
    expect(trimmer.check()).toBe(false);
    expect(heap.gcs).toBe(1);
  });

  it("leaves a busy agent to V8, however much garbage there is", () => {
    const { heap, trimmer } = setup();
    heap.used = 40 * MB;
    heap.busy = 0.3;
    expect(trimmer.check()).toBe(false);
    heap.busy = 0.05;
    expect(trimmer.check()).toBe(false);
    expect(heap.gcs).toBe(0);
    heap.busy = 0.01;
    expect(trimmer.check()).toBe(true);
  });

  it("does not collect for less than 1 MB of growth", () => {
    const { heap, trimmer } = setup();
    heap.used = 20 * MB + MB - 1;
    expect(trimmer.check()).toBe(false);
    heap.used = 21 * MB;
    expect(trimmer.check()).toBe(true);
  });

  it("measures growth from V8's own collections too: a lower old generation is the new floor", () => {
    const { heap, trimmer } = setup();
    heap.used = 16 * MB; // V8 collected during a burst
    heap.busy = 0.5;
    expect(trimmer.check()).toBe(false);
    heap.busy = 0;
    heap.used = 16.5 * MB;
    expect(trimmer.check()).toBe(false);
    heap.used = 17 * MB;
    heap.liveAfterGc = 15 * MB;
    expect(trimmer.check()).toBe(true);
    expect(heap.used).toBe(15 * MB);
  });

  it("keeps live growth: after a collection that freed little, the floor is what survived", () => {
    const { heap, trimmer } = setup();
    heap.used = 30 * MB;
    heap.liveAfterGc = 29.5 * MB; // a cache filled up
    expect(trimmer.check()).toBe(true);
    heap.used = 30 * MB;
    expect(trimmer.check()).toBe(false);
    expect(heap.gcs).toBe(1);
  });

  it("looks every checkMs once started, and not after stop()", () => {
    const { clock, heap, trimmer } = setup();
    trimmer.start();
    trimmer.start(); // idempotent: still one timer
    heap.used = 25 * MB;
    clock.advance(4_999);
    expect(heap.gcs).toBe(0);
    clock.advance(1);
    expect(heap.gcs).toBe(1);
    heap.used = 27 * MB;
    clock.advance(5_000);
    expect(heap.gcs).toBe(2);
    trimmer.stop();
    heap.used = 40 * MB;
    clock.advance(60_000);
    expect(heap.gcs).toBe(2);
  });
});

describe("HeapTrimmer on V8 (a node child with rc.d/vmmeet_agent's GC flags)", () => {
  const heapJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/heap.js");

  // Fills the old generation with objects that survive young collections, drops them, then looks once
  // with a quiet loop. Prints what the look did and the old generation's used size around it.
  const child = `
    const { HeapTrimmer, exposedGc, oldSpaceUsed } = await import(${JSON.stringify(heapJs)});
    const trimmer = new HeapTrimmer({ gc: exposedGc(), busy: () => 0 });
    let keep = [];
    for (let i = 0; i < 150000; i++) keep.push({ i, s: "line " + i });
    for (let j = 0; j < 40; j++) new Array(50000).fill(j);
    keep = null;
    const before = oldSpaceUsed();
    const collected = trimmer.check();
    process.stdout.write(JSON.stringify({ collected, before, after: oldSpaceUsed() }));
  `;

  it("gives the dropped objects back", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [
      "--expose-gc",
      "--compact-on-every-full-gc",
      "--input-type=module",
      "-e",
      child,
    ]);
    const r = JSON.parse(stdout) as { collected: boolean; before: number; after: number };
    expect(r.collected).toBe(true);
    expect(r.before - r.after).toBeGreaterThan(4 * MB);
  });

  it("has no gc() without --expose-gc", () => {
    // vitest's workers run without the flag.
    expect(exposedGc()).toBeUndefined();
  });
});
