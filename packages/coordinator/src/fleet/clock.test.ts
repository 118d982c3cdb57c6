import type { AgentToCoordinator, ComponentHealth } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import {
  clockSample,
  nodeClock,
  onCoordinatorClock,
  SKEW_SAMPLES,
  SKEW_WARN_MS,
  SkewEstimator,
} from "./clock.js";

const T = Date.parse("2026-12-06T12:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

describe("clock skew", () => {
  it("takes the skew from the middle of the round trip, bounded by half of it", () => {
    // The agent, 600 s ahead, answered 40 ms after the ping left; the answer came back 100 ms after.
    expect(clockSample(T, T + 600_000 + 40, T + 100)).toEqual({
      skewMs: 599_990,
      uncertaintyMs: 50,
      at: T + 100,
    });
    expect(clockSample(T, T - 600_000, T)).toEqual({ skewMs: -600_000, uncertaintyMs: 0, at: T });
    // An echo of a ping not sent yet is no exchange.
    expect(clockSample(T + 1, T, T)).toBeNull();
  });

  it("keeps the sample with the shortest round trip of the last ones: a stalled exchange does not move it", () => {
    const e = new SkewEstimator();
    e.add({ skewMs: 600_000, uncertaintyMs: 2, at: T });
    // A 3 s stall on the way back: the middle of that round trip is 1.5 s off.
    expect(e.add({ skewMs: 598_500, uncertaintyMs: 1500, at: T + 15_000 })).toMatchObject({
      skewMs: 600_000,
    });
    // After SKEW_SAMPLES newer ones, the old best is forgotten (the VM's clock may have been set since).
    for (let i = 0; i < SKEW_SAMPLES; i++) e.add({ skewMs: 0, uncertaintyMs: 5, at: T + i });
    expect(e.estimate).toMatchObject({ skewMs: 0 });
  });

  it("follows a VM clock set while connected from the next exchange on, not after SKEW_SAMPLES of them", () => {
    const e = new SkewEstimator();
    e.add({ skewMs: 600_000, uncertaintyMs: 1, at: T });
    // ntpd steps the VM's clock to the host's: the next pong's bounds (a slower exchange) exclude 600 s.
    expect(e.add({ skewMs: 3, uncertaintyMs: 40, at: T + 15_000 })).toEqual({
      skewMs: 3,
      uncertaintyMs: 40,
      at: T + 15_000,
    });
    // Bounds that meet the estimate's are the same clock: the better sample stays.
    expect(e.add({ skewMs: 60, uncertaintyMs: 200, at: T + 30_000 })).toMatchObject({ skewMs: 3 });
    // Whole-ms rounding of two tight samples is no step.
    expect(e.add({ skewMs: 4, uncertaintyMs: 0, at: T + 45_000 })).toMatchObject({ skewMs: 4 });
    expect(e.add({ skewMs: 3, uncertaintyMs: 0, at: T + 60_000 })).toMatchObject({ skewMs: 4 });
  });

  it("warns past SKEW_WARN_MS beyond the measuring bound, not within it", () => {
    expect(nodeClock({ skewMs: 600_000, uncertaintyMs: 1, at: T }).warning).toMatch(
      /its clock is 600 s ahead of the coordinator's/,
    );
    expect(nodeClock({ skewMs: -600_000, uncertaintyMs: 1, at: T }).warning).toMatch(/600 s behind/);
    expect(nodeClock({ skewMs: SKEW_WARN_MS + 500, uncertaintyMs: 1000, at: T }).warning).toBeUndefined();
    expect(nodeClock({ skewMs: 20, uncertaintyMs: 1, at: T })).toEqual({
      skewMs: 20,
      uncertaintyMs: 1,
      measuredAt: iso(T),
    });
  });

  it("moves every time an agent stamped onto the coordinator's clock, and nothing else", () => {
    const skew = 600_000;
    const jicofo: ComponentHealth = {
      component: "jicofo",
      state: "healthy",
      explain: "ok",
      since: iso(T + skew),
      signals: [
        {
          component: "jicofo",
          signal: "brewery-instance-added",
          label: "healthy",
          explain: "x",
          at: iso(T + skew + 5),
        },
      ],
      bridges: ["jvb"],
      bridgesSince: { jvb: iso(T + skew + 5) },
    };
    const snapshot: AgentToCoordinator = {
      type: "snapshot",
      status: {
        generation: 3,
        applying: null,
        files: [],
        services: [],
        health: [jicofo],
        metrics: {
          at: iso(T + skew),
          load1: 0,
          memUsedBytes: 1,
          memTotalBytes: 2,
          disks: [],
          netErrors: 0,
        },
      },
    };
    const moved = onCoordinatorClock(snapshot, skew);
    expect(moved).toEqual({
      type: "snapshot",
      status: {
        ...snapshot.status,
        health: [
          {
            ...jicofo,
            since: iso(T),
            signals: [{ ...jicofo.signals[0], at: iso(T + 5) }],
            bridgesSince: { jvb: iso(T + 5) },
          },
        ],
        metrics: { ...snapshot.status.metrics, at: iso(T) },
      },
    });
    // The agent's frame itself is left as it came.
    expect(snapshot.status.health[0]?.since).toBe(iso(T + skew));
    const status: AgentToCoordinator = { type: "status", status: { health: [jicofo] } };
    expect(onCoordinatorClock(status, -skew)).toMatchObject({
      status: { health: [{ since: iso(T + 2 * skew), bridgesSince: { jvb: iso(T + 2 * skew + 5) } }] },
    });
    const event: AgentToCoordinator = {
      type: "event",
      event: { at: iso(T + skew), kind: "repair-file", label: "healthy", message: "m" },
    };
    expect(onCoordinatorClock(event, skew)).toMatchObject({ event: { at: iso(T) } });
    const signal: AgentToCoordinator = { type: "signal", signal: { ...jicofo.signals[0]! } };
    expect(onCoordinatorClock(signal, skew)).toMatchObject({ signal: { at: iso(T + 5) } });
    // A skew no clock can have (a hostile pong) moves nothing out of what a Date holds.
    expect(onCoordinatorClock(event, -8_640_000_000_000_000)).toMatchObject({ event: { at: iso(T + skew) } });
    // No skew measured (an older agent): the frame as it is.
    expect(onCoordinatorClock(snapshot, undefined)).toBe(snapshot);
  });
});
