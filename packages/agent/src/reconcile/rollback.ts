// Undoing one apply (its files back from the backups, their services restarted or reloaded) and finishing
// the restarts an interrupted apply left pending.
import type { ServiceEntry } from "@vmmeet/shared";
import type { PendingAction } from "../state/store.js";
import { converge } from "./converge.js";
import { loadState, mergeInto, readPendingSafe } from "./persisted.js";
import { type ApplyDeps, errText, type FileItem, type RollbackResult, type ServiceItem } from "./types.js";

/**
 * Restores the files the apply of `generation` replaced (or removes the ones it created) and restarts or
 * reloads the services their notify lists named. The persisted state goes back to the desired state
 * enforced before that generation; the generation number stays (the coordinator sends a newer one next).
 */
export async function rollback(generation: number, deps: ApplyDeps): Promise<RollbackResult> {
  const log = deps.log.child({ rollback: generation });
  const backups = await deps.files.backups(generation);
  if (backups.length === 0) return { outcome: "nothing", generation, files: [], services: [] };
  const todo = new Map<string, PendingAction>();
  for (const b of backups) mergeInto(todo, b.services);
  const state = await loadState(deps, log);
  const undoesCurrent = state !== null && state.generation >= generation;
  const target = undoesCurrent ? (state.previous?.desired ?? null) : null;
  // The state first, then the pending mark, then the files: a crash in between makes start-up converge
  // to the rolled-back state and finish the restarts, instead of re-applying what is being undone.
  if (undoesCurrent) {
    await deps.state.save({ generation: state.generation, desired: target, complete: true, previous: null });
  }
  await deps.state.writePending({ generation, services: Object.fromEntries(todo) });
  const files: FileItem[] = [];
  for (const b of backups) {
    try {
      await deps.files.restore(b);
      files.push({
        kind: "file",
        path: b.path,
        status: "written",
        change: b.existed ? "content" : "created",
      });
    } catch (e) {
      files.push({ kind: "file", path: b.path, status: "failed", detail: errText(e) });
    }
  }
  const desiredServices: ServiceEntry[] = target?.services ?? state?.desired?.services ?? [];
  const orderOf = new Map(desiredServices.map((s) => [s.name, s.order]));
  const names = [...todo.keys()].sort((a, b) => (orderOf.get(a) ?? -1) - (orderOf.get(b) ?? -1));
  const services: ServiceItem[] = [];
  for (const name of names) {
    const it: ServiceItem = { kind: "service", name, status: "unchanged", steps: [] };
    await converge(name, it, deps, log, {
      action: todo.get(name),
      startIfStopped: orderOf.has(name),
      ctx: { generation: state?.generation ?? generation, desired: target },
    });
    services.push(it);
  }
  await deps.state.clearPending();
  const failed = files.some((f) => f.status === "failed") || services.some((s) => s.status === "failed");
  log.info({ failed }, "rollback finished");
  return { outcome: failed ? "failed" : "rolled-back", generation, files, services };
}

/** Finishes an interrupted job when there is no desired state to re-apply: the pending restarts only. */
export async function finishPending(deps: ApplyDeps): Promise<ServiceItem[]> {
  const pending = await readPendingSafe(deps, deps.log);
  if (!pending) return [];
  const items: ServiceItem[] = [];
  for (const [name, act] of Object.entries(pending.services)) {
    const it: ServiceItem = { kind: "service", name, status: "unchanged", steps: [] };
    await converge(name, it, deps, deps.log, {
      action: act,
      startIfStopped: false,
      ctx: { generation: pending.generation, desired: null },
    });
    items.push(it);
  }
  await deps.state.clearPending();
  return items;
}
