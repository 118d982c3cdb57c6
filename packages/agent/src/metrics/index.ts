// Host metrics for NodeStatus.metrics: load, memory, disk usage of /, /var and /home (those that are mount
// points) and the network error counters, sampled at a low rate (default once a minute: the coordinator
// shows trends, not spikes, and `df` on a loaded VM is not free). systeminformation does the reading; each
// part that fails falls back or is left out, so one broken reading never loses the others.
//
// Only the three systeminformation modules that hold mem(), fsSize() and networkStats() are imported, not
// the package's index: the index loads all of its 20 modules (cpu, graphics, docker, wifi, bluetooth
// vendor tables...), which cost the bundled agent about 1.2 MB of heap and 450 KiB of source it never
// runs (measured with bench/footprint.mjs's setup; the package has no "exports" map, so these paths are
// public). The types are in systeminformation.d.ts.
import os from "node:os";
import { type Clock, systemClock } from "@vmmeet/node";
import type { HostMetrics } from "@vmmeet/shared";
import filesystem from "systeminformation/lib/filesystem.js";
import memory from "systeminformation/lib/memory.js";
import network from "systeminformation/lib/network.js";

/** The HostMetrics object of the protocol (packages/shared/src/protocol/common.ts). */
export type HostMetricsReport = ReturnType<(typeof HostMetrics)["parse"]>;

export const DEFAULT_MOUNTS: readonly string[] = ["/", "/var", "/home"];
export const DEFAULT_INTERVAL_MS = 60_000;

/** The readings a sample is made of; systemSource() reads the machine, tests pass a fake. */
export interface MetricsSource {
  /** 1-minute load average. */
  load1(): number;
  /** Bytes; `active` is used memory without buffers and cache (what is really taken). */
  mem(): Promise<{ total: number; used: number; active?: number }>;
  fsSize(): Promise<readonly { mount: string; size: number; used: number }[]>;
  /** Cumulative error counters per interface since boot. */
  networkStats(): Promise<readonly { iface: string; rx_errors: number | null; tx_errors: number | null }[]>;
}

export function systemSource(): MetricsSource {
  return {
    // getloadavg(3) through Node: the same number on OpenBSD and Linux, with no subprocess
    // (systeminformation's currentLoad().avgLoad is this value divided by the CPU count).
    load1: () => os.loadavg()[0] ?? 0,
    mem: () => memory.mem(),
    fsSize: () => filesystem.fsSize(),
    networkStats: () => network.networkStats("*"),
  };
}

export interface SampleOptions {
  mounts?: readonly string[];
  now?: () => number;
  /** Told about a reading that failed (the sample goes on without it). */
  onError?: (part: "mem" | "fsSize" | "networkStats", err: unknown) => void;
}

const count = (n: number | null | undefined) =>
  typeof n === "number" && Number.isFinite(n) && n > 0 ? n : 0;

/** One sample. Memory falls back to os.totalmem()/freemem(); failed disk or network readings are empty/0. */
export async function sampleHostMetrics(
  source: MetricsSource,
  opts: SampleOptions = {},
): Promise<HostMetricsReport> {
  const mounts = opts.mounts ?? DEFAULT_MOUNTS;
  const settle = async <T>(
    part: "mem" | "fsSize" | "networkStats",
    p: () => Promise<T>,
  ): Promise<T | undefined> => {
    try {
      return await p();
    } catch (e) {
      opts.onError?.(part, e);
      return undefined;
    }
  };
  const [mem, fs, net] = await Promise.all([
    settle("mem", () => source.mem()),
    settle("fsSize", () => source.fsSize()),
    settle("networkStats", () => source.networkStats()),
  ]);
  const total = mem?.total ?? os.totalmem();
  const used = mem ? (mem.active ?? mem.used) : os.totalmem() - os.freemem();
  const disks: HostMetricsReport["disks"] = [];
  for (const m of mounts) {
    const d = (fs ?? []).find((x) => x.mount === m);
    if (d) disks.push({ mount: m, usedBytes: count(d.used), sizeBytes: count(d.size) });
  }
  let netErrors = 0;
  for (const i of net ?? []) netErrors += count(i.rx_errors) + count(i.tx_errors);
  const load = source.load1();
  return {
    at: new Date((opts.now ?? Date.now)()).toISOString(),
    load1: Number.isFinite(load) ? load : 0,
    memUsedBytes: count(used),
    memTotalBytes: count(total),
    disks,
    netErrors: Math.round(netErrors),
  };
}

export interface MetricsCollectorOptions {
  /** Default: sampleHostMetrics(systemSource()). */
  sampler?: () => Promise<HostMetricsReport>;
  intervalMs?: number;
  clock?: Clock;
  onSample?: (m: HostMetricsReport) => void;
  onError?: (err: unknown) => void;
}

/**
 * Samples now and then every intervalMs, one sample at a time (the next is scheduled when the previous
 * finished, so a slow `df` never piles up). One timer, created by start() and cleared by stop().
 */
export class MetricsCollector {
  private readonly sampler: () => Promise<HostMetricsReport>;
  private readonly intervalMs: number;
  private readonly clock: Clock;
  private readonly onSample: ((m: HostMetricsReport) => void) | undefined;
  private readonly onError: ((err: unknown) => void) | undefined;
  private timer: unknown;
  private running = false;
  /** Bumped by start(): a sample still in flight from before a stop() schedules nothing. */
  private generation = 0;
  private last: HostMetricsReport | null = null;

  constructor(opts: MetricsCollectorOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.sampler = opts.sampler ?? (() => sampleHostMetrics(systemSource(), { now: () => this.clock.now() }));
    this.intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.onSample = opts.onSample;
    this.onError = opts.onError;
  }

  /** The latest sample, null before the first. */
  latest(): HostMetricsReport | null {
    return this.last;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.tick(++this.generation);
  }

  /** Idempotent; a sample in flight completes but schedules nothing. */
  stop(): void {
    this.running = false;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async tick(gen: number): Promise<void> {
    this.timer = undefined;
    try {
      const m = await this.sampler();
      this.last = m;
      this.onSample?.(m);
    } catch (e) {
      this.onError?.(e);
    }
    if (this.running && gen === this.generation) {
      this.timer = this.clock.setTimeout(() => void this.tick(gen), this.intervalMs);
    }
  }
}
