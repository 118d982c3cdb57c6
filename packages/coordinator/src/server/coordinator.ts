// The coordinator daemon's core: holds the desired state, renders it, rolls it out in stages, and answers
// the admin commands (plan, push, status, agents, events). Transport-agnostic: the agent endpoint and the
// admin socket call into it.
import { EventEmitter } from "node:events";
import { isDeepStrictEqual } from "node:util";
import type { AgentEvent, NodeDesired, NodeStatus, Spec } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { NodePhase, PushEvent, PushOutcome } from "../admin/methods.js";
import { applyDesired, applyProblem } from "../fleet/apply.js";
import { type ApplyResult, Fleet } from "../fleet/fleet.js";
import { evaluateGate, type GateContext } from "../fleet/gates.js";
import { recoverInterruptedPush } from "../fleet/interrupted.js";
import { newJournal, noteEvent, type RolloutJournal } from "../fleet/journal.js";
import { type NodePlan, planHasChanges, planNode } from "../fleet/plan.js";
import { DEPENDENCY_SERVICES, DEPENDENT_SERVICES, dependentsOf, type Recovery } from "../fleet/recovery.js";
import { rolloutStages } from "../fleet/stages.js";
import { buildStatus } from "../fleet/status.js";
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
  now?: () => Date;
  /** How long one node may take to answer a desired-state frame. */
  applyTimeoutMs?: number;
}

export class CoordinatorCore extends EventEmitter<{ push: [PushEvent] }> {
  readonly store: StateStore;
  readonly fleet: Fleet;
  #current: GenerationRecord | null = null;
  #running: { generation: number; by: string; since: string } | null = null;
  /** Whether the deployment was conference-ready when the running push began. */
  #readyBefore = false;
  #secrets: Secrets | null = null;
  #persistTimer: NodeJS.Timeout | null = null;
  /** Secrets and PKI, loaded again only when their files change (every push and plan needs them). */
  readonly #material: MaterialCache;
  /** The rollout journal of the push in flight (fleet/journal.ts), and its writes in order. */
  #journal: RolloutJournal | null = null;
  #journalWrites: Promise<void> = Promise.resolve();
  /** Set by stopRecovery(): an interrupted push's recovery ends where it waits, its journal kept. */
  #stopping = false;
  /** What nodes.json said each node held before a restart: recovery waits for newer reports. */
  readonly #restored = new Map<string, NodeStatus | null>();

  constructor(private readonly o: CoordinatorCoreOptions) {
    super();
    this.store = new StateStore(o.stateDir);
    this.#material = new MaterialCache(o.stateDir, { logger: o.logger });
    this.fleet = new Fleet(o.now);
    this.fleet.on("change", () => this.#schedulePersist());
  }

  get now(): Date {
    return (this.o.now ?? (() => new Date()))();
  }

  /** Loads the state directory: the generation in force and what the nodes last reported. */
  async load(): Promise<void> {
    const cur = await this.store.current();
    this.#current = await this.store.loadGeneration(cur.desired);
    if (cur.desired > 0 && !this.#current) {
      throw new Error(
        `${this.o.stateDir}: current.json names generation ${cur.desired}, which is missing from generations/`,
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
    if (this.#persistTimer) return;
    this.#persistTimer = setTimeout(() => {
      this.#persistTimer = null;
      this.store
        .saveNodes(this.fleet.records())
        .catch((err: unknown) =>
          this.o.logger.error({ err: (err as Error).message }, "cannot save nodes.json"),
        );
    }, 200);
  }

  async flush(): Promise<void> {
    if (this.#persistTimer) {
      clearTimeout(this.#persistTimer);
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
      this.#readyBefore =
        previous !== null && this.#verdict(previous.spec, previous.generation).verdict === "conference-ready";
      const journal = newJournal({
        generation,
        good: pointer.good,
        by: opts.by,
        startedAt: record.createdAt,
        timeoutMs: opts.timeoutMs,
        readyBefore: this.#readyBefore,
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
      const outcome = await this.#rollout(record, pointer.good, opts, emit, previous);
      await this.#endJournal();
      return outcome;
    } finally {
      this.#running = null;
    }
  }

  /** A push's progress: to the admin who pushed, to the feed, and into the rollout journal. */
  #emitter(generation: number, onEvent?: (e: PushEvent) => void) {
    return (e: Omit<PushEvent, "at" | "generation">) => {
      const ev: PushEvent = { at: this.now.toISOString(), generation, ...e };
      onEvent?.(ev);
      this.emit("push", ev);
      const j = this.#journal;
      if (j && noteEvent(j, ev, Date.now(), this.#current?.generation)) {
        // Written in order, each a copy of the journal as it was then. A failed write loses only progress:
        // recovery asks the agents what they hold, the journal tells it what was asked.
        const copy = structuredClone(j);
        this.#journalWrites = this.#journalWrites
          .then(() => this.store.writeJournal(copy))
          .catch((err: unknown) =>
            this.o.logger.error({ err: (err as Error).message }, "cannot write the rollout journal"),
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
        this.o.logger.error({ err: (err as Error).message }, "cannot remove the rollout journal"),
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
        logger: this.o.logger,
        restored: this.#restored,
        emit,
        current: () => this.#current,
        waitFor: (cond, deadline, tickMs) => this.#waitFor(cond, deadline, tickMs),
        stopping: () => this.#stopping,
        describe: (doing) => {
          if (this.#running) this.#running.by = `${j.by}, interrupted by a coordinator restart: ${doing}`;
        },
        rollback: (failed, changed) => {
          this.#readyBefore = j.readyBefore;
          const opts = { by: j.by, timeoutMs: j.timeoutMs };
          return this.#rollback(failed, j.good, changed, opts, emit, () => undefined);
        },
      });
      // The push of a `vmmeet secrets rotate`: its new values stay if it was finished, else the old come back.
      if (!this.#stopping && (await rotationPending(this.o.stateDir))) {
        const finish = outcome?.ok ? commitRotation : revertRotation;
        await finish(this.o.stateDir, { logger: this.o.logger });
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
      info: (o: object, m: string) => this.o.logger.info(o, m),
      warn: (o: object, m: string) => this.o.logger.warn(o, m),
    };
    await beginRotation(this.o.stateDir, names, { logger: log });
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
      await revertRotation(this.o.stateDir, { logger: log });
      throw err;
    }
    if (outcome.ok) await commitRotation(this.o.stateDir, { logger: log });
    else await revertRotation(this.o.stateDir, { logger: log });
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

  async #rollout(
    record: GenerationRecord,
    good: number,
    opts: PushOptions,
    emit: (e: Omit<PushEvent, "at" | "generation">) => void,
    previous: GenerationRecord | null = null,
    /** This rollout restores `good` after `failed` failed: no rollback of its own. */
    restoring?: { failed: number },
  ): Promise<PushOutcome> {
    const { generation, spec } = record;
    const phases: Record<string, NodePhase> = {};
    const stages = rolloutStages(spec);
    for (const s of stages) for (const n of s.nodes) phases[n] = "waiting";
    const setPhase = (node: string, phase: NodePhase, message: string) => {
      phases[node] = phase;
      emit({ kind: "node", node, phase, message });
    };
    const deadline = Date.now() + opts.timeoutMs;
    const changed: string[] = [];
    // When each node that this push (re)started a service on was sent its desired state: a bridge restarted
    // by the push counts only once jicofo logs it joining again after that (otherwise jicofo's stale
    // "1 bridge" from before the restart would pass the gate for a bridge that cannot log in any more).
    const restartedSince = new Map<string, number>();
    // The dependents of a service this push restarted (prosody, a jvb): they drop and reconnect by
    // themselves, and their gates give them their recovery window (fleet/recovery.ts).
    const recovering = new Map<string, Recovery>();
    // Nodes whose own dependent service this push (re)started: their grace period covers them, not a
    // recovery window; only a problem waiting cannot heal fails them early.
    const selfStarted = new Map<string, Recovery>();
    const expectRecovery = (node: string, services: string[], at: number) => {
      // A first start drops nobody: only a restart of a running dependency does.
      const restarted = services.filter((s) => DEPENDENCY_SERVICES.has(s));
      if (restarted.length === 0) return;
      const cause = `${restarted.join(", ")} on ${node} restarted`;
      for (const dep of dependentsOf(spec, node)) {
        const windowMs = spec.operations.recoverySeconds[dep.component] * 1000;
        const prev = recovering.get(dep.node);
        const since = Math.min(prev?.since ?? at, at);
        recovering.set(dep.node, {
          component: dep.component,
          since,
          windowMs: Math.max(prev ? prev.since + prev.windowMs : 0, at + windowMs) - since,
          cause: prev && !prev.cause.includes(cause) ? `${prev.cause}; ${cause}` : cause,
        });
        // jicofo lost its XMPP connection with prosody's restart: every bridge must join its brewery again.
        if (dep.component === "jvb")
          restartedSince.set(dep.node, Math.max(restartedSince.get(dep.node) ?? 0, at));
      }
    };
    const applyNode = async (
      node: string,
      aside = false,
    ): Promise<{ node: string; error: string | null }> => {
      // An apply run aside reports its phase only until its stage takes over (gating, healthy).
      const mark = (phase: NodePhase, message: string) => {
        if (!aside || phases[node] === "waiting" || phases[node] === "applying")
          setPhase(node, phase, message);
      };
      // A restore does not wait for a node that is away: it catches up when it connects again.
      const connected = restoring ? this.fleet.connected(node) : await this.#waitConnected(node, deadline);
      if (!connected)
        return {
          node,
          error: `${node} is not connected (last seen ${this.fleet.nodes.get(node)?.lastSeen ?? "never"})`,
        };
      mark("applying", `applying generation ${generation}`);
      const sentAt = Date.now();
      try {
        const res = await this.#apply(
          node,
          generation,
          record.nodes[node]!,
          Math.max(1000, Math.min(deadline - Date.now(), this.o.applyTimeoutMs ?? 120_000)),
        );
        if (!res.unchanged) changed.push(node);
        const problem = applyProblem(res);
        if (problem !== null) return { node, error: `apply failed: ${problem}` };
        const restarted = res.items.some((i) => i.status === "restarted" || i.status === "started");
        if (restarted) restartedSince.set(node, sentAt);
        const own = res.items.find(
          (i) =>
            i.kind === "service" &&
            DEPENDENT_SERVICES.has(i.target) &&
            (i.status === "restarted" || i.status === "started"),
        );
        if (own)
          selfStarted.set(node, {
            component: own.target as Recovery["component"],
            since: sentAt,
            windowMs: 0,
            cause: `its own ${own.status === "started" ? "start" : "restart"}`,
            ownStart: true,
          });
        expectRecovery(
          node,
          res.items.filter((i) => i.kind === "service" && i.status === "restarted").map((i) => i.target),
          sentAt,
        );
        if (restarted) mark("restarting", "applied; services restarted");
        else if (res.unchanged) mark("unchanged", "nothing to change");
        return { node, error: null };
      } catch (err) {
        return { node, error: (err as Error).message };
      }
    };
    // A node whose desired state is the one it already applied (the last good generation's, which it
    // reports) has nothing to change: its apply only moves its generation number, so it runs beside the
    // rollout instead of holding up its stage. It starts with its stage, not with the push: on a busy
    // machine the agents' work for it would slow the stages before (prosody's restart). The stage still
    // waits for its health gate, and the push for the apply's result.
    const unchanged = new Set(
      stages.flatMap((s) => s.nodes).filter((n) => this.#hasApplied(n, previous, good, record.nodes[n])),
    );
    const aside: Promise<{ node: string; error: string | null }>[] = [];
    let failure: string | null = null;
    // A push stops at its first failure: the stages still running stop waiting for their gates, and no
    // further stage starts (a restore goes on regardless, see below).
    const stop = new AbortController();
    const fail = (message: string) => {
      failure ??= message;
      if (!restoring) stop.abort();
    };
    /** One stage: its applies, then its gate. Resolves whether it passed. */
    const runStage = async (stage: (typeof stages)[number]): Promise<boolean> => {
      if (stage.nodes.length === 0) return true;
      emit({ kind: "stage", stage: stage.name, message: `stage ${stage.name}: ${stage.nodes.join(", ")}` });
      for (const n of stage.nodes) if (unchanged.has(n)) aside.push(applyNode(n, true));
      const results = await Promise.all(
        stage.nodes.filter((n) => !unchanged.has(n)).map((node) => applyNode(node)),
      );
      // A restore goes on with the later stages, so that every node it can reach gets the good generation
      // back.
      const failedApply = results.find((r) => r.error);
      if (failedApply) {
        for (const r of results) if (r.error) setPhase(r.node, "failed", r.error);
        fail(`${failedApply.node}: ${failedApply.error}`);
        return false;
      }
      if (stop.signal.aborted) return false;
      for (const node of stage.nodes) setPhase(node, "gating", `waiting for ${stage.gate}`);
      const gateError = await this.#waitGate(
        stage.gate,
        spec,
        stage.nodes,
        deadline,
        {
          restartedSince,
          recovering: new Map([...recovering, ...selfStarted]),
        },
        (node, msg) => emit({ kind: "node", node, phase: "gating", message: msg }),
        stop.signal,
      );
      if (stop.signal.aborted && !restoring) return false;
      if (gateError) {
        setPhase(gateError.node, "failed", gateError.message);
        // A restore judges the end result (conference-ready) rather than each stage: prosody may fail its
        // gate on the logins of a jicofo the next stage is about to restore.
        if (!restoring) fail(`${gateError.node}: ${gateError.message}`);
        return false;
      }
      for (const node of stage.nodes) setPhase(node, "healthy", "passed its gate");
      return true;
    };
    // Each stage starts once the stages it depends on passed (fleet/stages.ts): the web VM beside jicofo
    // and the bridges, both after prosody.
    const ran = new Map<string, Promise<boolean>>();
    for (const stage of stages) {
      const deps = stage.after.map((name) => ran.get(name) ?? Promise.resolve(true));
      ran.set(
        stage.name,
        Promise.all(deps).then((passed) =>
          restoring || (passed.every(Boolean) && !stop.signal.aborted) ? runStage(stage) : false,
        ),
      );
    }
    await Promise.all(ran.values());
    // The applies run aside are part of the push: it succeeds only once each of them did.
    const asideFailed = (await Promise.all(aside)).find((r) => r.error);
    if (!failure && asideFailed) {
      setPhase(asideFailed.node, "failed", asideFailed.error!);
      failure = `${asideFailed.node}: ${asideFailed.error}`;
    }
    if (restoring) {
      return failure
        ? { ok: false, generation, message: failure, nodes: phases }
        : { ok: true, generation, message: `generation ${good} restored as ${generation}`, nodes: phases };
    }
    if (!failure) {
      await this.store.setCurrent({ desired: generation, good: generation });
      await this.store.audit({
        kind: "push-succeeded",
        by: opts.by,
        generation,
        result: "ok",
        message: `generation ${generation} rolled out; every gate passed`,
      });
      emit({ kind: "done", message: `generation ${generation} rolled out` });
      return { ok: true, generation, message: `generation ${generation} rolled out`, nodes: phases };
    }
    await this.store.audit({
      kind: "push-failed",
      by: opts.by,
      generation,
      result: "failed",
      message: failure,
    });
    const rolled = await this.#rollback(record, good, changed, opts, emit, (node) =>
      setPhase(node, "rolled-back", `restored generation ${good}`),
    );
    const message = `generation ${generation} failed: ${failure}${rolled.message ? `; ${rolled.message}` : ""}`;
    emit({ kind: "done", message });
    return {
      ok: false,
      generation,
      ...(rolled.to ? { rolledBackTo: rolled.to } : {}),
      message,
      nodes: phases,
    };
  }

  /**
   * Restores the last good generation: a rollout of its content as a new generation (agents never go back
   * in numbers), stage by stage with the same gates and recovery windows, so that prosody is healthy before
   * jicofo and the bridges are judged. Nodes the failed push did not change have nothing to apply. Then it
   * waits until the deployment is conference-ready again; when the restore or that wait fails, the message
   * says so plainly.
   */
  async #rollback(
    failed: GenerationRecord,
    good: number,
    changed: string[],
    opts: PushOptions,
    emit: (e: Omit<PushEvent, "at" | "generation">) => void,
    restored: (node: string) => void,
  ): Promise<{ to?: number; message: string }> {
    const target = await this.store.loadGeneration(good);
    if (!target) {
      await this.store.audit({
        kind: "rollback-skipped",
        by: opts.by,
        generation: failed.generation,
        message: "no earlier good generation to restore",
      });
      return { message: "no earlier good generation to roll back to" };
    }
    const generation = failed.generation + 1;
    const record: GenerationRecord = {
      ...target,
      generation,
      createdAt: this.now.toISOString(),
      by: `${opts.by} (rollback of ${failed.generation} to ${good})`,
    };
    await this.store.saveGeneration(record);
    await this.store.setCurrent({ desired: generation, good: generation });
    this.#current = record;
    emit({
      kind: "rollback",
      message: `restoring generation ${good} as ${generation} on ${changed.join(", ") || "no node (none had changed)"}`,
    });
    const res = await this.#rollout(record, good, opts, emit, target, { failed: failed.generation });
    for (const node of changed) if (res.nodes[node] === "healthy") restored(node);
    let message: string;
    let ok = res.ok;
    if (!ok) {
      message = `the ROLLBACK FAILED too: generation ${good} could not be restored (${res.message}); the deployment needs attention (vmmeet status)`;
    } else if (this.#readyBefore) {
      const ready = await this.#waitConferenceReady(record.spec, generation, Date.now() + opts.timeoutMs);
      ok = ready.ok;
      message = ready.ok
        ? `rolled back to generation ${good}; conference-ready again`
        : `rolled back to generation ${good}, but the deployment is NOT conference-ready: ${ready.reasons}`;
    } else {
      const v = this.#verdict(record.spec, generation);
      message = `rolled back to generation ${good} (the deployment was not conference-ready before the push either; now ${v.verdict})`;
    }
    emit({ kind: "rollback", message });
    await this.store.audit({
      kind: "rollback",
      by: opts.by,
      generation,
      result: ok ? "ok" : "failed",
      message,
    });
    return { to: good, message };
  }

  #verdict(spec: Spec, generation: number) {
    return buildStatus(spec, generation, this.fleet.nodes, this.now, null).verdict;
  }

  /** Waits (until `deadline`) for the verdict conference-ready over what the agents report. */
  async #waitConferenceReady(
    spec: Spec,
    generation: number,
    deadline: number,
  ): Promise<{ ok: boolean; reasons: string }> {
    const ready = () => this.#verdict(spec, generation).verdict === "conference-ready";
    const ok = await this.#waitFor(ready, deadline, 1000);
    return { ok, reasons: ok ? "" : this.#verdict(spec, generation).reasons.join("; ") };
  }

  /** The node reports the last good generation, and this desired state is that generation's, unchanged. */
  #hasApplied(
    node: string,
    previous: GenerationRecord | null,
    good: number,
    desired: NodeDesired | undefined,
  ): boolean {
    if (!previous || previous.generation !== good || desired === undefined) return false;
    const before = previous.nodes[node];
    if (!before || this.fleet.nodes.get(node)?.status?.generation !== good) return false;
    return isDeepStrictEqual(before, desired);
  }

  async #apply(
    node: string,
    generation: number,
    desired: NodeDesired,
    timeoutMs: number,
  ): Promise<ApplyResult> {
    return applyDesired(this.fleet, node, generation, desired, timeoutMs);
  }

  async #waitConnected(node: string, deadline: number): Promise<boolean> {
    if (this.fleet.connected(node)) return true;
    return this.#waitFor(() => this.fleet.connected(node), deadline);
  }

  async #waitGate(
    gate: Parameters<typeof evaluateGate>[0],
    spec: Spec,
    nodes: string[],
    deadline: number,
    ctx: Omit<GateContext, "now">,
    progress: (node: string, message: string) => void,
    abort?: AbortSignal,
  ): Promise<{ node: string; message: string } | null> {
    const last = new Map<string, string>();
    let result: { node: string; message: string } | null = null;
    const check = () => {
      for (const node of nodes) {
        const r = evaluateGate(gate, spec, (n) => this.fleet.nodes.get(n)?.status ?? null, node, {
          ...ctx,
          now: Date.now(),
        });
        if (r.failed) {
          result = { node, message: r.failed };
          return true;
        }
        if (!r.passed) {
          if (last.get(node) !== r.waitingFor) {
            last.set(node, r.waitingFor);
            progress(node, `waiting for ${r.waitingFor}`);
          }
          return false;
        }
      }
      return true;
    };
    // A recovery window ends without any fleet change: look again every second while one is open.
    const ok = await this.#waitFor(
      check,
      deadline,
      (ctx.recovering?.size ?? 0) > 0 ? 1000 : undefined,
      abort,
    );
    if (abort?.aborted) return null;
    if (result) return result;
    if (ok) return null;
    const stuck =
      nodes.find(
        (n) =>
          !evaluateGate(gate, spec, (x) => this.fleet.nodes.get(x)?.status ?? null, n, {
            ...ctx,
            now: Date.now(),
          }).passed,
      ) ?? nodes[0]!;
    return { node: stuck, message: `health gate not passed in time (${last.get(stuck) ?? gate})` };
  }

  /**
   * Resolves true when cond() holds (re-checked on every fleet change, and every `tickMs` for conditions
   * that time alone can change), false at the deadline or when `abort` fires.
   */
  #waitFor(cond: () => boolean, deadline: number, tickMs?: number, abort?: AbortSignal): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    if (abort?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onChange = () => {
        if (cond()) done(true);
      };
      const timer = setTimeout(() => done(cond()), Math.max(0, deadline - Date.now()));
      const tick = tickMs === undefined ? null : setInterval(onChange, tickMs);
      const onAbort = () => done(false);
      const done = (v: boolean) => {
        clearTimeout(timer);
        if (tick) clearInterval(tick);
        this.fleet.off("change", onChange);
        abort?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      this.fleet.on("change", onChange);
      abort?.addEventListener("abort", onAbort, { once: true });
    });
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
        this.o.logger.error({ err: (err as Error).message }, "cannot write the audit log"),
      );
  }
}
