// The agent daemon: started in order (apply engine, health, metrics, transport), stopped in reverse.
// It enforces the last applied desired state from its state directory at start, with or without a
// coordinator, applies what the coordinator sends, and reports a full snapshot after every (re)connect and
// changes after that.

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
import { AgentTransport, type TransportTls } from "./transport/client.js";

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
  readonly #status: Throttle;
  /** gateKey() of the health last sent. */
  #sentGateKey = "";
  #started = false;
  #stopping: Promise<void> | null = null;
  #healer: Healer | null = null;
  /** Repairs and other events not yet sent: kept while the coordinator is away. */
  readonly #outbox = new EventOutbox();
  /** A service changed state (healer): a full snapshot, throttled like the status. */
  readonly #snapshot: Throttle;
  readonly #pf: PfManager;
  readonly #host: HostManager;
  /** The VM's clock for the healer and pf: live timers, times read from `now`. */
  readonly #vmClock: Clock;
  /** When the coordinator link last changed state, for the pf revert event. */
  #link: { state: string; since: string };

  constructor(private readonly o: AgentDaemonOptions) {
    this.#vmClock = o.now ? { ...liveClock, now: o.now } : liveClock;
    this.#link = { state: "idle", since: new Date(this.#vmClock.now()).toISOString() };
    // Its start times are the healer's too: on the VM's clock.
    this.#life = ServiceLife.of(o.services, { now: () => this.#vmClock.now() });
    this.#status = new Throttle(() => this.#sendStatus(), STATUS_INTERVAL_MS, o.clock);
    this.#snapshot = new Throttle(() => void this.#sendSnapshot(), STATUS_INTERVAL_MS, o.clock);
    this.#pf = new PfManager({
      root: o.root,
      stateDir: o.stateDir,
      log: o.logger.child({ part: "pf" }),
      confirmable: o.coordinator !== null,
      clock: this.#vmClock,
      ...(o.pfctl ? { pfctl: o.pfctl } : {}),
      ...(o.runner ? { runner: o.runner } : {}),
      onEvent: (e) => this.#event(e),
      onExpired: () => void this.#pfExpired(),
      describeLink: () =>
        this.#link.state === "open"
          ? "the coordinator link is up, but no confirmation came"
          : `the coordinator link is ${this.#link.state === "idle" ? "down" : this.#link.state} since ${this.#link.since}`,
    });
    this.#host = new HostManager({
      stateDir: o.stateDir,
      log: o.logger.child({ part: "host" }),
      ...(o.vmctl ? { vmctl: o.vmctl } : {}),
      ...(o.vmd ? { vmd: o.vmd } : {}),
      ...(o.sysctl ? { sysctl: o.sysctl } : {}),
      ...(o.runner ? { runner: o.runner } : {}),
    });
    this.engine = new ApplyEngine({
      pf: this.#pf,
      host: this.#host,
      stateDir: o.stateDir,
      services: this.#life,
      root: o.root,
      accounts: o.accounts,
      log: o.logger.child({ part: "apply" }),
      ...(o.runner ? { runner: o.runner } : {}),
      ...(o.prosodyctl ? { prosodyctl: o.prosodyctl } : {}),
      ...(o.openssl ? { openssl: o.openssl } : {}),
      ...(o.acmeClient ? { acmeClient: o.acmeClient } : {}),
      ...(o.role ? { role: o.role } : {}),
    });
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
    const log = this.o.logger;
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
    this.o.health?.onEvent?.((e) => this.#event(e));
    await this.o.health?.configure(this.#desired);
    this.o.health?.onChange(() => {
      // What a rollout gate reads (a component's state, jicofo's bridges) goes out at once; the rest of a
      // burst (explanations, signal times) is throttled.
      if (gateKey(this.o.health?.components() ?? []) !== this.#sentGateKey) this.#status.now();
      else this.#status.request();
    });
    this.o.metrics?.start();
    if (this.o.heal !== false) {
      this.#healer = new Healer({
        engine: this.engine,
        services: this.#life,
        root: this.o.root,
        accounts: this.o.accounts,
        log: log.child({ part: "heal" }),
        ...(this.o.heal ? { tuning: this.o.heal } : {}),
        clock: this.#vmClock,
        busy: () => this.#applying !== null,
        ...(this.o.health ? { health: this.o.health } : {}),
        onEvent: (e) => this.#event(e),
        onChange: () => this.#snapshot.request(),
      });
      this.#healer.configure(this.#desired);
      this.#healer.start();
    }
    // After the persisted state is in force: a window an agent restart interrupted resumes now (or reverts
    // at once when it ran out meanwhile).
    await this.#pf.start();
    if (this.o.coordinator) {
      this.#transport = new AgentTransport({
        url: this.o.coordinator,
        node: this.o.node,
        role: this.o.role ?? this.#desired?.role ?? null,
        agentVersion: AGENT_VERSION,
        generation: () => this.#generation,
        onOpen: () => void this.#sendSnapshot().then(() => this.#drainEvents()),
        onFrame: (f) => void this.#onFrame(f),
        onStateChange: (state) => {
          this.#link = { state, since: new Date(this.#vmClock.now()).toISOString() };
        },
        logger: log.child({ part: "transport" }),
        ...(this.o.now ? { now: this.o.now } : {}),
        ...(this.o.tls ? { tls: this.o.tls } : {}),
        ...(this.o.backoff ? { backoff: this.o.backoff } : {}),
        ...(this.o.headers ? { headers: this.o.headers } : {}),
      });
      this.#transport.start();
    } else {
      log.warn("no coordinator given: enforcing the persisted state only");
    }
  }

  /** Idempotent; well inside rc.d's daemon_timeout (an apply in progress finishes first, then we stop). */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#status.cancel();
      this.#snapshot.cancel();
      this.#pf.stop();
      await this.#healer?.stop();
      await this.#transport?.stop();
      await this.o.metrics?.stop();
      await this.o.health?.stop();
    })();
    return this.#stopping;
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
      fileStates(this.#desired, this.o.root, this.o.accounts, known?.observedFiles),
      serviceStates(
        this.#desired,
        this.#life,
        (n) => this.#healer?.serviceHint(n) ?? this.o.health?.serviceHint(n),
      ),
    ]);
    return {
      generation: this.#generation,
      applying: this.#applying,
      files,
      services,
      health: this.o.health?.components() ?? [],
      metrics: this.o.metrics?.latest() ?? null,
      ...(this.#desired?.role === "host" ? { vms: await this.#vms() } : {}),
    };
  }

  /** The host's VMs as vmctl reports them; a VM of the spec vmd does not know is listed too. */
  async #vms(): Promise<NonNullable<NodeStatus["vms"]>> {
    const st = await this.#host.status(this.#desired?.vms ?? []);
    if (st.ok) return st.vms;
    this.o.logger.warn({ problem: st.detail }, "cannot read the VMs' state");
    return (this.#desired?.vms ?? []).map((v) => ({
      name: v.name,
      state: "unknown",
      id: null,
      wanted: v.enable,
    }));
  }

  /** pf's confirm window ran out: the engine puts the rules of before back and keeps them. */
  async #pfExpired(): Promise<void> {
    try {
      const generation = this.#generation;
      const desired = await this.engine.revertPf();
      if (!desired) return;
      this.#transport?.revokeAnswers(
        generation,
        `pf.conf of generation ${generation} was not confirmed within its window: the previous rules are back`,
      );
      this.#desired = desired;
      this.#healer?.configure(desired);
      this.#snapshot.request();
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, "pf revert failed");
    }
  }

  async #sendSnapshot(replyTo?: string, known?: Pick<ApplyResult, "observedFiles">): Promise<void> {
    try {
      const status = await this.status(known);
      this.#send({ type: "snapshot", ...(replyTo ? { replyTo } : {}), status });
    } catch (err) {
      this.o.logger.error({ err: (err as Error).message }, "cannot build the status snapshot");
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
    const health = this.o.health?.components() ?? [];
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
        this.#send({
          type: "apply-result",
          replyTo: frame.id,
          generation: this.#generation,
          ok,
          unchanged: !ok,
          items: [
            {
              kind: "service",
              target: frame.service,
              status: ok ? "restarted" : managed ? "failed" : "refused",
              ...(managed ? {} : { detail: "not a service of this node's desired state" }),
            },
          ],
        });
        return;
      }
      case "confirm":
        // The coordinator got this generation's apply result over a live link: the new pf rules let it through.
        await this.#pf.confirm(frame.generation);
        return;
      case "error":
        this.o.logger.warn({ code: frame.code, problem: frame.message }, "coordinator reported an error");
        return;
      default:
        return;
    }
  }

  async #apply(id: string, generation: number, desired: NodeDesired): Promise<void> {
    const log = this.o.logger.child({ generation });
    this.#applying = generation;
    let res: ApplyResult;
    try {
      // Follow the new log sources before any service (re)starts, so no line of the new process is missed
      // (a log file that appears later is read from its start).
      await this.o.health?.configure(desired);
      res = await this.engine.apply(desired, generation);
    } catch (err) {
      this.#applying = null;
      log.error({ err: (err as Error).message }, "apply crashed");
      this.#send({
        type: "apply-result",
        replyTo: id,
        generation,
        ok: false,
        unchanged: false,
        items: [],
        error: (err as Error).message,
      });
      return;
    }
    this.#applying = null;
    // A refused or stale desired state changed nothing: follow the logs of the state in force again.
    if (res.outcome === "refused" || res.outcome === "stale") await this.o.health?.configure(this.#desired);
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
    this.#send({
      type: "apply-result",
      replyTo: id,
      generation,
      ok,
      unchanged: !res.changed,
      items,
      ...(error ? { error: error.slice(0, 2000) } : {}),
    });
    await this.#sendSnapshot(undefined, res);
  }
}

/** The part of the health the coordinator's rollout gates read (fleet/gates.ts). */
function gateKey(health: readonly ComponentHealth[]): string {
  return JSON.stringify(health.map((c) => [c.component, c.state, c.bridges, c.bridgesSince]));
}
