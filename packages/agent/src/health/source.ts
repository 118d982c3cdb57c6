// What the rest of the agent asks of the node's health (monitor.ts is the implementation; tests script it).
import type { EventEmitter } from "node:events";
import type { AgentEvent, ComponentHealth, HealthSignal, NodeDesired } from "@vmmeet/shared";
import type { ServiceHealthHint } from "../status.js";

/** What the node's health tells, as a typed emitter (the same pattern as pf, the healer and the transport). */
export interface HealthEvents {
  /** What components() returns changed. */
  change: [];
  /** Every classified log signal (the healer's remedies act on some). */
  signal: [signal: HealthSignal];
  /** Events of the health side worth an audit line (log lines skipped in a flood). */
  event: [event: AgentEvent];
}

/** Log-derived health of the node's components (health/monitor.ts). */
export interface HealthSource extends Pick<EventEmitter<HealthEvents>, "on" | "off"> {
  configure(desired: NodeDesired | null): Promise<void>;
  components(): ComponentHealth[];
  /** Per service: ok/starting/backoff/failed as the healer sees it. */
  serviceHint(name: string): ServiceHealthHint | undefined;
  stop(): Promise<void>;
}

/** The part of the health the healer uses: it hears the log signals (starts reach health from the service owner). */
export type HealerHealth = Pick<HealthSource, "on" | "off">;
