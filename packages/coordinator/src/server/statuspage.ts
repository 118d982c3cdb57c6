// The read-only status page of `vmmeet serve --http 127.0.0.1:PORT`: one HTML page, its script, the
// topology.svg of the spec in force, the live view as JSON, and Server-Sent Events that carry the view
// again whenever something changes (an agent's status, a push's step, an event) and every 2 s. The same
// listener serves the Prometheus metrics at /metrics.
//
// Loopback only (the CLI refuses any other address), and requests must name the listener in their Host
// header, so that a web page elsewhere cannot read it through DNS rebinding. Nothing on it is secret: the
// status report carries no secret by design (agents redact), and every value the coordinator knows as a
// secret is masked in what is sent all the same.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Spec } from "@vmmeet/shared";
import type { HealScheduler } from "../fleet/heal.js";
import type { StatusReport } from "../fleet/status.js";
import { renderTopologySvg } from "../render/topology.js";
import type { CoordinatorCore, PushEvent } from "./coordinator.js";
import { type FeedEvent, followEvents } from "./feed.js";
import { buildLiveView, PushTracker } from "./live.js";
import { PAGE_HTML, PAGE_SCRIPT } from "./statuspage-assets.js";

export interface StatusPageOptions {
  core: CoordinatorCore;
  status: () => StatusReport;
  /** The heal schedule, once the daemon started it. */
  heal: () => HealScheduler | null;
  metrics: () => string;
  host: string;
  port: number;
  /** How often the view is sent without a change (ages, last-seen times). */
  tickMs?: number;
}

const RECENT = 40;

export class StatusPage {
  readonly #server: http.Server;
  readonly #clients = new Set<http.ServerResponse>();
  readonly #push = new PushTracker();
  readonly #events: FeedEvent[] = [];
  #unfollow: (() => void) | null = null;
  #tick: NodeJS.Timeout | null = null;
  #pending: NodeJS.Timeout | null = null;
  #svg: { generation: number; text: string } | null = null;
  #stopping: Promise<void> | null = null;

  constructor(private readonly options: StatusPageOptions) {
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    const { core } = this.options;
    for (const e of await core.store.readAudit(RECENT)) this.#remember(e);
    core.on("push", this.#onPush);
    this.#unfollow = followEvents(core, this.options.heal(), (e) => {
      this.#remember(e);
      this.#changed();
    });
    core.fleet.on("change", this.#changed);
    this.#tick = setInterval(() => this.#broadcast(), this.options.tickMs ?? 2000);
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.options.port, this.options.host, () => resolve());
    });
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#unfollow?.();
      this.options.core.off("push", this.#onPush);
      this.options.core.fleet.off("change", this.#changed);
      if (this.#tick) clearInterval(this.#tick);
      if (this.#pending) clearTimeout(this.#pending);
      for (const c of this.#clients) c.end();
      this.#clients.clear();
      this.#server.closeAllConnections();
      await new Promise<void>((r) => this.#server.close(() => r()));
    })();
    return this.#stopping;
  }

  /** The view as the page receives it, secrets masked. */
  viewJson(): string {
    const { core } = this.options;
    const view = buildLiveView(
      core.current?.spec ?? null,
      this.options.status(),
      this.#push.progress,
      this.#events,
    );
    let text = JSON.stringify(view);
    for (const secret of core.secretValues())
      if (secret.length >= 6) text = text.split(JSON.stringify(secret).slice(1, -1)).join("<secret>");
    return text;
  }

  readonly #onPush = (e: PushEvent) => {
    const { core } = this.options;
    this.#push.onEvent(e, core.current?.spec ?? null, core.pushRunning?.by ?? null);
  };

  #remember(e: FeedEvent): void {
    this.#events.unshift(e);
    this.#events.length = Math.min(this.#events.length, RECENT);
  }

  /** A change: the view goes out within 150 ms, once for a burst of changes. */
  readonly #changed = () => {
    this.#pending ??= setTimeout(() => {
      this.#pending = null;
      this.#broadcast();
    }, 150);
  };

  #broadcast(): void {
    if (this.#clients.size === 0) return;
    const frame = `data: ${this.viewJson()}\n\n`;
    for (const c of this.#clients) c.write(frame);
  }

  #svgText(spec: Spec, generation: number): string {
    if (this.#svg?.generation !== generation)
      this.#svg = {
        generation,
        text: renderTopologySvg(spec, { coordinatorPort: spec.host.coordinatorPort }),
      };
    return this.#svg.text;
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = req.headers.host ?? "";
    const port = this.port;
    const own = this.options.host.includes(":") ? `[${this.options.host}]` : this.options.host;
    if (![`${own}:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`].includes(host)) {
      res
        .writeHead(421, { "content-type": "text/plain" })
        .end("misdirected request: open the page at its loopback address\n");
      return;
    }
    const url = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    const common = {
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "content-security-policy":
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    };
    const cur = this.options.core.current;
    switch (url) {
      case "/":
        res.writeHead(200, { ...common, "content-type": "text/html; charset=utf-8" }).end(PAGE_HTML);
        return;
      case "/app.js":
        res.writeHead(200, { ...common, "content-type": "text/javascript; charset=utf-8" }).end(PAGE_SCRIPT);
        return;
      case "/topology.svg":
        if (!cur) {
          res.writeHead(404, common).end("no spec pushed yet\n");
          return;
        }
        res
          .writeHead(200, { ...common, "content-type": "image/svg+xml; charset=utf-8" })
          .end(this.#svgText(cur.spec, cur.generation));
        return;
      case "/api/view":
        res.writeHead(200, { ...common, "content-type": "application/json" }).end(this.viewJson());
        return;
      case "/events":
        res.writeHead(200, { ...common, "content-type": "text/event-stream", connection: "keep-alive" });
        res.write(`retry: 1000\ndata: ${this.viewJson()}\n\n`);
        this.#clients.add(res);
        req.on("close", () => this.#clients.delete(res));
        return;
      case "/metrics":
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(this.options.metrics());
        return;
      default:
        res.writeHead(404, common).end();
    }
  }
}
