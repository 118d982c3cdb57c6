// The rollout journal: what a push in flight has done so far, kept in the state directory (rollout.json,
// state/store.ts) so that a coordinator killed in the middle of a rollout finishes it or rolls it back when
// it starts again, instead of leaving the nodes on whatever generation each happened to reach.
//
// Written with the generation when a push is accepted (before any node is sent anything), then after each
// stage begins, each node's apply answers and each gate passes, and removed when the push has ended (rolled
// out, or rolled back). The journal says what was asked; what each node holds is what its agent reports
// when it connects again (the agents, not the journal, are the truth about the nodes).
//
// On start-up (planRecovery):
//   - a journal for a generation current.json never put in force: the push was not accepted, nothing was
//     sent; the journal is dropped.
//   - every node of the push reports the new generation (no apply in flight), and no node had failed: the
//     push is finished: every stage's gate is checked again on what the agents report now, and the
//     generation becomes the good one. A gate that does not pass again in the push's time fails the push.
//   - anything else (a stage not reached, a node that failed or does not report, a rollback that had begun):
//     the push is rolled back by the live rollout's own rollback (the last good generation restored as a
//     new generation, stage by stage, with the same gates).
// Rolling back rather than resuming a half-applied push: the admin who pushed lost the push's output with
// the coordinator, the push's clock (its deadline, when each service restarted) is gone, and the last good
// generation is the one state known to work; the admin pushes again to try once more. A node is never sent a
// generation it holds: the rollback is a new generation for every node, and a finish sends nothing.
import type { NodeStatus, Spec } from "@vmmeet/shared";
import { evaluateGate } from "./gates.js";
import type { Stage } from "./stages.js";

export type JournalNodeState = "waiting" | "sent" | "applied" | "healthy" | "failed";

export interface JournalNode {
  state: JournalNodeState;
  /** When its desired state was sent (ms, the coordinator's clock). */
  sentAt?: number;
  /** Whether its apply (re)started a service: false when it answered "nothing to change". */
  restarted?: boolean;
}

export interface RolloutJournal {
  version: 1;
  /** The generation being rolled out. */
  generation: number;
  /** The last good generation when the push began: what a rollback restores. */
  good: number;
  by: string;
  startedAt: string;
  /** The push's time limit, reused for the recovery. */
  timeoutMs: number;
  /** Whether the deployment was conference-ready when the push began: a rollback must leave it so again. */
  readyBefore: boolean;
  stages: Stage[];
  /** The stage in progress. */
  stage: string | null;
  nodes: Record<string, JournalNode>;
  /** Set once the push failed and its rollback began: the generation that restores `good`. */
  restoring?: number;
}

export function newJournal(
  start: Omit<RolloutJournal, "version" | "stage" | "nodes" | "restoring">,
): RolloutJournal {
  const nodes: Record<string, JournalNode> = {};
  for (const s of start.stages) for (const n of s.nodes) nodes[n] = { state: "waiting" };
  return { version: 1, ...start, stage: null, nodes };
}

/** Checks a journal read back from disk: the fields recovery relies on. */
export function parseJournal(raw: unknown): RolloutJournal {
  const j = raw as Partial<RolloutJournal> | null;
  const int = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0;
  if (
    j?.version !== 1 ||
    !int(j.generation) ||
    !int(j.good) ||
    typeof j.by !== "string" ||
    !int(j.timeoutMs) ||
    !Array.isArray(j.stages) ||
    !j.stages.every((s) => typeof s?.name === "string" && Array.isArray(s.nodes)) ||
    typeof j.nodes !== "object" ||
    j.nodes === null
  )
    throw new Error("not a rollout journal of this version");
  return j as RolloutJournal;
}

/** The push's progress event as a journal update (the events the rollout emits: stage, node, rollback). */
export interface JournalNote {
  kind: string;
  node?: string;
  phase?: string;
  stage?: string;
}

/**
 * Folds one rollout event into the journal; `restoring` is the generation in force when a rollback event
 * arrives (the rollback's new generation). Returns whether anything changed (then the journal is written).
 */
export function noteEvent(j: RolloutJournal, e: JournalNote, now: number, restoring?: number): boolean {
  if (e.kind === "stage" && e.stage !== undefined && j.restoring === undefined) {
    j.stage = e.stage;
    return true;
  }
  if (e.kind === "rollback" && j.restoring === undefined && restoring !== undefined) {
    j.restoring = restoring;
    return true;
  }
  if (e.kind !== "node" || e.node === undefined || j.restoring !== undefined) return false;
  const n = j.nodes[e.node];
  if (!n) return false;
  switch (e.phase) {
    case "applying":
      j.nodes[e.node] = { state: "sent", sentAt: now };
      return true;
    case "restarting":
    case "unchanged":
      n.state = "applied";
      n.restarted = e.phase === "restarting";
      return true;
    case "gating":
      // Its stage's applies all answered; one that restarted nothing and changed files says neither
      // "restarting" nor "unchanged" before its gate.
      if (n.state !== "sent") return false;
      n.state = "applied";
      n.restarted = false;
      return true;
    case "healthy":
      n.state = "healthy";
      return true;
    case "failed":
      n.state = "failed";
      return true;
    default:
      return false;
  }
}

export function journalNodes(j: RolloutJournal): string[] {
  return j.stages.flatMap((s) => s.nodes);
}

export type RecoveryPlan =
  | { action: "discard"; reason: string }
  | { action: "finish"; reason: string }
  | {
      action: "rollback";
      reason: string;
      /** The generation whose push is rolled back (the restore's, when a rollback had begun). */
      failed: number;
      /** Nodes that hold something else than the last good generation: what the rollback changes. */
      changed: string[];
    };

/**
 * What to do with an interrupted push. `desired` is current.json's desired generation; `held` what each node
 * of the push reports now (null: it did not report in time).
 */
export function planRecovery(
  j: RolloutJournal,
  desired: number,
  held: ReadonlyMap<string, number | null>,
): RecoveryPlan {
  const g = j.generation;
  if (desired < g)
    return {
      action: "discard",
      reason: `generation ${g} was stored but never put in force before the coordinator stopped; no node was sent it`,
    };
  const nodes = journalNodes(j);
  const changed = nodes.filter((n) => held.get(n) !== j.good);
  const rollback = (reason: string) =>
    ({ action: "rollback", reason, failed: Math.max(desired, j.restoring ?? 0, g), changed }) as const;
  const where = (list: string[]) =>
    list.map((n) => `${n} (${held.get(n) === null ? "did not report" : `holds ${held.get(n)}`})`).join(", ");
  if (j.restoring !== undefined || desired > g)
    return rollback(
      `the push of generation ${g} had failed and its rollback to generation ${j.good} had begun; it is rolled back again`,
    );
  const failed = nodes.filter((n) => j.nodes[n]?.state === "failed");
  if (failed.length > 0) return rollback(`generation ${g} had failed on ${failed.join(", ")}`);
  const missing = nodes.filter((n) => held.get(n) === null || held.get(n) === undefined);
  if (missing.length > 0) return rollback(`the push of generation ${g} cannot be judged: ${where(missing)}`);
  const behind = nodes.filter((n) => held.get(n) !== g);
  if (behind.length > 0)
    return rollback(
      `the push of generation ${g} stopped ${j.stage ? `in stage ${j.stage}` : "before its first stage"}: ${where(behind)}`,
    );
  return {
    action: "finish",
    reason: `every node holds generation ${g}; its gates are checked again`,
  };
}

/**
 * The gates of every stage, checked together on what the agents report now: the first one that does not
 * pass (null when all do). A bridge the push (re)started, or whose apply's answer was lost with the
 * coordinator, counts only once jicofo logged it joining after its desired state was sent.
 */
export function gatesNow(
  j: RolloutJournal,
  spec: Spec,
  status: (node: string) => NodeStatus | null,
  now: number,
): { node: string; waitingFor: string } | null {
  const restartedSince = new Map<string, number>();
  for (const [node, n] of Object.entries(j.nodes))
    if (n.sentAt !== undefined && n.restarted !== false) restartedSince.set(node, n.sentAt);
  for (const stage of j.stages)
    for (const node of stage.nodes) {
      const r = evaluateGate(stage.gate, spec, status, node, { restartedSince, now });
      if (!r.passed) return { node, waitingFor: r.failed ?? r.waitingFor };
    }
  return null;
}
