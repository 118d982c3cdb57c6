// The agent daemon: started in order (apply engine, health, metrics, healer, pf, transport), stopped in
// reverse. It enforces the last applied desired state from its state directory at start, with or without a
// coordinator, applies what the coordinator sends, and reports a full snapshot after every (re)connect and
// changes after that.
//
// Read top-down: the constructor builds the parts; "what the parts tell the daemon" is the one place where
// their events are connected (pf, health and the link emit typed events; the daemon subscribes); start()
// and stop() bring them up in order and down in reverse; the rest is what the daemon does on each event.

import { type BackoffOptions, type Clock, liveClock } from "@vmmeet/node";
import type {
  AgentEvent,
  AgentToCoordinator,
  ComponentHealth,
  CoordinatorToAgent,
  HostMetrics,
  NodeDesired,
  NodeRole,
  NodeStatus,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import type { CommandRunner } from "./actions/runner.js";
import { Healer, type HealerTuningInput } from "./heal/healer.js";
import { EventOutbox } from "./heal/outbox.js";
import type { HealthSource } from "./health/source.js";
import { HostManager } from "./host/vmm.js";
import { PfManager } from "./pf/manager.js";
import type { AccountResolver } from "./reconcile/accounts.js";
import type { ApplyResult } from "./reconcile/apply.js";
import { ApplyEngine } from "./reconcile/engine.js";
import { applyError, itemResults } from "./replies.js";
import { ServiceLife } from "./services/life.js";
import type { ServiceManager } from "./services/manager.js";
import { fileStates, serviceStates } from "./status.js";
import { Throttle } from "./throttle.js";
import { AgentTransport, type TransportState } from "./transport/client.js";
import type { TransportTls } from "./transport/tls.js";

/** At most one health status frame, and one snapshot for the healer's changes, per this many ms. */
const STATUS_INTERVAL_MS = 250;

export const AGENT_VERSION = "0.1.0";

export type { HealthSource } from "./health/source.js";
export { itemResults } from "./replies.js";

export interface MetricsSource {
  start(): void;
  stop(): Promise<void> | void;
  latest(): HostMetrics | null;
}

export interface AgentDaemonOptions {
  node: string;
  coordinator: string | null;
  stateDir: string;
  root: string;
  /**
   * rcctl, or the owner of the services' life (services/life.ts) shared with the health monitor, which
   * follows its starts and checks; one is made over a plain ServiceManager.
   */
  services: ServiceManager | ServiceLife;
  accounts: AccountResolver;
  logger: Logger;
  runner?: CommandRunner;
  prosodyctl?: string;
  /** The web node's certificate (tls.mode acme): openssl(1) and acme-client(1), OpenBSD base by default. */
  openssl?: string;
  acmeClient?: string;
  health?: HealthSource;
  metrics?: MetricsSource;
  tls?: TransportTls;
  backoff?: BackoffOptions;
  headers?: () => Record<string, string>;
  /**
   * The role this node is pinned to (enroll/startup.ts: --role, the enrollment, or the first applied
   * state): a desired state for another role is refused, whoever sends it (shared/allowlist.ts).
   */
  role?: NodeRole;
  /** Self-healing tuning (heal/healer.ts); false turns the healer off. */
  heal?: HealerTuningInput | false;
  /** pfctl(8) (default /sbin/pfctl): pf.conf is checked, loaded and commit-confirmed (pf/manager.ts). */
  pfctl?: string;
  /** The VMM host's programs (defaults /usr/sbin/vmctl, /usr/sbin/vmd, /sbin/sysctl); used on the host only. */
  vmctl?: string;
  vmd?: string;
  sysctl?: string;
  /** Times the status and snapshot throttles (tests drive it by hand). */
  clock?: Clock;
  /**
   * The VM's wall clock (default Date.now; main.ts's --clock-offset): reported to the coordinator (see
   * transport's `now`), and read by the healer and pf's confirm window for their times and events.
   */
  now?: () => number;
}

export class AgentDaemon {
  readonly engine: ApplyEngine;
  readonly #life: ServiceLife;
  #transport: AgentTransport | null = null;
  #generation = 0;
  #desired: NodeDesired | null = null;
  #applying: number | null = null;
  /** Health changes come in bursts (a restart prints many lines): see Throttle. */
  readonly #statusThrottle: Throttle;
  /** gateKey() of the health last sent. */
  #sentGateKey = "";
  #started = false;
  #stopping: Promise<void> | null = null;
  #healer: Healer | null = null;
  /** Repairs and other events not yet sent: kept while the coordinator is away. */
  readonly #outbox = new EventOutbox();
  /** A service changed state (healer): a full snapshot, throttled like the status. */
  readonly #snapshotThrottle: Throttle;
  readonly #pf: PfManager;
  readonly #host: HostManager;
  /** The VM's clock for the healer and pf: live timers, times read from `now`. */
  readonly #vmClock: Clock;
  /** When the coordinator link last changed state, for the pf revert event. */
  #link: { state: TransportState; since: string };

  constructor(private readonly options: AgentDaemonOptions) {
    this.#vmClock = options.now ? { ...liveClock, now: options.now } : liveClock;
    this.#link = { state: "idle", since: new Date(this.#vmClock.now()).toISOString() };
    // Its start times are the healer's too: on the VM's clock.
    this.#life = ServiceLife.of(options.services, { now: () => this.#vmClock.now() });
    this.#statusThrottle = new Throttle(() => this.#sendStatus(), STATUS_INTERVAL_MS, options.clock);
    this.#snapshotThrottle = new Throttle(() => void this.#sendSnapshot(), STATUS_INTERVAL_MS, options.clock);
    // The programs' paths and the runner go as given: each part takes its default for one not given.
    const { runner, stateDir, root, logger } = options;
    this.#pf = new PfManager({
      root,
      stateDir,
      log: logger.child({ part: "pf" }),
      confirmable: options.coordinator !== null,
      clock: this.#vmClock,
      pfctl: options.pfctl,
      runner,
    });
    this.#host = new HostManager({
      stateDir,
      log: logger.child({ part: "host" }),
      vmctl: options.vmctl,
      vmd: options.vmd,
      sysctl: options.sysctl,
      runner,
    });
    this.engine = new ApplyEngine({
      pf: this.#pf,
      host: this.#host,
      stateDir,
      services: this.#life,
      root,
      accounts: options.accounts,
      log: logger.child({ part: "apply" }),
      runner,
      prosodyctl: options.prosodyctl,
      openssl: options.openssl,
      acmeClient: options.acmeClient,
      role: options.role,
    });
    this.#listenToPf(this.#pf);
  }

  get generation(): number {
    return this.#generation;
  }

  get healer(): Healer | null {
    return this.#healer;
  }

  get transport(): AgentTransport | null {
    return this.#transport;
  }

  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const log = this.options.logger;
    // Enforce what we had before anything else: after a reboot, or with the coordinator gone, the node
    // keeps its last applied state (and an apply a crash interrupted is finished).
    const started = await this.engine.start();
    const persisted = await this.engine.state.load().catch(() => null);
    this.#generation = persisted?.generation ?? 0;
    this.#desired = (persisted?.desired as NodeDesired | undefined) ?? null;
    if (started.kind === "enforced") {
      log.info(
        { generation: this.#generation, outcome: started.result.outcome, changed: started.result.changed },
        "enforced the persisted desired state",
      );
    } else if (started.kind === "pending-finished") {
      log.info({ services: started.services.map((s) => s.name) }, "finished an interrupted apply");
    }
    if (this.options.health) await this.#startHealth(this.options.health);
    this.options.metrics?.start();
    if (this.options.heal !== false) {
      this.#healer = new Healer({
        engine: this.engine,
        services: this.#life,
        root: this.options.root,
        accounts: this.options.accounts,
        log: log.child({ part: "heal" }),
        ...(this.options.heal ? { tuning: this.options.heal } : {}),
        clock: this.#vmClock,
        busy: () => this.#applying !== null,
        ...(this.options.health ? { health: this.options.health } : {}),
      });
      this.#listenToHealer(this.#healer);
      this.#healer.configure(this.#desired);
      this.#healer.start();
    }
    // After the persisted state is in force: a window an agent restart interrupted resumes now (or reverts
    // at once when it ran out meanwhile).
    await this.#pf.start();
    if (this.options.coordinator) this.#openLink(this.options.coordinator);
    else log.warn("no coordinator given: enforcing the persisted state only");
  }

  /** The coordinator link: made at start, since its hello names the role (the persisted state may fix it). */
  #openLink(coordinator: string): void {
    this.#transport = new AgentTransport({
      url: coordinator,
      node: this.options.node,
      role: this.options.role ?? this.#desired?.role ?? null,
      agentVersion: AGENT_VERSION,
      generation: () => this.#generation,
      logger: this.options.logger.child({ part: "transport" }),
      now: this.options.now,
      tls: this.options.tls,
      backoff: this.options.backoff,
      headers: this.options.headers,
    });
    this.#listenToTransport(this.#transport);
    this.#transport.start();
  }

  /** Health follows the persisted state's logs first; its changes are listened to after that. */
  async #startHealth(health: HealthSource): Promise<void> {
    health.on("event", (e) => this.#event(e));
    await health.configure(this.#desired);
    this.#listenToHealth(health);
  }

  /**
   * Idempotent; well inside rc.d's daemon_timeout (an apply in progress finishes first, then we stop). In
   * reverse order, except that what acts on its own stops first (the throttles, pf's confirm window, the
   * healer's passes): nothing is reverted or repaired while the link closes.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#statusThrottle.cancel();
      this.#snapshotThrottle.cancel();
      this.#pf.stop();
      await this.#healer?.stop();
      await this.#transport?.stop();
      await this.options.metrics?.stop();
      await this.options.health?.stop();
    })();
    return this.#stopping;
  }

  // What the parts tell the daemon: every event of a part, and what the daemon does with it.

  /** pf: its events are the node's events; its confirm window ran out: the revert runs here. */
  #listenToPf(pf: PfManager): void {
    pf.on("event", (e) => this.#event(e));
    pf.on("expired", () => void this.#pfExpired());
  }

  /** The healer: its repairs are the node's events; a service's heal state is in the snapshot, not the status. */
  #listenToHealer(healer: Healer): void {
    healer.on("event", (e) => this.#event(e));
    healer.on("change", () => this.#snapshotThrottle.request());
  }

  /**
   * Health: a change goes out as a status frame. What a rollout gate reads (a component's state, jicofo's
   * bridges) goes out at once; the rest of a burst (explanations, signal times) is throttled.
   */
  #listenToHealth(health: HealthSource): void {
    health.on("change", () => {
      if (gateKey(health.components()) !== this.#sentGateKey) this.#statusThrottle.now();
      else this.#statusThrottle.request();
    });
  }

  /**
   * The coordinator link: after every (re)connect a full snapshot, then the events kept meanwhile; its
   * frames are handled here; its state is remembered for the pf revert event.
   */
  #listenToTransport(transport: AgentTransport): void {
    transport.on("open", () => void this.#sendSnapshot().then(() => this.#drainEvents()));
    transport.on("frame", (f) => void this.#onFrame(f));
    transport.on("state", (state) => {
      this.#link = { state, since: new Date(this.#vmClock.now()).toISOString() };
    });
  }

  #send(frame: AgentToCoordinator): boolean {
    return this.#transport?.send(frame) ?? false;
  }

  /**
   * `known`: the apply that just ended, whose result says how it left the files (observedFiles); the
   * services' owner answers what rcctl said moments ago; only the rest is asked of rcctl and the disk.
   */
  async status(known?: Pick<ApplyResult, "observedFiles">): Promise<NodeStatus> {
    const [files, services] = await Promise.all([
      fileStates(this.#desired, this.options.root, this.options.accounts, known?.observedFiles),
      serviceStates(
        this.#desired,
        this.#life,
        (n) => this.#healer?.serviceHint(n) ?? this.options.health?.serviceHint(n),
      ),
    ]);
    return {
      generation: this.#generation,
      applying: this.#applying,
      files,
      services,
      health: this.options.health?.components() ?? [],
      metrics: this.options.metrics?.latest() ?? null,
      ...(this.#desired?.role === "host"
        ? { vms: await this.#host.reportedVms(this.#desired.vms ?? []) }
        : {}),
    };
  }

  /** pf's confirm window ran out: the engine puts the rules of before back and keeps them. */
  async #pfExpired(): Promise<void> {
    try {
      const generation = this.#generation;
      const desired = await this.engine.revertPf(this.#linkNote());
      if (!desired) return;
      this.#transport?.revokeAnswers(
        generation,
        `pf.conf of generation ${generation} was not confirmed within its window: the previous rules are back`,
      );
      this.#desired = desired;
      this.#healer?.configure(desired);
      this.#snapshotThrottle.request();
    } catch (err) {
      this.options.logger.error({ err: (err as Error).message }, "pf revert failed");
    }
  }

  /** How the coordinator link looks now, for the revert event ("down since ..."). */
  #linkNote(): string {
    const { state, since } = this.#link;
    return state === "open"
      ? "the coordinator link is up, but no confirmation came"
      : `the coordinator link is ${state === "idle" ? "down" : state} since ${since}`;
  }

  async #sendSnapshot(replyTo?: string, known?: Pick<ApplyResult, "observedFiles">): Promise<void> {
    try {
      const status = await this.status(known);
      this.#send({ type: "snapshot", ...(replyTo ? { replyTo } : {}), status });
    } catch (err) {
      this.options.logger.error({ err: (err as Error).message }, "cannot build the status snapshot");
    }
  }

  /** Every event goes through the outbox: sent now when the link is open, after the next connect otherwise. */
  #event(event: AgentEvent): void {
    this.#outbox.push(event);
    this.#drainEvents();
  }

  #drainEvents(): void {
    this.#outbox.drain(
      (event) => this.#send({ type: "event", event }),
      () => new Date(this.#vmClock.now()),
    );
  }

  #sendStatus(): void {
    const health = this.options.health?.components() ?? [];
    this.#sentGateKey = gateKey(health);
    this.#send({
      type: "status",
      status: {
        health,
        generation: this.#generation,
        applying: this.#applying,
      },
    });
  }

  async #onFrame(frame: CoordinatorToAgent): Promise<void> {
    switch (frame.type) {
      case "desired":
        await this.#apply(frame.id, frame.generation, frame.desired);
        return;
      case "snapshot-request":
        await this.#sendSnapshot(frame.id);
        return;
      case "repair": {
        // Only a service of this node's desired state; the role's allow-list already bounded that list.
        const managed = this.#desired?.services.some((s) => s.name === frame.service) ?? false;
        const ok =
          managed && this.#healer ? await this.#healer.restartService(frame.service, frame.reason) : false;
        const status = ok ? "restarted" : managed ? "failed" : "refused";
        const detail = managed ? {} : { detail: "not a service of this node's desired state" };
        const items: ApplyResultFrame["items"] = [
          { kind: "service", target: frame.service, status, ...detail },
        ];
        this.#reply(frame.id, this.#generation, { ok, unchanged: !ok, items });
        return;
      }
      case "confirm":
        // The coordinator got this generation's apply result over a live link: the new pf rules let it through.
        await this.#pf.confirm(frame.generation);
        return;
      case "error":
        this.options.logger.warn(
          { code: frame.code, problem: frame.message },
          "coordinator reported an error",
        );
        return;
      default:
        return;
    }
  }

  async #apply(id: string, generation: number, desired: NodeDesired): Promise<void> {
    const log = this.options.logger.child({ generation });
    this.#applying = generation;
    let res: ApplyResult;
    try {
      // Follow the new log sources before any service (re)starts, so no line of the new process is missed
      // (a log file that appears later is read from its start).
      await this.options.health?.configure(desired);
      res = await this.engine.apply(desired, generation);
    } catch (err) {
      this.#applying = null;
      log.error({ err: (err as Error).message }, "apply crashed");
      this.#reply(id, generation, { ok: false, unchanged: false, items: [], error: (err as Error).message });
      return;
    }
    this.#applying = null;
    // A refused or stale desired state changed nothing: follow the logs of the state in force again.
    if (res.outcome === "refused" || res.outcome === "stale")
      await this.options.health?.configure(this.#desired);
    if (res.outcome === "applied" || res.outcome === "failed") {
      this.#generation = generation;
      this.#desired = desired;
      this.#healer?.configure(desired);
    }
    const items = itemResults(res);
    const ok = res.outcome === "applied";
    log.info(
      {
        outcome: res.outcome,
        changed: res.changed,
        failed: items.filter((i) => i.status === "failed" || i.status === "refused").length,
      },
      "apply finished",
    );
    const error = applyError(res, generation, items);
    this.#reply(id, generation, {
      ok,
      unchanged: !res.changed,
      items,
      ...(error ? { error: error.slice(0, 2000) } : {}),
    });
    await this.#sendSnapshot(undefined, res);
  }

  /** The apply-result answering request `replyTo` (a desired state, a repair). */
  #reply(
    replyTo: string,
    generation: number,
    result: Omit<ApplyResultFrame, "type" | "replyTo" | "generation">,
  ): void {
    this.#send({ type: "apply-result", replyTo, generation, ...result });
  }
}

type ApplyResultFrame = Extract<AgentToCoordinator, { type: "apply-result" }>;

/** The part of the health the coordinator's rollout gates read (fleet/gates.ts). */
function gateKey(health: readonly ComponentHealth[]): string {
  return JSON.stringify(health.map((c) => [c.component, c.state, c.bridges, c.bridgesSince]));
}
