// The one wait helper of the tests: what it returns, and what its failure says.
import { describe, expect, it } from "vitest";
import { waitFor } from "./wait.js";

describe("waitFor", () => {
  it("returns the condition's first value that is not undefined, null or false", async () => {
    let n = 0;
    const got = await waitFor(() => (++n >= 3 ? { n } : n === 1 ? null : false), { what: "three checks" });
    expect(got).toEqual({ n: 3 });
  });

  it("waits on an async condition, and one that throws until it holds", async () => {
    let n = 0;
    const got = await waitFor(
      async () => {
        if (++n < 3) throw new Error("not yet");
        return "ready";
      },
      { what: "ready", intervalMs: 0 },
    );
    expect(got).toBe("ready");
    expect(n).toBe(3);
  });

  it("on timeout says what was awaited and the last value seen", async () => {
    let n = 0;
    await expect(waitFor(() => (++n > 0 ? null : n), { what: "the answer", timeoutMs: 30 })).rejects.toThrow(
      /^timed out after 30 ms waiting for the answer; last seen: null$/,
    );
    expect(n).toBeGreaterThan(1);
  });

  it("on timeout names the last error the condition threw", async () => {
    let n = 0;
    await expect(
      waitFor(
        () => {
          throw new Error(`still ${++n} processes`);
        },
        { what: "the processes to die", timeoutMs: 30 },
      ),
    ).rejects.toThrow(/waiting for the processes to die; last seen: it threw still \d+ processes$/);
  });
});
