import { ManualClock } from "@vmmeet/node";
import { HostMetrics } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { waitFor } from "../../../../test/helpers/wait.js";
import {
  type HostMetricsReport,
  MetricsCollector,
  type MetricsSource,
  sampleHostMetrics,
  systemSource,
} from "./index.js";

const GiB = 1024 ** 3;

function fakeSource(over: Partial<MetricsSource> = {}): MetricsSource {
  return {
    load1: () => 0.42,
    mem: async () => ({ total: 4 * GiB, used: 3 * GiB, active: 1 * GiB }),
    fsSize: async () => [
      { mount: "/", size: 10 * GiB, used: 2 * GiB },
      { mount: "/var", size: 20 * GiB, used: 5 * GiB },
      { mount: "/tmp", size: 1 * GiB, used: 0 },
    ],
    networkStats: async () => [
      { iface: "lo0", rx_errors: 0, tx_errors: 0 },
      { iface: "vio0", rx_errors: 3, tx_errors: 4 },
      { iface: "vio1", rx_errors: null, tx_errors: 1 },
    ],
    ...over,
  };
}

describe("sampleHostMetrics", () => {
  it("reports load, memory without cache, the watched mounts that exist and the summed network errors", async () => {
    const m = await sampleHostMetrics(fakeSource(), { now: () => Date.parse("2024-05-01T12:00:00Z") });
    expect(m).toEqual({
      at: "2024-05-01T12:00:00.000Z",
      load1: 0.42,
      memUsedBytes: 1 * GiB,
      memTotalBytes: 4 * GiB,
      disks: [
        { mount: "/", usedBytes: 2 * GiB, sizeBytes: 10 * GiB },
        { mount: "/var", usedBytes: 5 * GiB, sizeBytes: 20 * GiB },
      ],
      netErrors: 8,
    });
    expect(HostMetrics.parse(m)).toEqual(m);
  });

  it("keeps the other readings when one fails, and says which failed", async () => {
    const failed: string[] = [];
    const m = await sampleHostMetrics(
      fakeSource({
        mem: async () => {
          throw new Error("sysctl failed");
        },
        networkStats: async () => {
          throw new Error("netstat failed");
        },
      }),
      { onError: (part) => failed.push(part) },
    );
    expect(failed.sort()).toEqual(["mem", "networkStats"]);
    expect(m.memTotalBytes).toBeGreaterThan(0); // os.totalmem() fallback
    expect(m.netErrors).toBe(0);
    expect(m.disks.map((d) => d.mount)).toEqual(["/", "/var"]);
    expect(HostMetrics.parse(m)).toEqual(m);
  });

  it("takes one real sample of this machine", async () => {
    const m = await sampleHostMetrics(systemSource());
    expect(HostMetrics.parse(m)).toEqual(m);
    expect(m.memTotalBytes).toBeGreaterThan(0);
    expect(m.memUsedBytes).toBeLessThanOrEqual(m.memTotalBytes);
    expect(m.disks.map((d) => d.mount)).toContain("/");
  }, 30_000);
});

describe("MetricsCollector", () => {
  it("samples at start and then every interval with one timer, which stop() clears", async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const sampler = async (): Promise<HostMetricsReport> => {
      n++;
      return sampleHostMetrics(fakeSource({ load1: () => n }), { now: () => clock.now() });
    };
    const seen: number[] = [];
    const c = new MetricsCollector({
      sampler,
      intervalMs: 60_000,
      clock,
      onSample: (m) => seen.push(m.load1),
    });
    expect(c.latest()).toBeNull();
    c.start();
    c.start(); // a second start does not add a timer
    await waitFor(() => seen.length >= 1, { what: "the first sample", intervalMs: 0 });
    expect(seen).toEqual([1]);
    expect(clock.pending).toBe(1);
    clock.advance(59_999);
    expect(n).toBe(1);
    clock.advance(1);
    await waitFor(() => seen.length >= 2, { what: "the second sample", intervalMs: 0 });
    expect(seen).toEqual([1, 2]);
    expect(c.latest()?.load1).toBe(2);
    expect(clock.pending).toBe(1);
    c.stop();
    c.stop();
    expect(clock.pending).toBe(0);
    clock.advance(600_000);
    expect(n).toBe(2);
  });

  it("goes on after a failed sample, and a sample in flight at stop() schedules nothing", async () => {
    const clock = new ManualClock(0);
    const errors: unknown[] = [];
    let release: () => void = () => {};
    let calls = 0;
    const sampler = async (): Promise<HostMetricsReport> => {
      calls++;
      if (calls === 1) throw new Error("boom");
      await new Promise<void>((r) => {
        release = r;
      });
      return sampleHostMetrics(fakeSource());
    };
    const c = new MetricsCollector({ sampler, intervalMs: 1000, clock, onError: (e) => errors.push(e) });
    c.start();
    await waitFor(() => errors.length >= 1, { what: "the failed sample's error", intervalMs: 0 });
    expect(errors).toHaveLength(1);
    await waitFor(() => clock.pending === 1, { what: "the next sample's timer", intervalMs: 0 });
    clock.advance(1000);
    expect(calls).toBe(2);
    c.stop();
    release();
    await waitFor(() => c.latest(), { what: "the sample in flight to land", intervalMs: 0 });
    expect(clock.pending).toBe(0);
  });
});
