// The coordinator's live events in one shape (what `vmmeet events --follow` and the status page show):
// agents' events (repairs, refusals), the push's events, the heal schedule's events.
import type { AgentEvent } from "@vmmeet/shared";
import type { HealEvent, HealScheduler } from "../fleet/heal.js";
import type { CoordinatorCore, PushEvent } from "./coordinator.js";

export interface FeedEvent {
  at: string;
  kind: string;
  node?: string;
  generation?: number;
  message: string;
}

/** Calls `emit` for every live event until the returned function is called. */
export function followEvents(
  core: CoordinatorCore,
  heal: HealScheduler | null,
  emit: (e: FeedEvent) => void,
): () => void {
  const onEvent = (node: string, event: AgentEvent) =>
    emit({ at: event.at, kind: `agent-${event.kind}`, node, message: event.message });
  const onPush = (e: PushEvent) =>
    emit({
      at: e.at,
      kind: `push-${e.kind}`,
      ...(e.node ? { node: e.node } : {}),
      generation: e.generation,
      message: e.message,
    });
  const onHeal = (e: HealEvent) => emit(e);
  core.fleet.on("event", onEvent);
  heal?.on("event", onHeal);
  core.on("push", onPush);
  return () => {
    core.fleet.off("event", onEvent);
    heal?.off("event", onHeal);
    core.off("push", onPush);
  };
}
