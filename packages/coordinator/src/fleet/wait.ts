// Waiting on what the agents report, on the coordinator's clock (Clock of @vmmeet/node): a condition re-checked on
// every fleet change (and every tick for one that time alone changes, such as a recovery window closing), a
// node's link, a stage's health gate (fleet/gates.ts).

import type { Clock } from "@vmmeet/node";
import type { NodeStatus, Spec } from "@vmmeet/shared";
import type { Fleet } from "./fleet.js";
import { evaluateGate, type GateContext } from "./gates.js";
import type { Gate } from "./stages.js";

/** What waiting reads of the fleet: the nodes' reports and links, and their changes. */
export type WatchedFleet = Pick<Fleet, "nodes" | "connected" | "on" | "off">;

/** A gate that did not pass: the node, and the gate's failure or what it still waited for. */
export interface GateMiss {
  node: string;
  message: string;
}

export class FleetWait {
  constructor(
    private readonly fleet: WatchedFleet,
    private readonly clock: Clock,
  ) {}

  /**
   * Resolves true when cond() holds (re-checked on every fleet change, and every `tickMs` for conditions
   * that time alone can change), false at the deadline (ms on the clock) or when `abort` fires.
   */
  until(cond: () => boolean, deadline: number, tickMs?: number, abort?: AbortSignal): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    if (abort?.aborted) return Promise.resolve(false);
    const { clock, fleet } = this;
    return new Promise((resolve) => {
      let settled = false;
      let tick: unknown = null;
      const onChange = () => {
        if (cond()) done(true);
      };
      const arm = () => {
        if (tickMs === undefined) return;
        tick = clock.setTimeout(() => {
          tick = null;
          onChange();
          if (!settled) arm();
        }, tickMs);
      };
      const timer = clock.setTimeout(() => done(cond()), Math.max(0, deadline - clock.now()));
      const onAbort = () => done(false);
      const done = (v: boolean) => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timer);
        if (tick !== null) clock.clearTimeout(tick);
        fleet.off("change", onChange);
        abort?.removeEventListener("abort", onAbort);
        resolve(v);
      };
      fleet.on("change", onChange);
      abort?.addEventListener("abort", onAbort, { once: true });
      arm();
    });
  }

  /** Resolves whether `node`'s agent is connected by the deadline. */
  connected(node: string, deadline: number): Promise<boolean> {
    if (this.fleet.connected(node)) return Promise.resolve(true);
    return this.until(() => this.fleet.connected(node), deadline);
  }

  /**
   * Waits until every one of `nodes` passes `gate`: null when they do (or when `abort` fires), else the
   * first that failed, or at the deadline the first still waiting. `progress` hears each change of what a
   * node waits for.
   */
  async gate(
    gate: Gate,
    spec: Spec,
    nodes: readonly string[],
    deadline: number,
    ctx: Omit<GateContext, "now">,
    progress: (node: string, message: string) => void,
    abort?: AbortSignal,
  ): Promise<GateMiss | null> {
    const status = (n: string): NodeStatus | null => this.fleet.nodes.get(n)?.status ?? null;
    const evaluate = (node: string) =>
      evaluateGate(gate, spec, status, node, { ...ctx, now: this.clock.now() });
    const last = new Map<string, string>();
    let result: GateMiss | null = null;
    const check = () => {
      for (const node of nodes) {
        const r = evaluate(node);
        if (r.failed) {
          result = { node, message: r.failed };
          return true;
        }
        if (!r.passed) {
          if (last.get(node) !== r.waitingFor) {
            last.set(node, r.waitingFor);
            progress(node, `waiting for ${r.waitingFor}`);
          }
          return false;
        }
      }
      return true;
    };
    // A recovery window ends without any fleet change: look again every second while one is open.
    const ok = await this.until(check, deadline, (ctx.recovering?.size ?? 0) > 0 ? 1000 : undefined, abort);
    if (abort?.aborted) return null;
    if (result) return result;
    if (ok) return null;
    const stuck = nodes.find((n) => !evaluate(n).passed) ?? nodes[0]!;
    return { node: stuck, message: `health gate not passed in time (${last.get(stuck) ?? gate})` };
  }
}
