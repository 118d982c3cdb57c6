// An agent's link as the fleet uses it: send a frame, close, and what the link measured (its agent's clock,
// when it was last heard from). server/agents.ts makes one per websocket that said hello.
import type { CoordinatorToAgent } from "@vmmeet/shared";
import type { ClockSample } from "./clock.js";

export interface AgentConnection {
  readonly node: string;
  readonly remote: string;
  send(frame: CoordinatorToAgent): boolean;
  close(code: number, reason: string): void;
  /** The agent's clock skew as measured on this link (agent minus coordinator), null before a sample. */
  readonly clock?: ClockSample | null;
  /** When the last frame of this link arrived (coordinator ms). */
  readonly lastHeardAt?: number;
  /** Torn down because nothing came for STALE_HEARTBEATS heartbeats (the node is away since lastHeardAt). */
  readonly silent?: boolean;
}
