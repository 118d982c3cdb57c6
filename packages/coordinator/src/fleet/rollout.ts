// The rollout: a stored generation sent to its nodes stage by stage in the paper's order (fleet/stages.ts),
// each stage gated on health (fleet/gates.ts) with the dependents of a restarted service given their recovery
// window (fleet/recovery.ts), and on a failure the rollback to the last good generation. Time is the injected
// clock (Clock of @vmmeet/node).
//
// `apply` is the one way the coordinator asks an agent to apply a desired state and reads its answer: the
// push and the rollback here, the catch-up of a node that says hello behind the generation in force
// (server/daemon.ts), the heal schedule's re-push (fleet/heal.ts) and, through the rollback, the recovery of
// an interrupted push (fleet/interrupted.ts).
import { isDeepStrictEqual } from "node:util";
import type { Clock } from "@vmmeet/node";
import type { NodeDesired, Spec } from "@vmmeet/shared";
import type { NodePhase, PushEvent, PushOutcome } from "../admin/methods.js";
import type { GenerationRecord, StateStore } from "../state/store.js";
import type { ApplyResult, Fleet } from "./fleet.js";
import { DEPENDENCY_SERVICES, DEPENDENT_SERVICES, dependentsOf, type Recovery } from "./recovery.js";
import { rolloutStages } from "./stages.js";
import { buildStatus } from "./status.js";
import { FleetWait } from "./wait.js";

/** What the rollout uses of the fleet: the nodes' reports and links, their changes, and requests. */
export type RolloutFleet = Pick<Fleet, "nodes" | "connected" | "request" | "on" | "off">;
/** What the rollout writes to the state directory: generations, current.json, the audit log. */
export type RolloutStore = Pick<StateStore, "loadGeneration" | "saveGeneration" | "setCurrent" | "audit">;

/** A node's answer to a desired state: applied, or why not. */
export type Applied =
  | { ok: true; result: ApplyResult }
  | {
      ok: false;
      /** The agent's error or its failed items; or why no answer came (not connected, dropped, timed out, refused). */
      problem: string;
      /** The apply result, null when none came. */
      result: ApplyResult | null;
    };

export type RolloutEmit = (e: Omit<PushEvent, "at" | "generation">) => void;

/** One push's rollout, or the rollback of an interrupted one. */
export interface RolloutRun {
  by: string;
  timeoutMs: number;
  emit: RolloutEmit;
  /** The last good generation when the push began: what a failure restores. */
  good: number;
  /** Whether the deployment was conference-ready when the push began: a rollback must leave it so again. */
  readyBefore: boolean;
}

export interface RolloutOptions {
  fleet: RolloutFleet;
  store: RolloutStore;
  clock: Clock;
  /** How long one node may take to answer a desired-state frame. */
  applyTimeoutMs?: number;
  /** A rollback stored `record` and made it the generation in force (current.json): the core's to hold. */
  inForce: (record: GenerationRecord) => void;
}

export const DEFAULT_APPLY_TIMEOUT_MS = 120_000;

/** Why an apply result is not a success, in one line (null when it is): the agent's error or its failed items. */
export function applyProblem(res: ApplyResult): string | null {
  if (res.ok) return null;
  if (res.error) return res.error;
  const bad = res.items
    .filter((i) => i.status === "failed" || i.status === "refused")
    .map((i) => `${i.kind} ${i.target}: ${i.status}${i.detail ? ` (${i.detail})` : ""}`);
  return bad.length > 0 ? bad.join("; ") : "no item failed, yet the apply did not succeed";
}

export class Rollout {
  readonly wait: FleetWait;

  constructor(private readonly options: RolloutOptions) {
    this.wait = new FleetWait(options.fleet, options.clock);
  }

  /**
   * Sends `desired` as `generation` to `node` and reads its answer. Never rejects: a node that is not
   * connected or drops, does not answer within `timeoutMs`, or answers with an error frame or another frame
   * (fleet.ts ReplyError) is a problem like a failed item.
   */
  async apply(
    node: string,
    generation: number,
    desired: NodeDesired,
    timeoutMs: number = this.options.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS,
  ): Promise<Applied> {
    try {
      const result = await this.options.fleet.request(
        node,
        { type: "desired", generation, desired },
        timeoutMs,
      );
      const problem = applyProblem(result);
      return problem === null ? { ok: true, result } : { ok: false, problem, result };
    } catch (err) {
      return { ok: false, problem: (err as Error).message, result: null };
    }
  }

  /** The deployment verdict over what the agents report, against `spec`. */
  verdict(spec: Spec, generation: number) {
    return buildStatus(spec, generation, this.options.fleet.nodes, new Date(this.options.clock.now()), null)
      .verdict;
  }

  /**
   * Rolls `record` out stage by stage; a stage starts once the stages it depends on passed their gates. On
   * the first failure the push stops and the last good generation is restored (rollback below).
   * `previous` is the generation in force before: a node that reports it and whose desired state is
   * unchanged has nothing to apply.
   */
  run(record: GenerationRecord, r: RolloutRun, previous: GenerationRecord | null): Promise<PushOutcome> {
    return this.#stages(record, r, previous);
  }

  async #stages(
    record: GenerationRecord,
    r: RolloutRun,
    previous: GenerationRecord | null,
    /** This rollout restores `good` after `failed` failed: no rollback of its own. */
    restoring?: { failed: number },
  ): Promise<PushOutcome> {
    const { fleet, clock } = this.options;
    const { good, emit } = r;
    const { generation, spec } = record;
    const phases: Record<string, NodePhase> = {};
    const stages = rolloutStages(spec);
    for (const s of stages) for (const n of s.nodes) phases[n] = "waiting";
    const setPhase = (node: string, phase: NodePhase, message: string) => {
      phases[node] = phase;
      emit({ kind: "node", node, phase, message });
    };
    const deadline = clock.now() + r.timeoutMs;
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
      const connected = restoring ? fleet.connected(node) : await this.wait.connected(node, deadline);
      if (!connected)
        return {
          node,
          error: `${node} is not connected (last seen ${fleet.nodes.get(node)?.lastSeen ?? "never"})`,
        };
      mark("applying", `applying generation ${generation}`);
      const sentAt = clock.now();
      const applied = await this.apply(
        node,
        generation,
        record.nodes[node]!,
        Math.max(
          1000,
          Math.min(deadline - clock.now(), this.options.applyTimeoutMs ?? DEFAULT_APPLY_TIMEOUT_MS),
        ),
      );
      const res = applied.result;
      if (res && !res.unchanged) changed.push(node);
      if (!applied.ok) return { node, error: res ? `apply failed: ${applied.problem}` : applied.problem };
      const restarted = applied.result.items.some((i) => i.status === "restarted" || i.status === "started");
      if (restarted) restartedSince.set(node, sentAt);
      const own = applied.result.items.find(
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
        applied.result.items
          .filter((i) => i.kind === "service" && i.status === "restarted")
          .map((i) => i.target),
        sentAt,
      );
      if (restarted) mark("restarting", "applied; services restarted");
      else if (applied.result.unchanged) mark("unchanged", "nothing to change");
      return { node, error: null };
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
      const failedApply = results.find((x) => x.error);
      if (failedApply) {
        for (const x of results) if (x.error) setPhase(x.node, "failed", x.error);
        fail(`${failedApply.node}: ${failedApply.error}`);
        return false;
      }
      if (stop.signal.aborted) return false;
      for (const node of stage.nodes) setPhase(node, "gating", `waiting for ${stage.gate}`);
      const gateError = await this.wait.gate(
        stage.gate,
        spec,
        stage.nodes,
        deadline,
        { restartedSince, recovering: new Map([...recovering, ...selfStarted]) },
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
    const asideFailed = (await Promise.all(aside)).find((x) => x.error);
    if (!failure && asideFailed) {
      setPhase(asideFailed.node, "failed", asideFailed.error!);
      failure = `${asideFailed.node}: ${asideFailed.error}`;
    }
    if (restoring) {
      return failure
        ? { ok: false, generation, message: failure, nodes: phases }
        : { ok: true, generation, message: `generation ${good} restored as ${generation}`, nodes: phases };
    }
    const { store } = this.options;
    if (!failure) {
      await store.setCurrent({ desired: generation, good: generation });
      await store.audit({
        kind: "push-succeeded",
        by: r.by,
        generation,
        result: "ok",
        message: `generation ${generation} rolled out; every gate passed`,
      });
      emit({ kind: "done", message: `generation ${generation} rolled out` });
      return { ok: true, generation, message: `generation ${generation} rolled out`, nodes: phases };
    }
    await store.audit({ kind: "push-failed", by: r.by, generation, result: "failed", message: failure });
    const rolled = await this.rollback(record, changed, r, (node) =>
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
   * Restores the last good generation (`r.good`) after `failed`: a rollout of its content as a new
   * generation (agents never go back in numbers), stage by stage with the same gates and recovery windows,
   * so that prosody is healthy before jicofo and the bridges are judged. Nodes the failed push did not
   * change have nothing to apply. Then it waits until the deployment is conference-ready again (when it was
   * before); when the restore or that wait fails, the message says so plainly. `restored` hears each node
   * of `changed` that is healthy on the good generation again.
   */
  async rollback(
    failed: GenerationRecord,
    changed: string[],
    r: RolloutRun,
    restored: (node: string) => void = () => undefined,
  ): Promise<{ to?: number; message: string }> {
    const { store, clock } = this.options;
    const { good, emit } = r;
    const target = await store.loadGeneration(good);
    if (!target) {
      await store.audit({
        kind: "rollback-skipped",
        by: r.by,
        generation: failed.generation,
        message: "no earlier good generation to restore",
      });
      return { message: "no earlier good generation to roll back to" };
    }
    const generation = failed.generation + 1;
    const record: GenerationRecord = {
      ...target,
      generation,
      createdAt: new Date(clock.now()).toISOString(),
      by: `${r.by} (rollback of ${failed.generation} to ${good})`,
    };
    await store.saveGeneration(record);
    await store.setCurrent({ desired: generation, good: generation });
    this.options.inForce(record);
    emit({
      kind: "rollback",
      message: `restoring generation ${good} as ${generation} on ${changed.join(", ") || "no node (none had changed)"}`,
    });
    const res = await this.#stages(record, r, target, { failed: failed.generation });
    for (const node of changed) if (res.nodes[node] === "healthy") restored(node);
    let message: string;
    let ok = res.ok;
    if (!ok) {
      message = `the ROLLBACK FAILED too: generation ${good} could not be restored (${res.message}); the deployment needs attention (vmmeet status)`;
    } else if (r.readyBefore) {
      const ready = await this.#waitConferenceReady(record.spec, generation, clock.now() + r.timeoutMs);
      ok = ready.ok;
      message = ready.ok
        ? `rolled back to generation ${good}; conference-ready again`
        : `rolled back to generation ${good}, but the deployment is NOT conference-ready: ${ready.reasons}`;
    } else {
      const v = this.verdict(record.spec, generation);
      message = `rolled back to generation ${good} (the deployment was not conference-ready before the push either; now ${v.verdict})`;
    }
    emit({ kind: "rollback", message });
    await store.audit({ kind: "rollback", by: r.by, generation, result: ok ? "ok" : "failed", message });
    return { to: good, message };
  }

  /** Waits (until `deadline`) for the verdict conference-ready over what the agents report. */
  async #waitConferenceReady(
    spec: Spec,
    generation: number,
    deadline: number,
  ): Promise<{ ok: boolean; reasons: string }> {
    const ready = () => this.verdict(spec, generation).verdict === "conference-ready";
    const ok = await this.wait.until(ready, deadline, 1000);
    return { ok, reasons: ok ? "" : this.verdict(spec, generation).reasons.join("; ") };
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
    if (!before || this.options.fleet.nodes.get(node)?.status?.generation !== good) return false;
    return isDeepStrictEqual(before, desired);
  }
}
