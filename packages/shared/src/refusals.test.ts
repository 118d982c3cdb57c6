import { describe, expect, it } from "vitest";
import { RefusalLog } from "./refusals.js";

describe("RefusalLog", () => {
  it("logs the first of each kind, counts the rest of the window, and says so with the next one logged", () => {
    let t = 0;
    const r = new RefusalLog({ windowMs: 1000, now: () => t });
    expect(r.note("bad-frame")).toEqual({ repeated: 0 });
    expect(r.note("schema")).toEqual({ repeated: 0 });
    for (let i = 0; i < 500; i++) expect(r.note("bad-frame")).toBeNull();
    t = 999;
    expect(r.note("bad-frame")).toBeNull();
    t = 1000;
    expect(r.note("bad-frame")).toEqual({ repeated: 501 });
    expect(r.note("schema")).toEqual({ repeated: 0 });
    expect(r.note("bad-frame")).toBeNull();
    expect(r.total).toBe(506);
  });

  it("remembers a bounded number of kinds", () => {
    const r = new RefusalLog({ maxKinds: 2, now: () => 0 });
    r.note("a");
    r.note("b");
    r.note("c");
    // "a" was forgotten: logged again, as if new.
    expect(r.note("a")).toEqual({ repeated: 0 });
    expect(r.note("c")).toBeNull();
  });
});
