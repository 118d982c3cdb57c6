// The verdict on one component, pure: a snapshot of what the agent observed about it (rcctl check, the
// probe's HTTP health endpoint and TCP ports, the signals of its log) with their times and a `now` in, a
// state with an explanation and a fix out:
//
//   unknown -> starting (inside the service's grace period after a (re)start: problems do not count yet)
//           -> healthy | degraded | failed
//
// state.ts keeps the snapshot (ComponentTracker); problems.ts says how long a problem counts.
import type { ComponentHealth, HealthLabel, HealthSignal, LogComponent } from "@vmmeet/shared";
import {
  BREWERY_SIGNAL,
  DEFAULT_SIGNAL_WINDOW_MS,
  DEFAULT_WINDOWS_MS,
  NO_BRIDGE_EXPLAIN,
  NO_BRIDGE_FIX,
  RESOLVED_BY,
} from "./problems.js";

/** The ComponentHealth object of the protocol (packages/shared/src/protocol/common.ts). */
export type ComponentHealthReport = ReturnType<(typeof ComponentHealth)["parse"]>;
export type ComponentState = ComponentHealthReport["state"];

/** Probe results older than this are ignored (the prober is expected to run every few seconds). */
export const DEFAULT_PROBE_STALE_MS = 5 * 60_000;

export interface ComponentConfig {
  component: LogComponent;
  /** The rc.d service that runs it. */
  service: string;
  /** ServiceEntry.graceSeconds. */
  graceSeconds: number;
  /** The probe's health URL, if it has one. */
  http?: string;
  /** The probe's TCP ports. */
  ports?: readonly number[];
  /** Per-signal windows overriding DEFAULT_WINDOWS_MS and DEFAULT_SIGNAL_WINDOW_MS. */
  windowsMs?: Readonly<Record<string, number>>;
  defaultWindowMs?: number;
  probeStaleMs?: number;
  /** How the component's log marks the end of a process and the start of the next (state.ts PROCESS_BOUNDS). */
  bounds?: ProcessBounds;
}

export interface ProcessBounds {
  /** The signal of the last line a process prints when it stops cleanly. */
  readonly last: string;
  /** The signal of the first line a new process prints. */
  readonly first: string;
}

/** What assess() looks at: the latest observation of each kind since the last (re)start. */
export interface ComponentSnapshot {
  startedAt?: number;
  check?: { at: number; running: boolean };
  http?: { at: number; url: string; ok: boolean; status?: number; error?: string };
  ports: ReadonlyMap<number, { at: number; ok: boolean; error?: string }>;
  /** Latest signal of each name, with its time in ms. */
  signals: ReadonlyMap<string, { at: number; signal: HealthSignal }>;
  /** jicofo: bridges in the brewery (full MUC JIDs); undefined for other components. */
  bridges?: ReadonlySet<string>;
  /** jicofo: bridges that left the brewery and did not join again since (full MUC JIDs). */
  departed?: ReadonlySet<string>;
  /**
   * jicofo: the MUC nicknames of the bridges of the spec (the desired state's health.bridges); undefined
   * when the desired state does not say.
   */
  expectedBridges?: ReadonlySet<string>;
  /**
   * Problem lines read since the (re)start that wait for the old process's last line (state.ts
   * PROCESS_BOUNDS): inside the grace period they keep the component from being reported healthy.
   */
  held?: number;
}

/** jicofo's signals of a bridge that left its brewery (rules.ts). */
const BRIDGE_LEFT: ReadonlySet<string> = new Set(["brewery-instance-removed", "bridge-removed"]);

/** The MUC nickname of a bridge's occupant JID (ROOM@SERVICE/NICK), lower case. */
const bridgeNick = (jid: string) => jid.slice(jid.indexOf("/") + 1).toLowerCase();

/**
 * With the spec's bridges known, a bridge-left signal is a problem exactly while a bridge of the spec is
 * out of the brewery (another bridge joining does not make up for it). A bridge the spec took out was
 * expected to leave (jicofo logs its removal when its VM goes away): no problem. The signals' details
 * cannot tell it alone (jicofo's "Lost a bridge" line carries no JID the rules take). Undefined: the spec's
 * bridges are not known, RESOLVED_BY decides.
 */
function specBridgeOut(snap: ComponentSnapshot): boolean | undefined {
  const expected = snap.expectedBridges;
  if (expected === undefined) return undefined;
  return [...(snap.departed ?? [])].some((jid) => expected.has(bridgeNick(jid)));
}

export interface Assessment {
  state: ComponentState;
  explain: string;
  fix?: string;
}

const secs = (ms: number) => `${Math.round(ms / 1000)}s`;

function activeProblems(cfg: ComponentConfig, snap: ComponentSnapshot, now: number, label: HealthLabel) {
  const cures = RESOLVED_BY[cfg.component];
  const out: { at: number; signal: HealthSignal }[] = [];
  for (const [name, e] of snap.signals) {
    if (e.signal.label !== label || name === BREWERY_SIGNAL) continue;
    const window =
      cfg.windowsMs?.[name] ?? DEFAULT_WINDOWS_MS[name] ?? cfg.defaultWindowMs ?? DEFAULT_SIGNAL_WINDOW_MS;
    if (now - e.at >= window) continue;
    const specOut = BRIDGE_LEFT.has(name) ? specBridgeOut(snap) : undefined;
    if (specOut === false) continue;
    const cured =
      specOut === undefined &&
      (cures.get(name) ?? []).some((c) => {
        const later = snap.signals.get(c);
        return later !== undefined && later.at > e.at;
      });
    if (!cured) out.push(e);
  }
  return out.sort((a, b) => b.at - a.at);
}

/**
 * The verdict `state` from the newest of `problems` (activeProblems sorts newest first), saying how many
 * others there are; undefined when there are none.
 */
function newestProblem(
  state: "failed" | "degraded",
  problems: readonly { signal: HealthSignal }[],
): Assessment | undefined {
  const first = problems[0];
  if (!first) return undefined;
  const others = problems.length - 1;
  const explain = first.signal.explain;
  return {
    state,
    explain: others > 0 ? `${explain} (and ${others} other problem${others > 1 ? "s" : ""})` : explain,
    ...(first.signal.fix === undefined ? {} : { fix: first.signal.fix }),
  };
}

/** The state before the grace period is applied. */
function judge(cfg: ComponentConfig, snap: ComponentSnapshot, now: number): Assessment {
  const stale = cfg.probeStaleMs ?? DEFAULT_PROBE_STALE_MS;
  const fresh = <T extends { at: number }>(seen: T | undefined): T | undefined =>
    seen !== undefined && now - seen.at < stale ? seen : undefined;
  const svc = cfg.service;
  const check = fresh(snap.check);
  if (check && !check.running) {
    return {
      state: "failed",
      explain: `${svc} is not running (rcctl check ${svc} fails)`,
      fix: `rcctl start ${svc}; if it stops again, read why in its log (/var/log/daemon, or the component's own log).`,
    };
  }
  for (const port of cfg.ports ?? []) {
    const p = fresh(snap.ports.get(port));
    if (p && !p.ok) {
      return {
        state: "failed",
        explain: `${svc} does not accept connections on 127.0.0.1:${port}${p.error ? ` (${p.error})` : ""}`,
        fix: `Check ${svc}'s log for a bind or startup error (fstat | grep :${port} shows who holds the port), then rcctl restart ${svc}.`,
      };
    }
  }
  const http = cfg.http === undefined ? undefined : fresh(snap.http);
  if (http && !http.ok && http.status === undefined) {
    return {
      state: "failed",
      explain: `${svc}'s health endpoint ${http.url} does not answer${http.error ? ` (${http.error})` : ""}`,
      fix: `Check that ${svc} finished starting (the JVM is slow: be patient) and its log; rcctl restart ${svc}.`,
    };
  }
  const failed = newestProblem("failed", activeProblems(cfg, snap, now, "failed"));
  if (failed) return failed;
  const bridges = snap.bridges;
  if (cfg.component === "jicofo" && bridges !== undefined && bridges.size === 0 && !(http?.ok ?? false)) {
    return { state: "failed", explain: NO_BRIDGE_EXPLAIN, fix: NO_BRIDGE_FIX };
  }
  if (http && !http.ok) {
    return {
      state: "failed",
      explain: `${svc}'s health endpoint ${http.url} answers ${http.status}`,
      fix: `Read ${svc}'s log around its health check failure for the cause.`,
    };
  }
  const degraded = newestProblem("degraded", activeProblems(cfg, snap, now, "degraded"));
  if (degraded) return degraded;
  const proofs: string[] = [];
  if (check?.running) proofs.push(`${svc} is running`);
  const openPorts = (cfg.ports ?? []).filter((p) => fresh(snap.ports.get(p))?.ok);
  if (openPorts.length > 0) proofs.push(`accepts connections on ${openPorts.join(", ")}`);
  if (http?.ok) proofs.push(`${http.url} answers ${http.status ?? "2xx"}`);
  if (cfg.component === "jicofo" && bridges !== undefined) {
    proofs.push(
      bridges.size > 0
        ? `${bridges.size} bridge${bridges.size > 1 ? "s" : ""} in the brewery`
        : "its health check passes, so it has a bridge",
    );
  }
  const healthySignals = [...snap.signals.values()].filter((e) => e.signal.label === "healthy");
  if (proofs.length === 0 && healthySignals.length === 0) {
    return { state: "unknown", explain: "no check, probe result or log line seen yet" };
  }
  if (proofs.length === 0) {
    const latest = healthySignals.sort((a, b) => b.at - a.at)[0] as { signal: HealthSignal };
    proofs.push(latest.signal.explain.replace(/\.$/, ""));
  }
  return { state: "healthy", explain: proofs.join("; ") };
}

/**
 * Pure: the component's state at `now`. Inside the grace period after a (re)start only "healthy" and
 * "not running" are final; every other finding is reported as "starting" (the JVMs need a minute or
 * more: the paper's "be really patient").
 */
export function assess(cfg: ComponentConfig, snap: ComponentSnapshot, now: number): Assessment {
  const verdict = judge(cfg, snap, now);
  const started = snap.startedAt;
  const graceMs = cfg.graceSeconds * 1000;
  if (started === undefined || now - started >= graceMs) return verdict;
  const held = snap.held ?? 0;
  if (verdict.state === "healthy" && held === 0) return verdict;
  if (
    verdict.state === "failed" &&
    snap.check !== undefined &&
    !snap.check.running &&
    snap.check.at >= started
  ) {
    // rc.subr's start returns once the process exists: a process gone after that has exited, it is not slow.
    return verdict;
  }
  const base = `${cfg.service} (re)started ${secs(now - started)} ago; problems do not count during its ${cfg.graceSeconds}s grace period`;
  const waiting =
    held === 0
      ? ""
      : `; ${held === 1 ? "1 problem line since the restart waits" : `${held} problem lines since the restart wait`} for the old process's last line`;
  return {
    state: "starting",
    explain:
      verdict.state === "unknown" ? `${base}${waiting}` : `${base} (so far: ${verdict.explain})${waiting}`,
    ...(verdict.fix === undefined ? {} : { fix: verdict.fix }),
  };
}
