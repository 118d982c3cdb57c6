// What an apply reads of the state directory before it acts, each unreadable file treated as absent, and
// how the restarts asked for by several sources merge. Shared by the apply and its rollback.
import type { Logger } from "pino";
import { type PendingAction, type PendingMark, StateCorruptError } from "../state/store.js";
import type { ApplyDeps } from "./types.js";

/** Merges service actions: restart wins over reload. */
export function mergeInto(into: Map<string, PendingAction>, from: Record<string, PendingAction>) {
  for (const [svc, act] of Object.entries(from)) {
    if (into.get(svc) !== "restart") into.set(svc, act);
  }
}

/** A corrupt state file (it cannot be torn: it is written atomically) is logged and treated as absent. */
export async function loadState(deps: ApplyDeps, log: Logger) {
  try {
    return await deps.state.load();
  } catch (e) {
    if (!(e instanceof StateCorruptError)) throw e;
    log.error({ err: e.message }, "state unreadable, ignored");
    return null;
  }
}

export async function readPendingSafe(deps: ApplyDeps, log: Logger): Promise<PendingMark | null> {
  try {
    return await deps.state.readPending();
  } catch (e) {
    if (!(e instanceof StateCorruptError)) throw e;
    log.error({ err: e.message }, "pending mark unreadable, removed");
    await deps.state.clearPending();
    return null;
  }
}
