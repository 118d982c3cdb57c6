// Sending a node the desired state of a generation: the one way a push, a rollback, the catch-up of a
// reconnecting node and the heal schedule's re-push ask an agent to apply, and read its answer.
import type { NodeDesired } from "@vmmeet/shared";
import type { ApplyResult, Fleet } from "./fleet.js";

/**
 * Sends `desired` as `generation` and resolves with the node's apply result (ok or not). Rejects when no apply
 * result comes: the node is not connected or drops, does not answer within `timeoutMs`, or answers with an
 * error frame or another frame type (a ReplyError naming the node).
 */
export function applyDesired(
  fleet: Pick<Fleet, "request">,
  node: string,
  generation: number,
  desired: NodeDesired,
  timeoutMs: number,
): Promise<ApplyResult> {
  return fleet.request(node, { type: "desired", generation, desired }, timeoutMs);
}

/** Why an apply result is not a success, in one line (null when it is): the agent's error or its failed items. */
export function applyProblem(res: ApplyResult): string | null {
  if (res.ok) return null;
  if (res.error) return res.error;
  const bad = res.items
    .filter((i) => i.status === "failed" || i.status === "refused")
    .map((i) => `${i.kind} ${i.target}: ${i.status}${i.detail ? ` (${i.detail})` : ""}`);
  return bad.length > 0 ? bad.join("; ") : "no item failed, yet the apply did not succeed";
}
