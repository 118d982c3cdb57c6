// The agent's healer: keeps the node as the last applied desired state says, with or without a coordinator,
// and reports every repair as an event. It composes four units, each with its own start() and stop() and
// its own timer (timer.ts), all on the injected clock (the agent's --clock-offset included):
//
// - drift repair (driftRepair.ts): a watch and a periodic compare restore drifted managed files;
// - the restarter (restarter.ts): a managed service rcctl check does not find (its periodic check, or the
//   service owner's "stopped") is started again, with a per-service backoff and a give-up;
// - remedies (remedyRunner.ts): a classified log signal with a plan in remedies.ts is repaired;
// - certificate renewal (certificate.ts): the ACME certificate is checked and renewed.
//
// What the healer knows of a service's life (is it running, when was it (re)started, its grace period) is
// the service owner's (services/life.ts), who hears of every start, the healer's and an apply's. All
// repairs run one at a time through one queue (context.ts), so the healer never races itself, and it
// stands aside while the daemon applies a desired state (`busy`).

import { EventEmitter } from "node:events";
import { type Clock, liveClock } from "@vmmeet/node";
import type { AgentEvent, HealthSignal, NodeDesired } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { HealerHealth } from "../health/source.js";
import type { AccountResolver } from "../reconcile/accounts.js";
import type { ApplyEngine } from "../reconcile/engine.js";
import { ServiceLife } from "../services/life.js";
import type { ServiceManager } from "../services/manager.js";
import type { ServiceHealthHint } from "../status.js";
import { CertificateRenewal } from "./certificate.js";
import { HealContext } from "./context.js";
import { DriftRepair } from "./driftRepair.js";
import { enforceAndReport } from "./enforce.js";
import { RemedyRunner } from "./remedyRunner.js";
import { Restarter } from "./restarter.js";
import { type HealerTuning, type HealerTuningInput, healerTuning } from "./tuning.js";

export type { HealerTuning, HealerTuningInput } from "./tuning.js";

/** stop() waits this long at most for the repair in progress (rc.d's daemon_timeout is real time). */
const STOP_WAIT_MS = 5000;

export interface HealerOptions {
  engine: Pick<ApplyEngine, "enforce">;
  /**
   * The owner of the services' life (its starts are told to the health monitor), or rcctl. Its clock must
   * be `clock`'s (the daemon gives both the VM's).
   */
  services: ServiceManager | ServiceLife;
  /** Prefix of every managed path ("/" on the VM). */
  root: string;
  accounts: AccountResolver;
  log: Logger;
  tuning?: HealerTuningInput;
  /**
   * Every timer and time read. Default: the system clock with timers that keep the process alive
   * (without a coordinator the healer is what the agent is for).
   */
  clock?: Clock;
  random?: () => number;
  /** True while the daemon applies a desired state: the healer does nothing then. */
  busy?: () => boolean;
  /**
   * The node's health: the source of the log signals remedies act on (the service owner tells it of the
   * healer's starts).
   */
  health?: HealerHealth;
}

/** What the healer tells whoever composes it (the daemon). */
export interface HealerEvents {
  /** Every repair, give-up and recovery, as the protocol's AgentEvent (never a secret). */
  event: [event: AgentEvent];
  /** A service's state (ok/starting/backoff/failed) changed. */
  change: [];
}

export class Healer extends EventEmitter<HealerEvents> {
  readonly tuning: HealerTuning;
  readonly #ctx: HealContext;
  readonly #drift: DriftRepair;
  readonly #restarter: Restarter;
  readonly #remedies: RemedyRunner;
  readonly #certificate: CertificateRenewal;
  #started = false;
  #stopped = false;

  constructor(options: HealerOptions) {
    super();
    this.tuning = healerTuning(options.tuning);
    const clock = options.clock ?? liveClock;
    const ctx = new HealContext({
      clock,
      random: options.random ?? Math.random,
      log: options.log,
      tuning: this.tuning,
      life: ServiceLife.of(options.services, { now: () => clock.now() }),
      ...(options.busy ? { busy: options.busy } : {}),
      onEvent: (event) => this.emit("event", event),
    });
    this.#ctx = ctx;
    const enforce = () => enforceAndReport(ctx, options.engine);
    this.#drift = new DriftRepair({
      ctx,
      engine: options.engine,
      root: options.root,
      accounts: options.accounts,
    });
    this.#restarter = new Restarter({ ctx, onChange: () => this.emit("change") });
    this.#remedies = new RemedyRunner({
      ctx,
      ...(options.health ? { health: options.health } : {}),
      enforce,
      restart: (service) => this.#restarter.startAndCheck(service, "restart"),
    });
    this.#certificate = new CertificateRenewal({ ctx, enforce });
  }

  /** Completed periodic checks of the services (tests wait on it instead of sleeping). */
  get passes(): number {
    return this.#restarter.passes;
  }

  /** Completed certificate checks. */
  get certificateChecks(): number {
    return this.#certificate.checks;
  }

  /**
   * The desired state in force, after the daemon's start and after every apply. A new desired state may
   * fix what failed, so every service's attempt count and give-up are reset. (The services the apply
   * (re)started are in their grace period already: the service owner saw them start.)
   */
  configure(desired: NodeDesired | null): void {
    this.#ctx.desired = desired;
    this.#restarter.configure();
    this.#drift.configure();
    this.#certificate.configure();
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#drift.start();
    this.#restarter.start();
    this.#remedies.start();
    this.#certificate.start();
  }

  /** Idempotent. Waits (briefly) for the repair in progress; a remedy's wait for a cure is abandoned. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#drift.stop();
    this.#certificate.stop();
    this.#restarter.stop();
    this.#remedies.stop();
    // A real-time bound, not the injected clock: it caps how long the agent's shutdown waits.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([this.#remedies.settled(), this.#ctx.work.run(async () => {})]),
      new Promise((r) => {
        bound = setTimeout(r, STOP_WAIT_MS);
      }),
    ]);
    clearTimeout(bound);
  }

  /** One full pass now (drift compare, then services), each queued behind the repair in progress. */
  async pass(): Promise<void> {
    await this.#drift.pass();
    await this.#restarter.pass();
  }

  /** The service's state as the healer sees it, for the status report; undefined before its first check. */
  serviceHint(name: string): ServiceHealthHint | undefined {
    return this.#restarter.serviceHint(name);
  }

  /** A classified log signal of this node (remedyRunner.ts). */
  onSignal(signal: HealthSignal): void {
    this.#remedies.onSignal(signal);
  }

  /**
   * Restarts a managed service now (the coordinator's repair frame), reported as an event. Returns whether
   * rcctl check finds it running afterwards.
   */
  restartService(name: string, reason: string): Promise<boolean> {
    return this.#restarter.restartService(name, reason);
  }
}
