// What the healer's units (driftRepair.ts, restarter.ts, remedyRunner.ts, certificate.ts) share: the clock,
// the one queue every repair runs through (so the healer never races itself), the desired state in force,
// the service owner (whose start times and grace periods say when failures are expected), the hourly
// budgets and the event sink.

import type { Clock } from "@vmmeet/node";
import type { AgentEvent, HealthLabel, NodeDesired } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { ServiceLife } from "../services/life.js";
import { Serial } from "../services/serial.js";
import type { HealerTuning } from "./tuning.js";

const HOUR_MS = 3_600_000;

export interface HealContextOptions {
  /** Every timer and every time read (events' `at`, budgets, backoff): the agent's clock, --clock-offset included. */
  clock: Clock;
  random: () => number;
  log: Logger;
  tuning: HealerTuning;
  /**
   * The owner of the services' life: every (re)start, the healer's and an apply's, and its grace period.
   * Its clock must be `clock` (the daemon gives both the VM's).
   */
  life: ServiceLife;
  /** True while the daemon applies a desired state: the units do nothing then. */
  busy?: () => boolean;
  /** Every repair, give-up and recovery, as the protocol's AgentEvent (never a secret). */
  onEvent?: (event: AgentEvent) => void;
}

export class HealContext {
  readonly clock: Clock;
  readonly random: () => number;
  readonly log: Logger;
  readonly tuning: HealerTuning;
  readonly life: ServiceLife;
  /** Every repair runs through this queue, one at a time. */
  readonly work = new Serial();
  #desired: NodeDesired | null = null;
  readonly #limitedAt = new Map<string, number>();

  constructor(private readonly options: HealContextOptions) {
    this.clock = options.clock;
    this.random = options.random;
    this.log = options.log;
    this.tuning = options.tuning;
    this.life = options.life;
  }

  /** The desired state in force (the daemon's start, every apply). */
  get desired(): NodeDesired | null {
    return this.#desired;
  }

  /** Its services' grace periods are the owner's. */
  set desired(desired: NodeDesired | null) {
    this.#desired = desired;
    this.life.configure(desired?.services ?? []);
  }

  busy(): boolean {
    return this.options.busy?.() ?? false;
  }

  /** How long after a (re)start the service's failures are expected (a JVM coming up). */
  grace(service: string): number {
    return this.tuning.graceMs ?? this.life.graceMs(service);
  }

  /** Whether the service (re)started, by the healer or an apply, less than its grace period ago. */
  inGrace(service: string): boolean {
    return this.life.inGrace(service, this.grace(service));
  }

  /** Sliding one-hour budget: true (and counted) while fewer than `perHour` runs happened in the last hour. */
  allow(runs: number[], perHour: number): boolean {
    const now = this.clock.now();
    while (runs.length > 0 && now - runs[0]! >= HOUR_MS) runs.shift();
    if (runs.length >= perHour) return false;
    runs.push(now);
    return true;
  }

  /** One "heal-limited" event per key and hour: a spent budget is reported, not repeated. */
  limited(key: string, message: string): void {
    const now = this.clock.now();
    const last = this.#limitedAt.get(key);
    if (last !== undefined && now - last < HOUR_MS) return;
    this.#limitedAt.set(key, now);
    this.event("heal-limited", "failed", message, key);
  }

  event(kind: string, label: HealthLabel, message: string, target?: string): void {
    const event: AgentEvent = {
      at: new Date(this.clock.now()).toISOString(),
      kind,
      label,
      message: message.slice(0, 2000),
      ...(target ? { target: target.slice(0, 1024) } : {}),
    };
    const log = label === "failed" ? this.log.warn.bind(this.log) : this.log.info.bind(this.log);
    log({ kind, target, label }, message.slice(0, 500));
    this.options.onEvent?.(event);
  }
}
