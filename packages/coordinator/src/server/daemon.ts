// `vmmeet serve`: wires the core to its three doors: the agents' websocket endpoint, the root-only admin
// socket, and (optionally) the Prometheus endpoint on loopback. start() in order, stop() in reverse.
import type http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { Clock } from "@vmmeet/node";
import { CloseCode, deploymentVerdict, RefusalLog } from "@vmmeet/shared";
import type { Logger } from "pino";
import {
  type AgentListener,
  createAgentListener,
  enrollmentAdminHandlers,
  enrollmentOf,
  enrollmentOnlyRows,
  roleInSpec,
} from "../enroll/listener.js";
import {
  HealScheduler,
  type HealSource,
  type HealTuning,
  type RemoteRestart,
  type VerdictFn,
} from "../fleet/heal.js";
import { buildStatus, type StatusReport } from "../fleet/status.js";
import { AdminError, type AdminHandlers, AdminServer } from "./admin.js";
import { AgentServer } from "./agents.js";
import { CoordinatorCore, PushBusyError, type PushEvent, SpecInvalidError } from "./coordinator.js";
import { followEvents } from "./feed.js";
import { type Counters, exposition, metricsServer, newCounters } from "./metrics.js";
import { StatusPage } from "./statuspage.js";

export const COORDINATOR_VERSION = "0.1.0";

/** How long a reconnecting node's catch-up apply may take. */
const CATCH_UP_TIMEOUT_MS = 120_000;

export interface DaemonOptions {
  stateDir: string;
  listen: { host: string; port: number };
  logger: Logger;
  heartbeatMs?: number;
  metrics?: { port: number } | null;
  /** The read-only status page (and /metrics) on a loopback address (server/statuspage.ts). */
  http?: { host: string; port: number } | null;
  adminSocket?: string;
  /** The time source and timers of the core, the rollout and the heal schedule (the system's by default). */
  clock?: Clock;
  applyTimeoutMs?: number;
  /**
   * Plain ws:// without TLS or agent authentication, for tests on loopback only (refused on any other
   * address). The default is wss:// with mutual TLS and enrollment (enroll/).
   */
  insecure?: boolean;
  /** Extra DNS names or addresses for the server certificate (`vmmeet serve --san`). */
  san?: string[];
  /**
   * Self-healing on a cron schedule (fleet/heal.ts): overrides of spec.operations.heal, the verdict behind
   * the deployment alarm, a restart of a service on another node; false turns it off.
   */
  heal?: (Partial<HealTuning> & { verdict?: VerdictFn; restart?: RemoteRestart }) | false;
}

export class CoordinatorDaemon {
  readonly core: CoordinatorCore;
  readonly counters: Counters = newCounters();
  /** Error frames agents send: logged once per code and minute (shared/refusals.ts). */
  readonly #agentErrors = new RefusalLog();
  #http: AgentListener["server"] | null = null;
  #listener: AgentListener | null = null;
  #agents: AgentServer | null = null;
  #admin: AdminServer | null = null;
  #metrics: http.Server | null = null;
  #page: StatusPage | null = null;
  #stopping: Promise<void> | null = null;
  #heal: HealScheduler | null = null;
  #confirms = 0;

  constructor(private readonly options: DaemonOptions) {
    this.core = new CoordinatorCore({
      stateDir: options.stateDir,
      logger: options.logger.child({ part: "core" }),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.applyTimeoutMs ? { applyTimeoutMs: options.applyTimeoutMs } : {}),
    });
  }

  get heal(): HealScheduler | null {
    return this.#heal;
  }

  get adminSocket(): string {
    return this.options.adminSocket ?? path.join(this.options.stateDir, "admin.sock");
  }

  get port(): number {
    return (this.#http?.address() as AddressInfo | null)?.port ?? 0;
  }

  get metricsPort(): number {
    return (this.#metrics?.address() as AddressInfo | null)?.port ?? 0;
  }

  get httpPort(): number {
    return this.#page?.port ?? 0;
  }

  status(): StatusReport {
    return buildStatus(
      this.core.current?.spec ?? null,
      this.core.current?.generation ?? 0,
      this.core.fleet.nodes,
      this.core.now,
      this.core.pushRunning,
      this.#heal?.alarm ?? null,
    );
  }

  async start(): Promise<void> {
    const log = this.options.logger;
    await this.core.load();
    const audit = (e: Parameters<CoordinatorCore["store"]["audit"]>[0]) => this.core.store.audit(e);
    this.#listener = await createAgentListener({
      stateDir: this.options.stateDir,
      host: this.options.listen.host,
      logger: log.child({ part: "agents" }),
      audit,
      knowsNode: (node) => this.core.knowsNode(node),
      roleOf: (node) => roleInSpec(this.core.current?.spec, node),
      ...(this.options.insecure ? { insecure: true } : {}),
      ...(this.options.san ? { san: this.options.san } : {}),
      ...(this.options.clock ? { now: () => this.core.now } : {}),
    });
    this.#http = this.#listener.server;
    this.#agents = new AgentServer({
      server: this.#http,
      logger: log.child({ part: "agents" }),
      coordinatorVersion: COORDINATOR_VERSION,
      heartbeatMs: this.options.heartbeatMs ?? 15_000,
      authorize: (hello, req) =>
        this.#listener?.enrollment
          ? this.#listener.enrollment.authorize(hello, req)
          : this.core.knowsNode(hello.node)
            ? { ok: true }
            : {
                ok: false,
                close: CloseCode.unknownNode,
                reason: `node "${hello.node}" is not in the deployment spec`,
              },
      onConnect: (conn, hello) => {
        this.core.fleet.attach(conn, hello.agentVersion);
        log.info({ node: conn.node, remote: conn.remote, generation: hello.generation }, "agent connected");
        this.#catchUp(conn.node, hello.generation);
      },
      onFrame: (conn, frame) => {
        this.core.fleet.receive(conn.node, frame);
        if (frame.type === "apply-result") {
          // Commit-confirm of pf (agent pf/manager.ts): this apply result came over this very link, so the
          // node's new rules still let it reach us; the confirm goes back over the same link. A push, a
          // rollback and the catch-up of a reconnecting node all answer here.
          conn.send({ type: "confirm", id: `pf${++this.#confirms}`, generation: frame.generation });
        }
        if (frame.type === "event") {
          this.core.recordAgentEvent(conn.node, frame.event);
          // Agents report repairs as repair-* and signal remedies as remedy-* (agent heal/).
          if (/^(repair|remedy)-/.test(frame.event.kind)) {
            const key = `${conn.node}\u0000${frame.event.kind}`;
            this.counters.repairs.set(key, (this.counters.repairs.get(key) ?? 0) + 1);
          }
        }
        if (frame.type === "error") {
          const note = this.#agentErrors.note(frame.code);
          if (note !== null)
            log.warn(
              {
                node: conn.node,
                code: frame.code,
                problem: frame.message.slice(0, 500),
                ...(note.repeated > 0 ? { repeated: note.repeated } : {}),
              },
              "agent reported an error",
            );
        }
      },
      onDisconnect: (conn, code) => {
        this.core.fleet.detach(conn);
        log.info({ node: conn.node, code }, "agent disconnected");
      },
    });
    await new Promise<void>((resolve, reject) => {
      this.#http!.once("error", reject);
      this.#http!.listen(this.options.listen.port, this.options.listen.host, () => resolve());
    });
    this.#agents.start();
    this.#admin = new AdminServer(this.adminSocket, this.#handlers(), log.child({ part: "admin" }));
    await this.#admin.start();
    const reconnects = () => new Map([...this.core.fleet.nodes].map(([n, l]) => [n, l.reconnects]));
    if (this.options.metrics) {
      this.#metrics = metricsServer(() => exposition(this.status(), reconnects(), this.counters));
      await new Promise<void>((resolve, reject) => {
        this.#metrics!.once("error", reject);
        this.#metrics!.listen(this.options.metrics!.port, "127.0.0.1", () => resolve());
      });
    }
    if (this.options.heal !== false) {
      const { verdict, restart, ...tuning } = this.options.heal ?? {};
      this.#heal = new HealScheduler({
        source: healSource(this.core),
        logger: log.child({ part: "heal" }),
        clock: this.core.clock,
        tuning,
        verdict: verdict ?? deploymentVerdict,
        restart:
          restart ??
          // A cross-node repair: the node's agent restarts the service and answers with its outcome.
          (async (node, service, reason) => {
            const reply = await this.core.fleet.request(
              node,
              { type: "repair", service, action: "restart", reason },
              120_000,
            );
            return reply.ok;
          }),
      });
      // A push may change spec.operations.heal.schedule.
      this.core.on("push", (e) => {
        if (e.kind === "done") this.#heal?.reconfigure();
      });
      this.#heal.start();
    }
    if (this.options.http) {
      this.#page = new StatusPage({
        core: this.core,
        status: () => this.status(),
        heal: () => this.#heal,
        metrics: () => exposition(this.status(), reconnects(), this.counters),
        ...this.options.http,
      });
      await this.#page.start();
    }
    log.info(
      {
        listen: `${this.options.listen.host}:${this.port}`,
        admin: this.adminSocket,
        generation: this.core.current?.generation ?? 0,
      },
      "coordinator started",
    );
    // A push this coordinator was killed in the middle of: finished or rolled back once the agents report.
    this.core
      .recover()
      .catch((err: unknown) =>
        log.error({ err: (err as Error).message }, "cannot finish or roll back the interrupted push"),
      );
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.core.stopRecovery();
      await this.#heal?.stop();
      await this.#admin?.stop();
      await this.#page?.stop();
      if (this.#metrics) await new Promise<void>((r) => this.#metrics!.close(() => r()));
      await this.#agents?.stop();
      if (this.#http) await new Promise<void>((r) => this.#http!.close(() => r()));
      await this.core.flush();
    })();
    return this.#stopping;
  }

  /** A node that connects behind the generation in force gets it (it was away during a push). */
  #catchUp(node: string, agentGeneration: number): void {
    const want = this.core.desiredFor(node);
    if (!want || agentGeneration >= want.generation || this.core.pushRunning) return;
    void this.core.rollout.apply(node, want.generation, want.desired, CATCH_UP_TIMEOUT_MS).then((applied) => {
      if (!applied.ok)
        this.options.logger.warn(
          { node, generation: want.generation, problem: applied.problem },
          applied.result ? "catch-up apply failed" : "catch-up push failed",
        );
    });
  }

  /** The admin methods (admin/methods.ts): each gets its params validated by the admin server. */
  #handlers(): AdminHandlers {
    return {
      plan: async ({ params }) => {
        try {
          return await this.core.plan(params.specText, params.file);
        } catch (err) {
          if (err instanceof SpecInvalidError) throw new AdminError(err.message, { problems: err.problems });
          throw err;
        }
      },
      push: async ({ params, user }, emit) => {
        const started = this.core.clock.now();
        const run = this.core.push(params.specText, params.file, {
          by: user,
          timeoutMs: params.timeoutMs,
          onEvent: (e: PushEvent) => emit(e),
        });
        const account = (ok: boolean) => {
          const s = (this.core.clock.now() - started) / 1000;
          this.counters.lastPushSeconds = s;
          this.counters.pushSecondsSum += s;
          if (ok) this.counters.pushes.ok += 1;
          else this.counters.pushes.failed += 1;
        };
        const settled = run.then(
          (outcome) => {
            account(outcome.ok);
            return outcome;
          },
          (err: unknown) => {
            if (!(err instanceof PushBusyError || err instanceof SpecInvalidError)) account(false);
            throw err;
          },
        );
        if (params.noWait) {
          // Accepted means stored: wait for the generation number, let the rollout go on in the daemon.
          const accepted = await new Promise<PushEvent | Error>((resolve) => {
            const on = (e: PushEvent) => {
              if (e.kind === "accepted") {
                this.core.off("push", on);
                resolve(e);
              }
            };
            this.core.on("push", on);
            settled.catch((err: unknown) => {
              this.core.off("push", on);
              resolve(err as Error);
            });
          });
          if (accepted instanceof Error) throw toAdminError(accepted);
          settled.catch(() => undefined);
          return { accepted: true, generation: accepted.generation };
        }
        try {
          return await settled;
        } catch (err) {
          throw toAdminError(err as Error);
        }
      },
      // vmmeet secrets rotate: new values, then a push of the spec in force (core.rotateSecrets).
      rotate: async ({ params, user }, emit) => {
        try {
          return await this.core.rotateSecrets(params.secrets, {
            by: user,
            timeoutMs: params.timeoutMs,
            onEvent: (e: PushEvent) => emit(e),
          });
        } catch (err) {
          throw toAdminError(err as Error);
        }
      },
      status: async () => this.status(),
      agents: async () => {
        const nodes = this.status().nodes;
        return [
          ...nodes.map((n) => ({
            node: n.node,
            role: n.role,
            connected: n.connected,
            lastSeen: n.lastSeen,
            agentVersion: n.agentVersion,
            applied: n.generation.applied,
            ...enrollmentOf(this.#listener, n.node),
          })),
          ...enrollmentOnlyRows(this.#listener, new Set(nodes.map((n) => n.node))),
        ];
      },
      ...enrollmentAdminHandlers({
        listener: () => this.#listener,
        disconnect: (node, code, reason) => {
          const conn = this.#agents?.connection(node);
          conn?.close(code, reason);
          return conn !== undefined;
        },
        knowsNode: (node) => this.core.knowsNode(node),
        roleOf: (node) => roleInSpec(this.core.current?.spec, node),
        audit: (e) => this.core.store.audit(e),
      }),
      events: async ({ params }, emit, signal) => {
        const recent = await this.core.store.readAudit(params.limit);
        for (const e of recent) emit(e);
        if (!params.follow) return { count: recent.length };
        await new Promise<void>((resolve) => {
          const unfollow = followEvents(this.core, this.#heal, emit);
          signal.addEventListener("abort", () => {
            unfollow();
            resolve();
          });
        });
        return { count: recent.length };
      },
    };
  }
}

/** What the heal schedule may see and do of the core (fleet/heal.ts HealSource). */
function healSource(core: CoordinatorCore): HealSource {
  return {
    current: () => core.current,
    pushRunning: () => core.pushRunning !== null,
    nodes: () =>
      [...core.fleet.nodes].map(([node, live]) => ({
        node,
        connected: core.fleet.connected(node),
        status: live.status,
      })),
    refresh: (node, timeoutMs) => core.fleet.request(node, { type: "snapshot-request" }, timeoutMs),
    apply: (node, generation, desired, timeoutMs) => core.rollout.apply(node, generation, desired, timeoutMs),
    audit: (entry) => core.store.audit(entry),
  };
}

function toAdminError(err: Error): Error {
  if (err instanceof SpecInvalidError) return new AdminError(err.message, { problems: err.problems });
  if (err instanceof PushBusyError) return new AdminError(err.message, { busy: true });
  return err;
}
