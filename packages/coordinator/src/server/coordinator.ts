// The coordinator daemon's core: holds the desired state, renders it, stores each pushed generation with
// its rollout journal, and answers the admin commands (plan, push, rotate, status, agents, events). The
// rollout itself, its gates and its rollback are fleet/rollout.ts's. Transport-agnostic: the agent endpoint
// and the admin socket call into it.
import { EventEmitter } from "node:events";
import { type Clock, liveClock } from "@vmmeet/node";
import type { AgentEvent, NodeDesired, NodeStatus, Spec } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { PushEvent, PushOutcome } from "../admin/methods.js";
import { Fleet } from "../fleet/fleet.js";
import { recoverInterruptedPush } from "../fleet/interrupted.js";
import { newJournal, noteEvent, type RolloutJournal } from "../fleet/journal.js";
import { type NodePlan, planHasChanges, planNode } from "../fleet/plan.js";
import { DEPENDENCY_SERVICES, dependentsOf } from "../fleet/recovery.js";
import { Rollout, type RolloutEmit } from "../fleet/rollout.js";
import { rolloutStages } from "../fleet/stages.js";
import { renderDeployment } from "../render/index.js";
import type { Secrets } from "../render/types.js";
import { MaterialCache, type SecretName } from "../secrets/index.js";
import { beginRotation, commitRotation, revertRotation, rotationPending } from "../secrets/rotation.js";
import { formatProblem, parseSpecText } from "../spec/load.js";
import { type GenerationRecord, StateStore } from "../state/store.js";

export type { NodePhase, PushEvent, PushOutcome } from "../admin/methods.js";

export interface PushOptions {
  by: string;
  timeoutMs: number;
  onEvent?: (e: PushEvent) => void;
}

export class PushBusyError extends Error {}
export class SpecInvalidError extends Error {
  constructor(readonly problems: string[]) {
    super(`the spec is invalid:\n${problems.join("\n")}`);
  }
}

export interface CoordinatorCoreOptions {
  stateDir: string;
  logger: Logger;
  /** The time source and timers of every decision (push deadlines, gates, recovery windows); the system's by default. */
  clock?: Clock;
  /** How long one node may take to answer a desired-state frame. */
  applyTimeoutMs?: number;
}

export class CoordinatorCore extends EventEmitter<{ push: [PushEvent] }> {
  readonly store: StateStore;
  readonly fleet: Fleet;
  /** Sends generations to the nodes: stages, gates, rollback, and the one `apply` every sender uses. */
  readonly rollout: Rollout;
  readonly clock: Clock;
  #current: GenerationRecord | null = null;
  #running: { generation: number; by: string; since: string } | null = null;
  #secrets: Secrets | null = null;
  #persistTimer: unknown = null;
  /** Secrets and PKI, loaded again only when their files change (every push and plan needs them). */
  readonly #material: MaterialCache;
  /** The rollout journal of the push in flight (fleet/journal.ts), and its writes in order. */
  #journal: RolloutJournal | null = null;
  #journalWrites: Promise<void> = Promise.resolve();
  /** Set by stopRecovery(): an interrupted push's recovery ends where it waits, its journal kept. */
  #stopping = false;
  /** What nodes.json said each node held before a restart: recovery waits for newer reports. */
  readonly #restored = new Map<string, NodeStatus | null>();

  constructor(private readonly options: CoordinatorCoreOptions) {
    super();
    this.store = new StateStore(options.stateDir);
    this.#material = new MaterialCache(options.stateDir, { logger: options.logger });
    const clock = options.clock ?? liveClock;
    this.clock = clock;
    this.fleet = new Fleet(() => new Date(clock.now()));
    this.fleet.on("change", () => this.#schedulePersist());
    this.rollout = new Rollout({
      fleet: this.fleet,
      store: this.store,
      clock,
      ...(options.applyTimeoutMs ? { applyTimeoutMs: options.applyTimeoutMs } : {}),
      inForce: (record) => {
        this.#current = record;
      },
    });
  }

  get now(): Date {
    return new Date(this.clock.now());
  }

  /** Loads the state directory: the generation in force and what the nodes last reported. */
  async load(): Promise<void> {
    const cur = await this.store.current();
    this.#current = await this.store.loadGeneration(cur.desired);
    if (cur.desired > 0 && !this.#current) {
      throw new Error(
        `${this.options.stateDir}: current.json names generation ${cur.desired}, which is missing from generations/`,
      );
    }
    this.fleet.restore(await this.store.loadNodes());
    for (const [name, live] of this.fleet.nodes) this.#restored.set(name, live.status);
    // A push the coordinator stopped in the middle of: no other push, catch-up or heal until recover() ends.
    this.#journal = await this.store.readJournal();
    if (this.#journal)
      this.#running = {
        generation: this.#journal.generation,
        by: `${this.#journal.by}, interrupted by a coordinator restart: being finished or rolled back`,
        since: this.now.toISOString(),
      };
  }

  get current(): GenerationRecord | null {
    return this.#current;
  }

  get pushRunning(): { generation: number; by: string; since: string } | null {
    return this.#running;
  }

  /** The desired state for a node that says hello: unknown nodes are refused. */
  desiredFor(node: string): { generation: number; desired: NodeDesired } | null {
    const d = this.#current?.nodes[node];
    return d && this.#current ? { generation: this.#current.generation, desired: d } : null;
  }

  knowsNode(node: string): boolean {
    const spec = this.#current?.spec;
    if (!spec) return true; // before the first push every enrolled agent may connect and report
    return node === spec.host.name || spec.nodes.some((n) => n.name === node);
  }

  #schedulePersist(): void {
    if (this.#persistTimer !== null) return;
    this.#persistTimer = this.clock.setTimeout(() => {
      this.#persistTimer = null;
      this.store
        .saveNodes(this.fleet.records())
        .catch((err: unknown) =>
          this.options.logger.error({ err: (err as Error).message }, "cannot save nodes.json"),
        );
    }, 200);
  }

  async flush(): Promise<void> {
    if (this.#persistTimer !== null) {
      this.clock.clearTimeout(this.#persistTimer);
      this.#persistTimer = null;
    }
    await this.store.saveNodes(this.fleet.records());
  }

  async #render(
    specText: string,
    file: string,
  ): Promise<{ spec: Spec; nodes: Record<string, NodeDesired>; secrets: Secrets }> {
    const res = parseSpecText(specText, file);
    if (!res.ok) throw new SpecInvalidError(res.problems.map(formatProblem));
    const material = await this.#material.get(res.spec);
    this.#secrets = material.secrets;
    return {
      spec: res.spec,
      nodes: renderDeployment({ spec: res.spec, secrets: material.secrets, pki: material.pki }),
      secrets: material.secrets,
    };
  }

  secretValues(): string[] {
    return this.#secrets ? Object.values(this.#secrets) : [];
  }

  /** Per node, what pushing this spec would change against what each agent last reported. */
  async plan(specText: string, file: string): Promise<{ plans: NodePlan[]; changes: boolean }> {
    const { spec, nodes, secrets } = await this.#render(specText, file);
    const plans: NodePlan[] = [];
    for (const [name, desired] of Object.entries(nodes)) {
      const live = this.fleet.nodes.get(name);
      const status = live?.status ?? null;
      const reportedGen = status?.generation ?? 0;
      const baselineRecord = reportedGen > 0 ? await this.store.loadGeneration(reportedGen) : null;
      const plan = planNode(
        desired,
        { desired: baselineRecord?.nodes[name] ?? null, status },
        Object.values(secrets),
      );
      if (plan.restarts.some((s) => DEPENDENCY_SERVICES.has(s)))
        plan.reconnects = dependentsOf(spec, name).map((d) => `${d.component} on ${d.node} (${d.via})`);
      plans.push(plan);
    }
    return { plans, changes: planHasChanges(plans) };
  }

  #busy(r: { generation: number; by: string; since: string }): PushBusyError {
    return new PushBusyError(
      `a push of generation ${r.generation} by ${r.by} is running since ${r.since}; try again when it ends`,
    );
  }

  /** Validate, render, store a new generation and roll it out; two pushes never interleave. */
  async push(specText: string, file: string, opts: PushOptions): Promise<PushOutcome> {
    if (this.#running) throw this.#busy(this.#running);
    this.#running = { generation: 0, by: opts.by, since: this.now.toISOString() };
    try {
      const { spec, nodes } = await this.#render(specText, file);
      const generation = Math.max(await this.store.nextGeneration(), (this.#current?.generation ?? 0) + 1);
      this.#running.generation = generation;
      const record: GenerationRecord = {
        generation,
        createdAt: this.now.toISOString(),
        by: opts.by,
        specText,
        spec,
        nodes,
      };
      const pointer = await this.store.current();
      const previous = this.#current;
      // A rollback is to leave the deployment as good as it was: conference-ready again if it was.
      const readyBefore =
        previous !== null &&
        this.rollout.verdict(previous.spec, previous.generation).verdict === "conference-ready";
      const journal = newJournal({
        generation,
        good: pointer.good,
        by: opts.by,
        startedAt: record.createdAt,
        timeoutMs: opts.timeoutMs,
        readyBefore,
        stages: rolloutStages(spec),
      });
      // All stored or none (a full state directory refuses the push; the generation in force stays).
      await this.store.acceptGeneration(
        record,
        pointer,
        {
          kind: "push-accepted",
          by: opts.by,
          message: `generation ${generation} accepted (${Object.keys(nodes).length} nodes)`,
        },
        journal,
      );
      this.#journal = journal;
      this.#current = record;
      const emit = this.#emitter(generation, opts.onEvent);
      emit({ kind: "accepted", message: `generation ${generation} accepted` });
      const outcome = await this.rollout.run(
        record,
        { by: opts.by, timeoutMs: opts.timeoutMs, emit, good: pointer.good, readyBefore },
        previous,
      );
      await this.#endJournal();
      return outcome;
    } finally {
      this.#running = null;
    }
  }

  /** A push's progress: to the admin who pushed, to the feed, and into the rollout journal. */
  #emitter(generation: number, onEvent?: (e: PushEvent) => void): RolloutEmit {
    return (e) => {
      const ev: PushEvent = { at: this.now.toISOString(), generation, ...e };
      onEvent?.(ev);
      this.emit("push", ev);
      const j = this.#journal;
      if (j && noteEvent(j, ev, this.clock.now(), this.#current?.generation)) {
        // Written in order, each a copy of the journal as it was then. A failed write loses only progress:
        // recovery asks the agents what they hold, the journal tells it what was asked.
        const copy = structuredClone(j);
        this.#journalWrites = this.#journalWrites
          .then(() => this.store.writeJournal(copy))
          .catch((err: unknown) =>
            this.options.logger.error({ err: (err as Error).message }, "cannot write the rollout journal"),
          );
      }
    };
  }

  /** The push has ended (rolled out or rolled back): its journal goes. */
  async #endJournal(): Promise<void> {
    await this.#journalWrites;
    this.#journal = null;
    await this.store
      .clearJournal()
      .catch((err: unknown) =>
        this.options.logger.error({ err: (err as Error).message }, "cannot remove the rollout journal"),
      );
  }

  /**
   * After a restart: the push the coordinator was killed in the middle of (its journal, read by load()) is
   * finished or rolled back by fleet/journal.ts's rules, once every node of it has reported what it holds
   * (or the push's time is up). What was found and done goes to the audit log (`vmmeet events`) and the push
   * feed; `vmmeet status` shows the recovery as the push running until then. Called once agents can connect.
   */
  async recover(): Promise<PushOutcome | null> {
    const j = this.#journal;
    if (!j) return null;
    const emit = this.#emitter(j.generation);
    try {
      const outcome = await recoverInterruptedPush(j, {
        fleet: this.fleet,
        store: this.store,
        logger: this.options.logger,
        clock: this.clock,
        restored: this.#restored,
        emit,
        current: () => this.#current,
        waitFor: (cond, deadline, tickMs) => this.rollout.wait.until(cond, deadline, tickMs),
        stopping: () => this.#stopping,
        describe: (doing) => {
          if (this.#running) this.#running.by = `${j.by}, interrupted by a coordinator restart: ${doing}`;
        },
        rollback: (failed, changed) =>
          this.rollout.rollback(failed, changed, {
            by: j.by,
            timeoutMs: j.timeoutMs,
            emit,
            good: j.good,
            readyBefore: j.readyBefore,
          }),
      });
      // The push of a `vmmeet secrets rotate`: its new values stay if it was finished, else the old come back.
      if (!this.#stopping && (await rotationPending(this.options.stateDir))) {
        const finish = outcome?.ok ? commitRotation : revertRotation;
        await finish(this.options.stateDir, { logger: this.options.logger });
        await this.store.audit({
          kind: outcome?.ok ? "secrets-rotated" : "secrets-rotation-reverted",
          by: j.by,
          generation: j.generation,
          message: outcome?.ok
            ? "the rotation's push was finished after the coordinator's restart: the new values are in force"
            : "the rotation's push did not end well after the coordinator's restart: the previous values are in force again",
        });
      }
      return outcome;
    } finally {
      if (this.#stopping) await this.#journalWrites;
      else await this.#endJournal();
      this.#running = null;
    }
  }

  /** The daemon stops: a recovery still waiting for the nodes or the gates ends, and runs again next start. */
  stopRecovery(): void {
    this.#stopping = true;
  }

  /**
   * `vmmeet secrets rotate`: new values for the named secrets, then one push of the spec in force with them,
   * in the rollout's order (prosody's accounts get the new passwords first, then jicofo and the bridges
   * restart with them). The previous values stay in the state directory until the push ends: kept on
   * success, restored on failure (the push's own rollback restores the previous generation on the nodes).
   */
  async rotateSecrets(names: readonly SecretName[], opts: PushOptions): Promise<PushOutcome> {
    if (this.#running) throw this.#busy(this.#running);
    const cur = this.#current;
    if (!cur) throw new Error("nothing has been pushed yet: secrets are rotated on a running deployment");
    const log = {
      info: (fields: object, message: string) => this.options.logger.info(fields, message),
      warn: (fields: object, message: string) => this.options.logger.warn(fields, message),
    };
    await beginRotation(this.options.stateDir, names, { logger: log });
    await this.store.audit({
      kind: "secrets-rotate",
      by: opts.by,
      generation: cur.generation,
      message: `new values for ${names.join(", ")}; the previous ones are kept until the push ends`,
    });
    let outcome: PushOutcome;
    try {
      outcome = await this.push(cur.specText, `the spec of generation ${cur.generation}`, opts);
    } catch (err) {
      await revertRotation(this.options.stateDir, { logger: log });
      throw err;
    }
    if (outcome.ok) await commitRotation(this.options.stateDir, { logger: log });
    else await revertRotation(this.options.stateDir, { logger: log });
    await this.store.audit({
      kind: outcome.ok ? "secrets-rotated" : "secrets-rotation-reverted",
      by: opts.by,
      generation: outcome.generation,
      result: outcome.ok ? "ok" : "failed",
      message: outcome.ok
        ? `${names.join(", ")} rotated in generation ${outcome.generation}`
        : `${names.join(", ")} not rotated: the previous values are in force again (${outcome.message})`,
    });
    return outcome;
  }

  /** Agent events (repairs, refusals) go to the audit log as they arrive. */
  recordAgentEvent(node: string, event: AgentEvent): void {
    this.store
      .audit({
        at: event.at,
        kind: `agent-${event.kind}`,
        node,
        message: event.message,
        ...(event.target ? { result: event.target } : {}),
      })
      .catch((err: unknown) =>
        this.options.logger.error({ err: (err as Error).message }, "cannot write the audit log"),
      );
  }
}
