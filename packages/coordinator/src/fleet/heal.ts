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
// heal-alarm, heal-alarm-cleared). The decisions are pure functions below; HealScheduler does the I/O.
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import {
  type ComponentHealth,
  DEFAULT_GRACE_SECONDS,
  type NodeDesired,
  type NodeRole,
  type NodeStatus,
  type Spec,
} from "@vmmeet/shared";
import { schedule as cronSchedule, validate as cronValidate, type ScheduledTask } from "node-cron";
import type { Logger } from "pino";
import type { CoordinatorCore } from "../server/coordinator.js";
import { applyDesired, applyProblem } from "./apply.js";
import { rolloutStages } from "./stages.js";

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

export type DeploymentVerdictName = "conference-ready" | "degraded" | "down";
export interface NodeHealthView {
  node: string;
  role: NodeRole;
  health: readonly ComponentHealth[];
}
/** @vmmeet/shared's deploymentVerdict, injected (it answers "can a conference happen now?"). */
export type VerdictFn = (nodes: readonly NodeHealthView[]) => {
  verdict: DeploymentVerdictName;
  reasons: string[];
};

/**
 * Restarts a service on another node. The protocol has no frame for it yet (coordinatorToAgent.ts); the
 * agent side is Healer.restartService. Without one, a due repair is recorded as "heal-repair-needed".
 */
export type RemoteRestart = (node: string, service: string, reason: string) => Promise<boolean>;

export interface HealEvent {
  at: string;
  kind: string;
  node?: string;
  generation?: number;
  message: string;
}

// --- pure decisions ----------------------------------------------------------------------------------

export interface NodeView {
  node: string;
  role: NodeRole;
  connected: boolean;
  status: NodeStatus | null;
}

export interface Reassert {
  node: string;
  why: "lagging" | "drift";
  detail: string;
}

function bytesOf(f: NodeDesired["files"][number]): Buffer {
  return f.encoding === "base64" ? Buffer.from(f.content, "base64") : Buffer.from(f.content, "utf8");
}

/** Files whose reported hash or mode differs from the rendered entry (paths only: never content). */
export function driftedFiles(desired: NodeDesired, status: NodeStatus): string[] {
  const seen = new Map(status.files.map((f) => [f.path, f]));
  const out: string[] = [];
  for (const f of desired.files) {
    const s = seen.get(f.path);
    const want = createHash("sha256").update(bytesOf(f)).digest("hex");
    if (!s || s.sha256 !== want || s.mode !== f.mode) out.push(f.path);
  }
  return out;
}

/**
 * Which connected nodes need the generation in force again, in the given order: behind it, or at it but
 * reporting files that differ (an agent without a healer, or one whose repair failed). A node in the middle
 * of an apply is left alone.
 */
export function reassertPlan(
  order: readonly string[],
  generation: number,
  desired: Readonly<Record<string, NodeDesired>>,
  nodes: ReadonlyMap<string, NodeView>,
): Reassert[] {
  const out: Reassert[] = [];
  for (const name of order) {
    const d = desired[name];
    const n = nodes.get(name);
    if (!d || !n?.connected) continue;
    const st = n.status;
    if (st?.applying != null) continue;
    const applied = st?.generation ?? 0;
    if (applied < generation) {
      out.push({ node: name, why: "lagging", detail: `applied ${applied}, in force ${generation}` });
      continue;
    }
    if (st && applied === generation) {
      const drift = driftedFiles(d, st);
      if (drift.length > 0)
        out.push({ node: name, why: "drift", detail: `files differ: ${drift.join(", ")}` });
    }
  }
  return out;
}

/** The signals of jicofo and jvb that say they lost prosody (agent health/rules.ts names). */
export const LOST_PROSODY: ReadonlySet<string> = new Set([
  "xmpp-not-connected",
  "xmpp-connection-refused",
  "xmpp-connect-failed",
]);

export interface CrossRepair {
  node: string;
  service: string;
  reason: string;
}

export interface CrossNodeInput {
  nodes: readonly NodeView[];
  now: number;
  /** ServiceEntry.graceSeconds of that node's service, in ms. */
  graceMs: (node: string, service: string) => number;
  /** When this coordinator last restarted that service (ms), if it did. */
  lastRepair: (node: string, service: string) => number | null;
}

const CLIENTS: readonly { role: NodeRole; component: ComponentHealth["component"]; service: string }[] = [
  { role: "jicofo", component: "jicofo", service: "jicofo" },
  { role: "jvb", component: "jvb", service: "jvb" },
];

/**
 * Cross-node repairs due now, one stage at a time in the paper's order: nothing while prosody is not
 * healthy (no client can log in; the xmpp node's agent restarts prosody itself), then the jicofo nodes
 * that still have lost prosody a grace period after prosody came up, and the bridges only once no jicofo
 * is being repaired or still starting. A service restarted since prosody came up is not restarted again
 * for the same outage.
 */
export function crossNodeRepairs(input: CrossNodeInput): CrossRepair[] {
  const prosody = input.nodes
    .filter((n) => n.role === "xmpp")
    .flatMap((n) => (n.status?.health ?? []).filter((h) => h.component === "prosody"))
    .find((h) => h.state === "healthy");
  if (!prosody) return [];
  const upSince = Date.parse(prosody.since);
  for (const c of CLIENTS) {
    const due: CrossRepair[] = [];
    let waiting = false;
    for (const n of input.nodes) {
      if (n.role !== c.role) continue;
      const h = n.status?.health.find((x) => x.component === c.component);
      if (!h) continue;
      if (h.state === "starting") {
        waiting = true;
        continue;
      }
      if (h.state === "healthy") continue;
      const lost = h.signals.find((s) => LOST_PROSODY.has(s.signal) && s.label === "failed");
      if (!lost) continue;
      const grace = input.graceMs(n.node, c.service);
      const last = input.lastRepair(n.node, c.service);
      if (input.now - upSince < grace) {
        waiting = true;
        continue;
      }
      if (last !== null && last >= upSince) {
        // Restarted for this outage already; give it its grace period before the next stage goes.
        if (input.now - last < grace) waiting = true;
        continue;
      }
      if (!n.connected) continue;
      due.push({
        node: n.node,
        service: c.service,
        reason: `${c.component} on ${n.node} has not reconnected to prosody (${lost.signal}) ${Math.round((input.now - upSince) / 1000)} s after prosody came up`,
      });
    }
    if (due.length > 0) return due;
    if (waiting) return [];
  }
  return [];
}

export interface AlarmState {
  downSince: number | null;
  raised: boolean;
  reasons: string[];
}

export const NO_ALARM: AlarmState = { downSince: null, raised: false, reasons: [] };

/** Raised once the verdict has been "down" for afterMs; cleared by any other verdict. */
export function alarmStep(
  prev: AlarmState,
  verdict: { verdict: DeploymentVerdictName; reasons: string[] },
  now: number,
  afterMs: number,
): { state: AlarmState; change: "raised" | "cleared" | null } {
  if (verdict.verdict !== "down") return { state: NO_ALARM, change: prev.raised ? "cleared" : null };
  const downSince = prev.downSince ?? now;
  if (!prev.raised && now - downSince >= afterMs)
    return { state: { downSince, raised: true, reasons: verdict.reasons }, change: "raised" };
  return { state: { downSince, raised: prev.raised, reasons: verdict.reasons }, change: null };
}

// --- the scheduler -----------------------------------------------------------------------------------

export interface HealSchedulerOptions {
  core: CoordinatorCore;
  logger: Logger;
  /** Overrides of the spec's operations.heal (and the timeouts); tests shorten them. */
  tuning?: Partial<HealTuning>;
  verdict?: VerdictFn;
  restart?: RemoteRestart;
  random?: () => number;
}

export interface HealReport {
  repushed: { node: string; why: Reassert["why"]; ok: boolean }[];
  repairs: CrossRepair[];
  verdict: DeploymentVerdictName | null;
}

const HOUR_MS = 3_600_000;

export class HealScheduler extends EventEmitter<{ event: [HealEvent] }> {
  #task: ScheduledTask | null = null;
  #schedule: string | null = null;
  #jitterTimer: NodeJS.Timeout | null = null;
  #ticking: Promise<HealReport> | null = null;
  #alarm: AlarmState = NO_ALARM;
  /** Per node: failed re-pushes of a generation in a row and when the next may go. */
  readonly #backoff = new Map<string, { generation: number; failures: number; nextAt: number }>();
  readonly #repairs = new Map<string, number[]>();
  readonly #needed = new Map<string, number>();
  #stopped = false;
  #startedAt = 0;

  constructor(private readonly o: HealSchedulerOptions) {
    super();
  }

  /** The spec's operations.heal with the options' overrides. */
  get tuning(): HealTuning {
    const spec: Spec | undefined = this.o.core.current?.spec;
    const fromSpec = spec?.operations.heal ?? {};
    const t = { ...DEFAULT_HEAL_TUNING, ...fromSpec, ...definedOnly(this.o.tuning ?? {}) };
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
    this.#startedAt = Date.now();
    this.reconfigure();
  }

  /** Re-reads the schedule (a push may have changed the spec) and re-creates the cron task if it changed. */
  reconfigure(): void {
    if (this.#stopped) return;
    const expr = this.tuning.schedule;
    if (expr === this.#schedule && this.#task) return;
    if (!cronValidate(expr)) {
      this.o.logger.error(
        { schedule: expr },
        "operations.heal.schedule is not a valid cron expression; keeping the old one",
      );
      if (!this.#task) this.#install(DEFAULT_HEAL_TUNING.schedule);
      return;
    }
    this.#install(expr);
  }

  #install(expr: string): void {
    void this.#task?.destroy();
    this.#schedule = expr;
    const log = this.o.logger;
    this.#task = cronSchedule(expr, () => this.#fire(), {
      name: "vmmeet-heal",
      noOverlap: true,
      // node-cron's own messages (missed runs) go to our log, not the console.
      logger: {
        info: (m) => log.debug({ cron: m }, "node-cron"),
        warn: (m) => log.debug({ cron: m }, "node-cron"),
        error: (m) => log.warn({ cron: String(m) }, "node-cron"),
        debug: (m) => log.debug({ cron: String(m) }, "node-cron"),
      },
    });
  }

  /**
   * Idempotent: no cron task and no jitter timer afterwards. A tick in progress is not awaited: it stops at
   * its next step, and its requests fail when the agent server closes the links.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#jitterTimer) clearTimeout(this.#jitterTimer);
    this.#jitterTimer = null;
    await this.#task?.destroy();
    this.#task = null;
  }

  #fire(): void {
    if (this.#stopped || this.#jitterTimer) return;
    if (Date.now() - this.#startedAt < this.tuning.settleSeconds * 1000) return;
    const jitterMs = Math.round((this.o.random ?? Math.random)() * this.tuning.jitterSeconds * 1000);
    this.#jitterTimer = setTimeout(() => {
      this.#jitterTimer = null;
      this.tick().catch((err: unknown) =>
        this.o.logger.error({ err: (err as Error).message }, "heal tick failed"),
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
    const cur = this.o.core.current;
    if (cur && !this.#stopped) {
      const order = nodeOrder(cur.spec, Object.keys(cur.nodes));
      await this.#refresh(order);
      if (!this.o.core.pushRunning) await this.#reassert(cur.generation, cur.nodes, order, report);
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
    for (const [name, live] of this.o.core.fleet.nodes) {
      const role = roles.get(name);
      if (!role) continue;
      out.set(name, { node: name, role, connected: this.o.core.fleet.connected(name), status: live.status });
    }
    return out;
  }

  /** Fresh snapshots from every connected node (in parallel); a node that does not answer keeps its last. */
  async #refresh(order: readonly string[]): Promise<void> {
    const { snapshotTimeoutMs } = this.tuning;
    await Promise.all(
      order
        .filter((n) => this.o.core.fleet.connected(n))
        .map((node) =>
          this.o.core.fleet
            .request(node, { type: "snapshot-request" }, snapshotTimeoutMs)
            .catch((err: unknown) =>
              this.o.logger.debug(
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
    const core = this.o.core;
    const plan = reassertPlan(order, generation, desired, this.#views(core.current?.spec ?? null));
    for (const r of plan) {
      if (this.#stopped || core.pushRunning || core.current?.generation !== generation) return;
      const now = Date.now();
      const b = this.#backoff.get(r.node);
      if (b && b.generation === generation && now < b.nextAt) continue;
      let ok = false;
      let problem = "";
      try {
        const reply = await applyDesired(
          core.fleet,
          r.node,
          generation,
          desired[r.node]!,
          this.tuning.applyTimeoutMs,
        );
        problem = applyProblem(reply) ?? "";
        ok = reply.ok;
      } catch (err) {
        problem = (err as Error).message;
      }
      if (ok) this.#backoff.delete(r.node);
      else {
        const failures = b && b.generation === generation ? b.failures + 1 : 1;
        // 1, 2, 4 ... minutes, at most an hour: the node's own healer and the admin get time.
        this.#backoff.set(r.node, {
          generation,
          failures,
          nextAt: now + Math.min(HOUR_MS, 60_000 * 2 ** (failures - 1)),
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
    const now = Date.now();
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
      if (!this.o.restart) {
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
        ok = await this.o.restart(r.node, r.service, r.reason);
      } catch (err) {
        this.o.logger.warn(
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

  #evaluateAlarm(spec: Spec): DeploymentVerdictName | null {
    if (!this.o.verdict) return null;
    const views = [...this.#views(spec).values()].map((v) => ({
      node: v.node,
      role: v.role,
      health: v.status?.health ?? [],
    }));
    const v = this.o.verdict(views);
    const now = Date.now();
    const { state, change } = alarmStep(this.#alarm, v, now, this.tuning.alarmAfterSeconds * 1000);
    this.#alarm = state;
    if (change === "raised") {
      this.o.logger.error(
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
    const event: HealEvent = { at: new Date().toISOString(), ...e, message: e.message.slice(0, 2000) };
    this.o.logger.info({ kind: event.kind, node: event.node, result }, event.message);
    this.emit("event", event);
    await this.o.core.store
      .audit({ ...event, result })
      .catch((err: unknown) =>
        this.o.logger.error({ err: (err as Error).message }, "cannot write the audit log"),
      );
  }
}

/** Nodes in rollout order (host, xmpp, jicofo and bridges, web), then any others the generation has. */
export function nodeOrder(spec: Spec, names: readonly string[]): string[] {
  const out = rolloutStages(spec).flatMap((s) => s.nodes);
  for (const n of names) if (!out.includes(n)) out.push(n);
  return out.filter((n) => names.includes(n));
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
