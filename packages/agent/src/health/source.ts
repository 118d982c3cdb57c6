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
  /** The agent (re)started a service: its component's grace period begins. */
  serviceStarted?(service: string): void;
  /**
   * Probes every component now (rcctl check, HTTP endpoint, ports) instead of at the next interval;
   * `running`: what rcctl check just said per service, not asked again.
   */
  probeNow?(running?: Readonly<Record<string, boolean>>): Promise<void>;
  /** Every classified log signal (the healer's remedies act on some). */
  onSignal?(listener: (signal: HealthSignal) => void): void;
  /** Events of the health side worth an audit line (log lines skipped in a flood). */
  onEvent?(listener: (event: AgentEvent) => void): void;
  stop(): Promise<void>;
}

/** The part of the health the healer uses: it announces (re)starts, asks for a probe, hears signals. */
export type HealerHealth = Pick<HealthSource, "serviceStarted" | "probeNow" | "onSignal">;
