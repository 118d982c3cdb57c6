// The node's health, put together: a tailer per log source of the desired state (followed by name through
// rotation), the classifier for its component, the per-component state machines, and periodic probes
// (rcctl check, the loopback health endpoint, ports). Raw lines never leave this module: only signals do.
import { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import path from "node:path";
import { type Clock, systemClock } from "@vmmeet/node";
import type { AgentEvent, LogComponent, NodeDesired } from "@vmmeet/shared";
import type { Logger } from "pino";
import { ServiceLife } from "../services/life.js";
import type { ServiceManager } from "../services/manager.js";
import type { ServiceHealthHint } from "../status.js";
import { syslogTag } from "./joiner.js";
import { type BreweryState, JsonFileOffsetStore } from "./offsetStore.js";
import { LogClassifier, toHealthSignal } from "./pipeline.js";
import { type ProbeOptions, probeComponent } from "./probes.js";
import type { HealthEvents, HealthSource } from "./source.js";
import { type ComponentTracker, type HealthObservation, trackersFor } from "./state.js";
import { LogTailer, type SkipReport } from "./tailer.js";

export interface HealthMonitorOptions {
  root: string;
  stateDir: string;
  /**
   * The owner of the services' life, shared with the daemon: its starts begin a component's grace period,
   * a (re)started or reloaded service's component is probed at once, and "is it running?" is answered from
   * its fresh observation when it has one. A plain ServiceManager gets an owner of its own.
   */
  services: ServiceManager | ServiceLife;
  logger: Logger;
  /** How often rcctl check, the HTTP endpoint and the ports are probed. */
  probeIntervalMs?: number;
  pollIntervalMs?: number;
  probe?: ProbeOptions;
  /**
   * The probe timer and the own-log cache run on it (default systemClock: unref'd timers, a health probe
   * keeps no agent alive); tests drive it with a ManualClock.
   */
  clock?: Clock;
  /**
   * The VM's wall clock (default the clock's now(), which main.ts sets off by --clock-offset): what signals,
   * grace periods and events are stamped with, as the coordinator reads them.
   */
  now?: () => number;
  /** How long "does the component's own log file exist" is cached (default 1000 ms). */
  ownLogCacheMs?: number;
  /** Per log: lines classified per second at most (LogTailerOptions.maxLinesPerSecond). */
  maxLinesPerSecond?: number;
}

/**
 * How soon a round follows one that found a component in its start grace not answering yet (not running,
 * a port or the HTTP endpoint refused): a JVM or prosody opens its ports a moment after rcctl says it runs,
 * and without this the first probe's "refused" stood until the next interval, up to 15 s, holding a
 * rollout's gate that long.
 */
export const SETTLE_PROBE_MS = 1000;

interface Source {
  tailer: LogTailer;
  classifier: LogClassifier;
}

export class HealthMonitor extends EventEmitter<HealthEvents> implements HealthSource {
  #trackers = new Map<LogComponent, ComponentTracker>();
  #sources = new Map<string, Source>();
  #configKey = "";
  #sourcesKey = "";
  #probeTimer: unknown = null;
  /** The follow-up round for a component that is starting and not answering yet (SETTLE_PROBE_MS). */
  #settleTimer: unknown = null;
  #probing = false;
  #probeAgain = false;
  #lastStates = "";
  #desired: NodeDesired | null = null;
  readonly #offsets: JsonFileOffsetStore;
  /** jicofo's brewery as last kept with the offsets (loaded at the first configure), and its JSON. */
  #brewery: BreweryState | undefined;
  #breweryKey: string | undefined;
  #breweryLoad: Promise<void> | undefined;
  #stopped = false;
  readonly #life: ServiceLife;
  readonly #unsubscribe: (() => void)[];
  readonly #clock: Clock;
  readonly #now: () => number;

  constructor(private readonly options: HealthMonitorOptions) {
    super();
    this.#offsets = new JsonFileOffsetStore(path.join(options.stateDir, "log-offsets.json"));
    this.#life = ServiceLife.of(options.services);
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? (() => this.#clock.now());
    this.#unsubscribe = [
      // Learnt when the (re)start happens, not when the apply returns: a JVM that logs "Added brewery
      // instance" while the apply finishes its other services would otherwise have that line discarded as
      // its predecessor's.
      this.#life.on("starting", (e) => this.serviceStarted(e.service)),
      // Probed at once, not up to a probe interval later: its component's gate may be waiting for it. The
      // owner's check after the action answers the probe's "is it running?".
      this.#life.on("running", () => void this.probeNow()),
      // A check of someone else's (the healer's pass) found it gone: said now, from that check's answer.
      this.#life.on("stopped", () => void this.probeNow()),
    ];
  }

  async configure(desired: NodeDesired | null): Promise<void> {
    if (this.#stopped) return;
    this.#desired = desired;
    // The spec's bridges are no reason to build the trackers again (a bridge added or removed): they are
    // handed to jicofo's below.
    const { bridges, ...health } = desired?.health ?? { bridges: undefined };
    const key = JSON.stringify({ health: desired ? health : null, services: desired?.services ?? [] });
    const rebuilt = key !== this.#configKey;
    if (rebuilt) {
      this.#configKey = key;
      this.#trackers = desired ? trackersFor(desired, { clock: { now: this.#now } }) : new Map();
      // The tailers resume at their kept offsets: the brewery the lines before them built comes back too
      // (read once, before the first tailer starts; kept up to date in memory after that).
      this.#breweryLoad ??= this.#offsets.loadBrewery().then(
        (b) => {
          this.#brewery = b;
          this.#breweryKey = JSON.stringify(b ?? null);
        },
        (err: unknown) => {
          this.#breweryKey = "null";
          this.options.logger.warn({ err: (err as Error).message }, "cannot read the kept brewery");
        },
      );
      await this.#breweryLoad;
      if (this.#brewery) this.#trackers.get("jicofo")?.restoreBrewery(this.#brewery);
    }
    this.#trackers.get("jicofo")?.expectBridges(bridges);
    const logs = desired?.health.logs ?? [];
    const sourcesKey = JSON.stringify({ logs, release: desired?.health.release });
    if (sourcesKey !== this.#sourcesKey) {
      this.#sourcesKey = sourcesKey;
      await this.#stopSources();
      // Each tailer's first poll fixes where it starts, so nothing written after configure() is missed.
      await Promise.all(
        logs.map((src) => this.#startSource(src.component, src.path, src.tag, desired?.health.release)),
      );
    }
    if (this.#probeTimer === null && desired) this.#armProbe();
    // New trackers know nothing yet. The same configuration again (a push that changed another file) keeps
    // what was observed: a probe now would run before the apply's restarts, whose "started" discards it; the
    // service owner's "running" after each (re)start or reload probes instead.
    if (rebuilt) void this.probeNow();
    this.#changed();
  }

  async #startSource(
    component: LogComponent,
    file: string,
    tag: string | undefined,
    release: number | undefined,
  ): Promise<void> {
    const classifier = new LogClassifier({
      component,
      ...(release !== undefined ? { release } : {}),
      onRecord: (result) => {
        // Lines read in one poll arrive in the same millisecond; strictly increasing times keep their order, so
        // that a later "Joined MUC" cures an earlier login failure of the same burst.
        const at = Math.max(this.#now(), this.#lastSignalAt + 1);
        this.#lastSignalAt = at;
        const signal = toHealthSignal(component, result, new Date(at), file);
        if (!signal) return;
        this.#trackers.get(component)?.observe({ kind: "signal", signal });
        this.emit("signal", signal);
        this.#changed();
      },
    });
    const tailer = new LogTailer({
      path: path.join(this.options.root, file),
      store: this.#offsets,
      ...(this.options.pollIntervalMs ? { pollIntervalMs: this.options.pollIntervalMs } : {}),
      // A signal reaches the status within milliseconds of its line (rollout gates wait on them).
      wakeOnWrite: true,
      onLine: (line) => {
        // Shared files (/var/log/daemon) hold every daemon's lines: keep this component's tag only. And
        // they are the fallback: syslogd copies a program's lines to /var/log/daemon as well as to its
        // `!program` file, so while that file exists the same lines would count twice, in arbitrary order.
        if (tag !== undefined && (syslogTag(line) !== tag || this.#hasOwnLog(component))) return;
        classifier.push(line);
      },
      onError: (err) => this.options.logger.warn({ file, err: (err as Error).message }, "log tailer error"),
      ...(this.options.maxLinesPerSecond ? { maxLinesPerSecond: this.options.maxLinesPerSecond } : {}),
      onSkipped: (r) => this.#skipped(component, file, r),
    });
    tailer.start();
    this.#sources.set(`${component}:${file}`, { tailer, classifier });
    await tailer.poll();
  }

  /** A log flood (or an over-long line): said in the agent's log and as one event, at most once a minute per log. */
  #skipped(component: LogComponent, file: string, r: SkipReport): void {
    const parts = [
      ...(r.lines > 0
        ? [
            `${r.lines} of ${r.lines + r.delivered} lines (over the budget of ${this.options.maxLinesPerSecond ?? 5000} lines or 100 ms of classifying a second)`,
          ]
        : []),
      ...(r.cut > 0 ? [`the rest of ${r.cut} ${r.cut === 1 ? "line" : "lines"} longer than 64 KiB`] : []),
    ];
    const message = `${component} log ${file}: skipped ${parts.join(" and ")} (${r.bytes} bytes not classified) since ${new Date(r.since).toISOString()}; health from these lines may be missing, probes still run`;
    this.options.logger.warn(
      { file, lines: r.lines, delivered: r.delivered, cut: r.cut, bytes: r.bytes },
      "log lines skipped",
    );
    const event: AgentEvent = {
      at: new Date(this.#now()).toISOString(),
      kind: "log-lines-skipped",
      label: "degraded",
      message,
      target: file,
    };
    this.emit("event", event);
  }

  #ownLog = new Map<LogComponent, { at: number; exists: boolean }>();
  #lastSignalAt = 0;

  /** Whether one of the component's own (untagged) log files exists; looked up at most once a second. */
  #hasOwnLog(component: LogComponent): boolean {
    const now = this.#clock.now();
    const cached = this.#ownLog.get(component);
    if (cached && now - cached.at < (this.options.ownLogCacheMs ?? 1000)) return cached.exists;
    const own = (this.#desired?.health.logs ?? []).filter(
      (l) => l.component === component && l.tag === undefined,
    );
    const exists = own.some((l) => existsSync(path.join(this.options.root, l.path)));
    this.#ownLog.set(component, { at: now, exists });
    return exists;
  }

  async #stopSources(): Promise<void> {
    const sources = [...this.#sources.values()];
    this.#sources.clear();
    await Promise.all(
      sources.map(async (s) => {
        await s.tailer.stop();
        s.classifier.close();
      }),
    );
  }

  /**
   * One round of probes for every component. Asked while a round runs, it runs once more after that one
   * (whose observations may predate what the caller just did, a restart).
   */
  async probeNow(): Promise<void> {
    if (this.#stopped) return;
    if (this.#probing) {
      this.#probeAgain = true;
      return;
    }
    this.#probing = true;
    let settle = false;
    try {
      await Promise.all(
        [...this.#trackers.values()].map(async (t) => {
          const probe = this.#desired?.health.probes.find((p) => p.component === t.component);
          const observations = await probeComponent(
            {
              service: t.config.service,
              ports: probe?.ports ?? [],
              ...(probe?.http ? { http: probe.http } : {}),
            },
            {
              check: (s) => this.#life.running(s),
              now: this.#now,
              ...(this.options.probe ?? {}),
            },
          );
          for (const obs of observations) t.observe(obs);
          if (this.#settling(t, observations)) settle = true;
        }),
      );
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message }, "health probe round failed");
    } finally {
      this.#probing = false;
    }
    this.#changed();
    if (this.#probeAgain) {
      this.#probeAgain = false;
      await this.probeNow();
    } else if (settle) this.#armSettle();
  }

  /** The component is in the grace of its last start and some probe of this round found it not answering. */
  #settling(t: ComponentTracker, observations: readonly HealthObservation[]): boolean {
    const startedAt = t.snapshot().startedAt;
    if (startedAt === undefined || this.#now() - startedAt >= t.config.graceSeconds * 1000) return false;
    return observations.some(
      (o) => (o.kind === "check" && !o.running) || ((o.kind === "port" || o.kind === "http") && !o.ok),
    );
  }

  #armSettle(): void {
    if (this.#settleTimer !== null || this.#stopped) return;
    this.#settleTimer = this.#clock.setTimeout(() => {
      this.#settleTimer = null;
      void this.probeNow();
    }, SETTLE_PROBE_MS);
  }

  /** The next round of probes, one interval from now; each round arms the one after it. */
  #armProbe(): void {
    this.#probeTimer = this.#clock.setTimeout(() => {
      this.#armProbe();
      void this.probeNow();
    }, this.options.probeIntervalMs ?? 15_000);
  }

  /** The agent (re)started a service: its component's grace period begins. */
  serviceStarted(service: string): void {
    for (const t of this.#trackers.values())
      if (t.config.service === service) t.observe({ kind: "started", at: this.#now() });
    this.#changed();
  }

  components() {
    return [...this.#trackers.values()].map((t) => {
      const report = t.report();
      // jicofo: the protocol carries the bridges by MUC nickname (the resource of the occupant JID), which
      // is what the coordinator's brewery gate compares with the spec's jvb nicknames.
      if (t.component !== "jicofo") return report;
      const nick = (jid: string) => jid.slice(jid.indexOf("/") + 1);
      const since = Object.fromEntries(
        [...t.bridgeTimes()].map(([jid, at]) => [nick(jid), new Date(at).toISOString()]),
      );
      return { ...report, bridges: t.bridges().map(nick), bridgesSince: since };
    });
  }

  serviceHint(_name: string): ServiceHealthHint | undefined {
    return undefined;
  }

  /** Keeps jicofo's brewery with the offsets whenever it changed. */
  #keepBrewery(): void {
    const b = this.#trackers.get("jicofo")?.brewery();
    if (b === undefined || this.#breweryKey === undefined) return;
    const key = JSON.stringify(b);
    if (key === this.#breweryKey) return;
    this.#breweryKey = key;
    this.#brewery = b;
    this.#offsets
      .saveBrewery(b)
      .catch((err: unknown) =>
        this.options.logger.warn(
          { err: (err as Error).message },
          "cannot keep the brewery with the log offsets",
        ),
      );
  }

  #changed(): void {
    this.#keepBrewery();
    const states = JSON.stringify(
      this.components().map((c) => [
        c.component,
        c.state,
        c.explain,
        c.bridgesSince ?? c.bridges,
        // A signal seen again (a new login) is news too: its time is part of the key.
        c.signals.map((x) => x.at),
      ]),
    );
    if (states === this.#lastStates) return;
    this.#lastStates = states;
    this.emit("change");
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const u of this.#unsubscribe) u();
    if (this.#probeTimer !== null) this.#clock.clearTimeout(this.#probeTimer);
    if (this.#settleTimer !== null) this.#clock.clearTimeout(this.#settleTimer);
    this.#probeTimer = null;
    this.#settleTimer = null;
    // Closing the classifiers emits a record still pending in a joiner: a brewery line, perhaps.
    await this.#stopSources();
    this.#keepBrewery();
    await this.#offsets.settled();
  }
}
