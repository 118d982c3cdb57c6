// The agent's healer: keeps the node as the last applied desired state says, with or without a coordinator,
// and reports every repair as an event. It composes four units, each with its own timers from start() to
// stop(), all on the injected clock (the agent's --clock-offset included):
//
// - drift repair (driftRepair.ts): a watch and the periodic compare restore drifted managed files;
// - the restarter (restarter.ts): a managed service rcctl check does not find is started again, with a
//   per-service backoff and a give-up;
// - remedies (remedyRunner.ts): a classified log signal with a plan in remedies.ts is repaired;
// - certificate renewal (certificate.ts): the ACME certificate is checked and renewed.
//
// The periodic pass (pass.ts) runs drift repair's compare and the restarter's check. All repairs run one at
// a time through one queue (context.ts), so the healer never races itself, and it stands aside while the
// daemon applies a desired state (`busy`).

import { type Clock, liveClock } from "@vmmeet/node";
import type { AgentEvent, HealthSignal, NodeDesired } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { HealerHealth } from "../health/source.js";
import type { AccountResolver } from "../reconcile/accounts.js";
import type { ApplyEngine } from "../reconcile/engine.js";
import type { ServiceLife } from "../services/life.js";
import type { ServiceManager } from "../services/manager.js";
import type { ServiceHealthHint } from "../status.js";
import { CertificateRenewal } from "./certificate.js";
import { HealContext } from "./context.js";
import { DriftRepair } from "./driftRepair.js";
import { enforceAndReport } from "./enforce.js";
import { PeriodicPass } from "./pass.js";
import { RemedyRunner } from "./remedyRunner.js";
import { Restarter } from "./restarter.js";
import { type HealerTuning, type HealerTuningInput, healerTuning } from "./tuning.js";

export type { HealerTuning, HealerTuningInput } from "./tuning.js";

/** stop() waits this long at most for the repair in progress (rc.d's daemon_timeout is real time). */
const STOP_WAIT_MS = 5000;

export interface HealerOptions {
  engine: Pick<ApplyEngine, "enforce">;
  /** The owner of the services' life (its starts are told to the health monitor), or rcctl. */
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
  /** Every repair, give-up and recovery, as the protocol's AgentEvent (never a secret). */
  onEvent?: (event: AgentEvent) => void;
  /** A service's state (ok/starting/backoff/failed) changed. */
  onChange?: () => void;
}

export class Healer {
  readonly tuning: HealerTuning;
  readonly #ctx: HealContext;
  readonly #drift: DriftRepair;
  readonly #restarter: Restarter;
  readonly #remedies: RemedyRunner;
  readonly #certificate: CertificateRenewal;
  readonly #pass: PeriodicPass;
  #started = false;
  #stopped = false;

  constructor(o: HealerOptions) {
    this.tuning = healerTuning(o.tuning);
    const ctx = new HealContext({
      clock: o.clock ?? liveClock,
      random: o.random ?? Math.random,
      log: o.log,
      tuning: this.tuning,
      ...(o.busy ? { busy: o.busy } : {}),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    });
    this.#ctx = ctx;
    const enforce = () => enforceAndReport(ctx, o.engine);
    this.#drift = new DriftRepair({ ctx, engine: o.engine, root: o.root, accounts: o.accounts });
    this.#restarter = new Restarter({
      ctx,
      services: o.services,
      ...(o.onChange ? { onChange: o.onChange } : {}),
    });
    this.#remedies = new RemedyRunner({
      ctx,
      ...(o.health ? { health: o.health } : {}),
      enforce,
      restart: (service) => this.#restarter.startAndCheck(service, "restart"),
    });
    this.#certificate = new CertificateRenewal({ ctx, enforce });
    this.#pass = new PeriodicPass({
      ctx,
      run: async () => {
        await this.#drift.periodic();
        await this.#restarter.check();
      },
      dueIn: () => this.#restarter.nextAttemptIn(),
    });
  }

  /** Completed periodic passes (tests wait on it instead of sleeping). */
  get passes(): number {
    return this.#pass.passes;
  }

  /** Completed certificate checks. */
  get certificateChecks(): number {
    return this.#certificate.checks;
  }

  /**
   * The desired state in force, after the daemon's start and after every apply. A new desired state may
   * fix what failed, so every service's attempt count and give-up are reset; the services the apply
   * (re)started get their grace period (failures logged while a JVM comes up are expected).
   */
  configure(desired: NodeDesired | null, restarted: readonly string[] = []): void {
    const ctx = this.#ctx;
    ctx.desired = desired;
    this.#restarter.configure();
    const now = ctx.clock.now();
    const names = new Set((desired?.services ?? []).map((s) => s.name));
    for (const name of restarted) if (names.has(name)) ctx.startedAt.set(name, now);
    this.#drift.configure();
    this.#certificate.configure();
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#drift.start();
    this.#remedies.start();
    this.#pass.start();
    this.#certificate.start();
  }

  /** Idempotent. Waits (briefly) for the repair in progress; a remedy's wait for a cure is abandoned. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pass.stop();
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

  /** One full pass now (drift compare, then services), queued behind the repair in progress. */
  pass(): Promise<void> {
    return this.#pass.now();
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
