// The coordinator's half of self-healing, on a node-cron schedule (spec.operations.heal: default every
// minute, plus up to jitterSeconds of random delay so a fleet of coordinators on one clock does not act in
// the same second). Every tick:
//   1. re-asserts the desired generation: asks every connected node for a fresh snapshot, re-pushes the
//      generation in force to a node that lags (it missed a push, its apply failed or timed out, it was
//      reinstalled) or whose reported files differ from the rendered ones - never while a push runs, in the
//      rollout's order, and with a per-node backoff so a node whose apply keeps failing is not hammered;
//   2. orders cross-node repairs: when prosody is back, a jicofo that has not reconnected within its grace
//      period is restarted, and the bridges only after jicofo is up again (the paper: "startup ordering:
//      nginx, prosody, jicofo, jvb"); the agents' own remedies cover what one VM can see alone;
//   3. raises a deployment alarm when the verdict ("can a conference happen now") has been "down" for
//      longer than alarmAfterSeconds, and clears it when it no longer is.
// Each action is an audit entry and a "heal" event (kinds heal-repush, heal-repair, heal-repair-needed,
// heal-alarm, heal-alarm-cleared). The decisions are pure functions (fleet/heal-rules.ts); HealScheduler
// does the I/O, through what it is given of the coordinator (HealSource: server/daemon.ts wires it) and on
// its clock.
import { EventEmitter } from "node:events";
import { type Clock, cappedDelay, liveClock } from "@vmmeet/node";
import {
  DEFAULT_GRACE_SECONDS,
  type DeploymentVerdict,
  type NodeDesired,
  type NodeHealth,
  type NodeRole,
  type NodeStatus,
  type Spec,
  type VerdictResult,
} from "@vmmeet/shared";
import { schedule as cronSchedule, validate as cronValidate, type ScheduledTask } from "node-cron";
import type { Logger } from "pino";
import type { AuditEntry, GenerationRecord } from "../state/store.js";
import {
  type AlarmState,
  alarmStep,
  type CrossRepair,
  crossNodeRepairs,
  NO_ALARM,
  type NodeView,
  nodeOrder,
  type Reassert,
  reassertPlan,
} from "./heal-rules.js";
import type { Rollout } from "./rollout.js";

export interface HealTuning {
  /** node-cron expression (5 fields, or 6 with seconds first). */
  schedule: string;
  jitterSeconds: number;
  alarmAfterSeconds: number;
  /** How long a node may take to answer a snapshot request before its last report is used. */
  snapshotTimeoutMs: number;
  /** How long a re-push may take. */
  applyTimeoutMs: number;
  /** Cross-node restarts per node and service and hour. */
  repairsPerHour: number;
  /**
   * No tick this soon after start: agents are still reconnecting to a restarted coordinator, and the
   * catch-up on connect (server/daemon.ts) brings them to the generation in force already.
   */
  settleSeconds: number;
}

export const DEFAULT_HEAL_TUNING: HealTuning = {
  schedule: "* * * * *",
  jitterSeconds: 15,
  alarmAfterSeconds: 300,
  snapshotTimeoutMs: 5_000,
  applyTimeoutMs: 120_000,
  repairsPerHour: 3,
  settleSeconds: 60,
};

/** @vmmeet/shared's deploymentVerdict, injected (it answers "can a conference happen now?"). */
export type VerdictFn = (nodes: readonly NodeHealth[]) => VerdictResult;

/**
 * Restarts a service on another node and resolves whether it did: the daemon sends the node a repair frame
 * (coordinatorToAgent.ts), which the agent's healer carries out. Without one, a due repair is recorded as
 * "heal-repair-needed".
 */
export type RemoteRestart = (node: string, service: string, reason: string) => Promise<boolean>;

export interface HealEvent {
  at: string;
  kind: string;
  node?: string;
  generation?: number;
  message: string;
}

/** What the heal schedule sees of the coordinator, and all it may do to the nodes and the audit log. */
export interface HealSource {
  /** The generation in force (null before the first push). */
  current(): Pick<GenerationRecord, "generation" | "spec" | "nodes"> | null;
  /** Whether a push, or the recovery of an interrupted one, runs: no re-push then. */
  pushRunning(): boolean;
  /** Every node the coordinator knows: its last report, and whether its agent is connected now. */
  nodes(): Iterable<{ node: string; connected: boolean; status: NodeStatus | null }>;
  /** Asks a connected node for a fresh report (nodes() has it after); rejects when none comes in time. */
  refresh(node: string, timeoutMs: number): Promise<unknown>;
  /** Sends a node the desired state of a generation and reads its answer (fleet/rollout.ts). */
  apply: Rollout["apply"];
  /** One line of the audit log (`vmmeet events`). */
  audit(entry: Omit<AuditEntry, "at"> & { at?: string }): Promise<void>;
}

/** A started cron schedule: stop() ends it. */
export interface CronTask {
  stop(): Promise<void> | void;
}

/**
 * Calls `fire` at the times of a cron expression. It only triggers: whether a round is due (the settle
 * time after start, the jitter) is decided on the scheduler's Clock, so a test fires it by hand.
 */
export type CronTrigger = (expression: string, fire: () => void, logger: Logger) => CronTask;

/** node-cron, with its own messages (missed runs) in our log instead of on the console. */
export const nodeCronTrigger: CronTrigger = (expression, fire, log) => {
  const task: ScheduledTask = cronSchedule(expression, fire, {
    name: "vmmeet-heal",
    noOverlap: true,
    logger: {
      info: (m) => log.debug({ cron: m }, "node-cron"),
      warn: (m) => log.debug({ cron: m }, "node-cron"),
      error: (m) => log.warn({ cron: String(m) }, "node-cron"),
      debug: (m) => log.debug({ cron: String(m) }, "node-cron"),
    },
  });
  return { stop: () => task.destroy() };
};

export interface HealSchedulerOptions {
  source: HealSource;
  logger: Logger;
  /** The time source and the jitter's timer (the system's by default). */
  clock?: Clock;
  /** What fires the rounds on operations.heal.schedule (node-cron by default). */
  cron?: CronTrigger;
  /** Overrides of the spec's operations.heal (and the timeouts); tests shorten them. */
  tuning?: Partial<HealTuning>;
  verdict?: VerdictFn;
  restart?: RemoteRestart;
  random?: () => number;
}

export interface HealReport {
  repushed: { node: string; why: Reassert["why"]; ok: boolean }[];
  repairs: CrossRepair[];
  verdict: DeploymentVerdict | null;
}

const HOUR_MS = 3_600_000;

export class HealScheduler extends EventEmitter<{ event: [HealEvent] }> {
  #task: CronTask | null = null;
  #schedule: string | null = null;
  #jitterTimer: unknown = null;
  #ticking: Promise<HealReport> | null = null;
  #alarm: AlarmState = NO_ALARM;
  /** Per node: failed re-pushes of a generation in a row and when the next may go. */
  readonly #backoff = new Map<string, { generation: number; failures: number; nextAt: number }>();
  readonly #repairs = new Map<string, number[]>();
  readonly #needed = new Map<string, number>();
  #stopped = false;
  #startedAt = 0;

  readonly #clock: Clock;

  constructor(private readonly options: HealSchedulerOptions) {
    super();
    this.#clock = options.clock ?? liveClock;
  }

  /** The spec's operations.heal with the options' overrides. */
  get tuning(): HealTuning {
    const spec: Spec | undefined = this.options.source.current()?.spec;
    const fromSpec = spec?.operations.heal ?? {};
    const t = { ...DEFAULT_HEAL_TUNING, ...fromSpec, ...definedOnly(this.options.tuning ?? {}) };
    return t;
  }

  get alarm(): { since: string; reasons: string[] } | null {
    const a = this.#alarm;
    return a.raised && a.downSince !== null
      ? { since: new Date(a.downSince).toISOString(), reasons: a.reasons }
      : null;
  }

  start(): void {
    if (this.#stopped) return;
    this.#startedAt = this.#clock.now();
    this.reconfigure();
  }

  /** Re-reads the schedule (a push may have changed the spec) and re-creates the cron task if it changed. */
  reconfigure(): void {
    if (this.#stopped) return;
    const expr = this.tuning.schedule;
    if (expr === this.#schedule && this.#task) return;
    if (!cronValidate(expr)) {
      this.options.logger.error(
        { schedule: expr },
        "operations.heal.schedule is not a valid cron expression; keeping the old one",
      );
      if (!this.#task) this.#install(DEFAULT_HEAL_TUNING.schedule);
      return;
    }
    this.#install(expr);
  }

  #install(expr: string): void {
    void this.#task?.stop();
    this.#schedule = expr;
    this.#task = (this.options.cron ?? nodeCronTrigger)(expr, () => this.#fire(), this.options.logger);
  }

  /**
   * Idempotent: no cron task and no jitter timer afterwards. A tick in progress is not awaited: it stops at
   * its next step, and its requests fail when the agent server closes the links.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#jitterTimer !== null) this.#clock.clearTimeout(this.#jitterTimer);
    this.#jitterTimer = null;
    await this.#task?.stop();
    this.#task = null;
  }

  #fire(): void {
    if (this.#stopped || this.#jitterTimer !== null) return;
    if (this.#clock.now() - this.#startedAt < this.tuning.settleSeconds * 1000) return;
    const jitterMs = Math.round((this.options.random ?? Math.random)() * this.tuning.jitterSeconds * 1000);
    this.#jitterTimer = this.#clock.setTimeout(() => {
      this.#jitterTimer = null;
      this.tick().catch((err: unknown) =>
        this.options.logger.error({ err: (err as Error).message }, "heal tick failed"),
      );
    }, jitterMs);
  }

  /** One tick now (the cron's, or a test's); a tick in progress is joined, not doubled. */
  tick(): Promise<HealReport> {
    this.#ticking ??= this.#tick().finally(() => {
      this.#ticking = null;
    });
    return this.#ticking;
  }

  async #tick(): Promise<HealReport> {
    const report: HealReport = { repushed: [], repairs: [], verdict: null };
    const cur = this.options.source.current();
    if (cur && !this.#stopped) {
      const order = nodeOrder(cur.spec, Object.keys(cur.nodes));
      await this.#refresh(order);
      if (!this.options.source.pushRunning()) await this.#reassert(cur.generation, cur.nodes, order, report);
      await this.#crossNode(cur.spec, cur.nodes, report);
      report.verdict = this.#evaluateAlarm(cur.spec);
    }
    return report;
  }

  #views(spec: Spec | null): Map<string, NodeView> {
    const roles = new Map<string, NodeRole>();
    if (spec) {
      roles.set(spec.host.name, "host");
      for (const n of spec.nodes) roles.set(n.name, n.role);
    }
    const out = new Map<string, NodeView>();
    for (const { node, connected, status } of this.options.source.nodes()) {
      const role = roles.get(node);
      if (!role) continue;
      out.set(node, { node, role, connected, status });
    }
    return out;
  }

  /** Fresh snapshots from every connected node (in parallel); a node that does not answer keeps its last. */
  async #refresh(order: readonly string[]): Promise<void> {
    const { snapshotTimeoutMs } = this.tuning;
    const connected = new Set([...this.options.source.nodes()].filter((n) => n.connected).map((n) => n.node));
    await Promise.all(
      order
        .filter((n) => connected.has(n))
        .map((node) =>
          this.options.source
            .refresh(node, snapshotTimeoutMs)
            .catch((err: unknown) =>
              this.options.logger.debug(
                { node, err: (err as Error).message },
                "no fresh snapshot; using the last report",
              ),
            ),
        ),
    );
  }

  async #reassert(
    generation: number,
    desired: Record<string, NodeDesired>,
    order: readonly string[],
    report: HealReport,
  ): Promise<void> {
    const source = this.options.source;
    const plan = reassertPlan(order, generation, desired, this.#views(source.current()?.spec ?? null));
    for (const r of plan) {
      if (this.#stopped || source.pushRunning() || source.current()?.generation !== generation) return;
      const now = this.#clock.now();
      const b = this.#backoff.get(r.node);
      if (b && b.generation === generation && now < b.nextAt) continue;
      const applied = await source.apply(r.node, generation, desired[r.node]!, this.tuning.applyTimeoutMs);
      const ok = applied.ok;
      const problem = applied.ok ? "" : applied.problem;
      if (ok) this.#backoff.delete(r.node);
      else {
        const failures = b && b.generation === generation ? b.failures + 1 : 1;
        // 1, 2, 4 ... minutes, at most an hour: the node's own healer and the admin get time.
        this.#backoff.set(r.node, {
          generation,
          failures,
          nextAt: now + cappedDelay(failures - 1, { initialMs: 60_000, maxMs: HOUR_MS, factor: 2 }),
        });
      }
      report.repushed.push({ node: r.node, why: r.why, ok });
      const message = ok
        ? `re-pushed generation ${generation} to ${r.node} (${r.why}: ${r.detail})`
        : `re-push of generation ${generation} to ${r.node} failed (${r.why}: ${r.detail}): ${problem}`;
      await this.#record({ kind: "heal-repush", node: r.node, generation, message }, ok ? "ok" : "failed");
    }
  }

  async #crossNode(spec: Spec, desired: Record<string, NodeDesired>, report: HealReport): Promise<void> {
    const now = this.#clock.now();
    const key = (node: string, service: string) => `${node}\u0000${service}`;
    const repairs = crossNodeRepairs({
      nodes: [...this.#views(spec).values()],
      now,
      graceMs: (node, service) =>
        (desired[node]?.services.find((s) => s.name === service)?.graceSeconds ?? DEFAULT_GRACE_SECONDS) *
        1000,
      lastRepair: (node, service) => this.#repairs.get(key(node, service))?.at(-1) ?? null,
    });
    for (const r of repairs) {
      if (this.#stopped) return;
      const k = key(r.node, r.service);
      const runs = (this.#repairs.get(k) ?? []).filter((t) => now - t < HOUR_MS);
      this.#repairs.set(k, runs);
      if (!this.options.restart) {
        // No way to restart a service on another VM yet: say what should happen, once an hour.
        const last = this.#needed.get(k);
        if (last !== undefined && now - last < HOUR_MS) continue;
        this.#needed.set(k, now);
        await this.#record(
          { kind: "heal-repair-needed", node: r.node, message: `restart ${r.service}: ${r.reason}` },
          "pending",
        );
        continue;
      }
      if (runs.length >= this.tuning.repairsPerHour) continue;
      runs.push(now);
      report.repairs.push(r);
      let ok = false;
      try {
        ok = await this.options.restart(r.node, r.service, r.reason);
      } catch (err) {
        this.options.logger.warn(
          { node: r.node, service: r.service, err: (err as Error).message },
          "remote restart failed",
        );
      }
      await this.#record(
        {
          kind: "heal-repair",
          node: r.node,
          message: `${ok ? "restarted" : "could not restart"} ${r.service}: ${r.reason}`,
        },
        ok ? "ok" : "failed",
      );
    }
  }

  #evaluateAlarm(spec: Spec): DeploymentVerdict | null {
    if (!this.options.verdict) return null;
    const views = [...this.#views(spec).values()].map((v) => ({
      node: v.node,
      role: v.role,
      health: v.status?.health ?? [],
    }));
    const v = this.options.verdict(views);
    const now = this.#clock.now();
    const { state, change } = alarmStep(this.#alarm, v, now, this.tuning.alarmAfterSeconds * 1000);
    this.#alarm = state;
    if (change === "raised") {
      this.options.logger.error(
        { since: new Date(state.downSince ?? now).toISOString(), reasons: v.reasons },
        "deployment alarm",
      );
      void this.#record(
        {
          kind: "heal-alarm",
          message: `no conference possible for ${Math.round((now - (state.downSince ?? now)) / 1000)} s: ${v.reasons.join("; ")}`,
        },
        "raised",
      );
    } else if (change === "cleared") {
      void this.#record(
        { kind: "heal-alarm-cleared", message: `deployment is ${v.verdict} again` },
        "cleared",
      );
    }
    return v.verdict;
  }

  async #record(e: Omit<HealEvent, "at">, result: string): Promise<void> {
    const event: HealEvent = {
      at: new Date(this.#clock.now()).toISOString(),
      ...e,
      message: e.message.slice(0, 2000),
    };
    this.options.logger.info({ kind: event.kind, node: event.node, result }, event.message);
    this.emit("event", event);
    await this.options.source
      .audit({ ...event, result })
      .catch((err: unknown) =>
        this.options.logger.error({ err: (err as Error).message }, "cannot write the audit log"),
      );
  }
}

function definedOnly<T extends object>(values: T): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined)) as Partial<T>;
}
