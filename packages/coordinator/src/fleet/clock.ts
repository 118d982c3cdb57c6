// One clock for every decision: the coordinator's. Each VM stamps its health signals, component states,
// events and metrics with its own clock; a VM whose clock is off (no ntpd, a clock set by hand) would make
// a rollout gate compare "jicofo saw the bridge join at T" (the jicofo VM's clock) with "the push restarted
// the bridge at T'" (the host's) and decide wrong by the skew. So the coordinator measures each agent's skew
// and moves the agent's times onto its own clock as the frames arrive: ages and orderings computed after
// that are the agent's own (an age on the translated times is the age the agent's clock gives).
//
// Measuring (NTP's offset and delay, RFC 5905 section 8, reduced to one exchange): the coordinator sends at
// t0 (its clock), the agent stamps its clock a when it answers, the answer arrives at t1. The agent's clock
// read a somewhere between t0 and t1, so skew = a - (t0 + t1) / 2 within +-(t1 - t0) / 2. Samples come from
// the hello (t0: the upgrade's answer was sent; the agent sends its hello as soon as it has it) and from
// every pong (t0: the ping's sentAt, echoed). Of the last SAMPLES, the one with the shortest round trip is
// kept (NTP's clock filter idea: a slow exchange bounds the skew worse): a link that stalls for seconds does
// not move the estimate. A sample whose bounds exclude the estimate's means the VM's clock was set: the
// estimate starts over from it. A new connection starts over too: the VM's clock may have been set while it
// was away.
// Pure: times are given.
import type { AgentToCoordinator, NodeStatus } from "@vmmeet/shared";
import type { NodeReport } from "../admin/methods.js";

/** Samples the estimate is the best of: at the coordinator's 15 s heartbeat, two minutes of pongs. */
export const SKEW_SAMPLES = 8;

/**
 * |skew| beyond this (and beyond its uncertainty) is warned about in status. The coordinator's decisions do
 * not depend on it (they use translated times), but ntpd keeps a VM within milliseconds of the host: half a
 * minute off means the VM does not sync its clock, its logs no longer line up with the other VMs' by time
 * when an admin reads them side by side, and it drifts further. The hard limit lies at the certificates the
 * coordinator issues, valid from an hour before they were made (secrets/ca.ts BACKDATE_MS): a VM further
 * behind refuses them.
 */
export const SKEW_WARN_MS = 30_000;

export interface ClockSample {
  /** agent clock minus coordinator clock, ms */
  skewMs: number;
  /** half the round trip: the true skew lies within skewMs +- this */
  uncertaintyMs: number;
  /** when it was taken, coordinator ms */
  at: number;
}

/** A sample from one exchange, or null when the times cannot be from one (an echo from the future). */
export function clockSample(sentAt: number, agentTime: number, receivedAt: number): ClockSample | null {
  if (!Number.isFinite(sentAt) || !Number.isFinite(agentTime) || sentAt > receivedAt) return null;
  return {
    skewMs: Math.round(agentTime - (sentAt + receivedAt) / 2),
    uncertaintyMs: Math.ceil((receivedAt - sentAt) / 2),
    at: receivedAt,
  };
}

/** Rounding of two samples (skews are whole ms): no step is seen within this much beyond their bounds. */
const STEP_SLACK_MS = 1;

export class SkewEstimator {
  readonly #samples: ClockSample[] = [];
  #best: ClockSample | null = null;

  /**
   * Adds a sample; returns the estimate after it. Every true sample's bounds hold the true skew, so two
   * samples whose bounds do not meet cannot both be of the same clock: the VM's clock was set (stepped)
   * between them, and the samples before this one are forgotten (the status the agent sends next is
   * translated with the new skew, not with a best sample of the clock it had before, for up to SKEW_SAMPLES
   * heartbeats).
   */
  add(s: ClockSample): ClockSample {
    const was = this.#best;
    if (was && Math.abs(s.skewMs - was.skewMs) > s.uncertaintyMs + was.uncertaintyMs + STEP_SLACK_MS)
      this.#samples.length = 0;
    this.#samples.push(s);
    if (this.#samples.length > SKEW_SAMPLES) this.#samples.shift();
    let best = this.#samples[0]!;
    for (const x of this.#samples) if (x.uncertaintyMs < best.uncertaintyMs) best = x;
    this.#best = best;
    return best;
  }

  get estimate(): ClockSample | null {
    return this.#best;
  }
}

/** The skew as status reports it (its schema is status's, admin/methods.ts), with a warning past SKEW_WARN_MS. */
export type NodeClock = NonNullable<NodeReport["clock"]>;

export function nodeClock(s: ClockSample): NodeClock {
  const off = Math.abs(s.skewMs) - s.uncertaintyMs;
  return {
    skewMs: s.skewMs,
    uncertaintyMs: s.uncertaintyMs,
    measuredAt: new Date(s.at).toISOString(),
    ...(off > SKEW_WARN_MS
      ? {
          warning: `its clock is ${formatSkew(s.skewMs)} the coordinator's (more than ${SKEW_WARN_MS / 1000} s): run ntpd on the VM; vmmeet corrects the times it reports, its logs stay off`,
        }
      : {}),
  };
}

/** "612 s ahead of", "3.2 s behind". */
export function formatSkew(skewMs: number): string {
  const s = Math.abs(skewMs) / 1000;
  const n = s >= 10 ? String(Math.round(s)) : s.toFixed(1);
  return `${n} s ${skewMs >= 0 ? "ahead of" : "behind"}`;
}

/** An ISO time moved by -skew; left as it is when that falls outside what a Date holds (a bogus skew). */
const shift = (iso: string, skewMs: number): string => {
  const d = new Date(Date.parse(iso) - skewMs);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString();
};

function shiftHealth(health: NodeStatus["health"][number], skewMs: number): NodeStatus["health"][number] {
  return {
    ...health,
    since: shift(health.since, skewMs),
    signals: health.signals.map((s) => ({ ...s, at: shift(s.at, skewMs) })),
    ...(health.bridgesSince
      ? {
          bridgesSince: Object.fromEntries(
            Object.entries(health.bridgesSince).map(([k, v]) => [k, shift(v, skewMs)]),
          ),
        }
      : {}),
  };
}

function shiftStatus<S extends Partial<NodeStatus>>(st: S, skewMs: number): S {
  return {
    ...st,
    ...(st.health ? { health: st.health.map((h) => shiftHealth(h, skewMs)) } : {}),
    ...(st.metrics ? { metrics: { ...st.metrics, at: shift(st.metrics.at, skewMs) } } : {}),
  };
}

/**
 * The frame with every time the agent stamped moved onto the coordinator's clock (t - skew). Frames without
 * such times, and any frame when the skew is unknown or 0, come back as they are.
 */
export function onCoordinatorClock(
  frame: AgentToCoordinator,
  skewMs: number | undefined,
): AgentToCoordinator {
  if (!skewMs) return frame;
  switch (frame.type) {
    case "snapshot":
      return { ...frame, status: shiftStatus(frame.status, skewMs) };
    case "status":
      return { ...frame, status: shiftStatus(frame.status, skewMs) };
    case "signal":
      return { ...frame, signal: { ...frame.signal, at: shift(frame.signal.at, skewMs) } };
    case "event":
      return { ...frame, event: { ...frame.event, at: shift(frame.event.at, skewMs) } };
    default:
      return frame;
  }
}
