// What the rest of the agent asks of the node's health (monitor.ts is the implementation; tests script it).
import type { AgentEvent, ComponentHealth, HealthSignal, NodeDesired } from "@vmmeet/shared";
import type { ServiceHealthHint } from "../status.js";

/** Log-derived health of the node's components (health/monitor.ts). */
export interface HealthSource {
  configure(desired: NodeDesired | null): Promise<void>;
  components(): ComponentHealth[];
  /** Per service: ok/starting/backoff/failed as the healer sees it. */
  serviceHint(name: string): ServiceHealthHint | undefined;
  onChange(listener: () => void): void;
  /** Every classified log signal (the healer's remedies act on some). */
  onSignal?(listener: (signal: HealthSignal) => void): void;
  /** Events of the health side worth an audit line (log lines skipped in a flood). */
  onEvent?(listener: (event: AgentEvent) => void): void;
  stop(): Promise<void>;
}

/** The part of the health the healer uses: it hears the log signals (starts reach health from the service owner). */
export type HealerHealth = Pick<HealthSource, "onSignal">;
