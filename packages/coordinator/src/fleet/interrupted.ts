// The push a coordinator was killed in the middle of, dealt with when it starts again: once every node of
// the push has reported what it holds (or the push's time is up), it is finished or rolled back by
// fleet/journal.ts's rules, with the live rollout's gates and rollback. What was found and what was done go
// to the audit log (`vmmeet events`) and the push feed.

import type { Clock } from "@vmmeet/node";
import type { NodeStatus } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { PushOutcome } from "../admin/methods.js";
import type { GenerationRecord, StateStore } from "../state/store.js";
import type { Fleet } from "./fleet.js";
import { gatesNow, journalNodes, planRecovery, type RolloutJournal } from "./journal.js";
import type { RolloutEmit } from "./rollout.js";

export interface RecoveryDeps {
  fleet: Pick<Fleet, "nodes" | "connected">;
  store: Pick<StateStore, "current" | "audit" | "setCurrent" | "loadGeneration" | "dir">;
  logger: Logger;
  /** The coordinator's clock: the push's time limit runs from the recovery's start on it. */
  clock: Pick<Clock, "now">;
  /** The generation in force (current.json's desired one). */
  current: () => GenerationRecord | null;
  /** What nodes.json said of each node before the restart: not a report of now. */
  restored: ReadonlyMap<string, NodeStatus | null>;
  /** Resolves true once cond() holds (re-checked on every fleet change, and every tickMs), false at deadline. */
  waitFor: (cond: () => boolean, deadline: number, tickMs?: number) => Promise<boolean>;
  /** The coordinator is stopping: the recovery ends where it waits, and the journal stays for the next start. */
  stopping: () => boolean;
  emit: RolloutEmit;
  /** Says in `vmmeet status` what the recovery does ("finishing it", "rolling it back"). */
  describe: (doing: string) => void;
  /** The live rollout's rollback of `failed` to the journal's good generation (fleet/rollout.ts). */
  rollback: (failed: GenerationRecord, changed: string[]) => Promise<{ to?: number; message: string }>;
}

export async function recoverInterruptedPush(
  j: RolloutJournal,
  d: RecoveryDeps,
): Promise<PushOutcome | null> {
  const g = j.generation;
  const nodes = journalNodes(j);
  const deadline = d.clock.now() + j.timeoutMs;
  const statusOf = (n: string) => d.fleet.nodes.get(n)?.status ?? null;
  // A report from before the restart (nodes.json), or taken during an apply, says nothing of the end state.
  const reported = (n: string) => {
    const st = statusOf(n);
    return d.fleet.connected(n) && st !== null && st !== d.restored.get(n) && st.applying === null;
  };
  const wait = async (cond: () => boolean) =>
    (await d.waitFor(() => d.stopping() || cond(), deadline, 1000)) && !d.stopping();
  await wait(() => nodes.every(reported));
  if (d.stopping()) return null;
  const held = new Map(nodes.map((n) => [n, reported(n) ? (statusOf(n)?.generation ?? null) : null]));
  const plan = planRecovery(j, (await d.store.current()).desired, held);
  const holds = [...held].map(([n, h]) => `${n} holds ${h ?? "? (no report)"}`).join(", ");
  const found = `the coordinator stopped during the push of generation ${g} by ${j.by}; on restart, ${holds}: ${plan.reason}`;
  d.logger.warn({ generation: g, action: plan.action }, found);
  await d.store.audit({ kind: "push-interrupted", by: j.by, generation: g, message: found });
  if (plan.action === "discard") return null;
  let failure = plan.reason;
  let changed = nodes;
  let failed = g;
  if (plan.action === "rollback") ({ changed, failed } = plan);
  const cur = d.current();
  if (plan.action === "finish" && cur?.generation === g) {
    d.describe("finishing it");
    // The moments the push restarted each service are gone with it: a dependent still reconnecting cannot
    // be told from a failed one, so no gate fails early; each must pass by the push's deadline.
    const passed = await wait(() => gatesNow(j, cur.spec, statusOf, d.clock.now()) === null);
    if (d.stopping()) return null;
    if (passed) {
      await d.store.setCurrent({ desired: g, good: g });
      const message = `generation ${g} rolled out: the push interrupted by the coordinator's restart was finished (every node held it, every gate passed again)`;
      await d.store.audit({ kind: "push-succeeded", by: j.by, generation: g, result: "ok", message });
      d.emit({ kind: "done", message });
      return {
        ok: true,
        generation: g,
        message,
        nodes: Object.fromEntries(nodes.map((n) => [n, "healthy"])),
      };
    }
    const stuck = gatesNow(j, cur.spec, statusOf, d.clock.now());
    failure = `its gates did not pass again after the restart (${stuck ? `${stuck.node}: ${stuck.waitingFor}` : "?"})`;
  }
  d.describe("rolling it back");
  await d.store.audit({
    kind: "push-failed",
    by: j.by,
    generation: g,
    result: "failed",
    message: `interrupted by a coordinator restart: ${failure}`,
  });
  const record = await d.store.loadGeneration(failed);
  if (!record) throw new Error(`generation ${failed} is missing from ${d.store.dir}/generations`);
  const rolled = await d.rollback(record, changed);
  const message = `generation ${g}, interrupted by a coordinator restart, rolled back: ${failure}; ${rolled.message}`;
  d.emit({ kind: "done", message });
  return {
    ok: false,
    generation: g,
    ...(rolled.to ? { rolledBackTo: rolled.to } : {}),
    message,
    nodes: Object.fromEntries(nodes.map((n) => [n, changed.includes(n) ? "rolled-back" : "unchanged"])),
  };
}
