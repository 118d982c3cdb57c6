import pino from "pino";
import { CoordinatorDaemon } from "../../server/daemon.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";
import { specPaths } from "../paths.js";

export function parseListen(value: string, what: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (!m || Number(m[2]) > 65535) throw new UsageError(`${what}: must be ADDR:PORT, e.g. 127.0.0.1:7443`);
  return { host: m[1]!.replace(/^\[|\]$/g, ""), port: Number(m[2]) };
}

/** 127.0.0.0/8, ::1 and localhost: the addresses only this machine reaches. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const serve: Command = {
  name: "serve",
  usage: `vmmeet serve [SPEC] [--state DIR] [--listen ADDR:PORT] [--san NAME]... [--metrics PORT]
                    [--http 127.0.0.1:PORT] [--heartbeat SECONDS] [--insecure]

Runs the coordinator on the VMM host. It keeps in the state directory (default .vmmeet/ beside SPEC, or
/var/db/vmmeet for /etc/vmmeet/vmmeet.yaml; mode 0700) the generations and their history, the secrets and
CA, what each node last reported and the append-only audit.log; it listens for agents on --listen (default
127.0.0.1:7443) and for the vmmeet CLI on the unix socket STATE/admin.sock (mode 0600: root and the user
the daemon runs as, _vmmeet under rc.d/vmmeetd). With --metrics PORT it serves Prometheus metrics on
127.0.0.1:PORT/metrics. With --http 127.0.0.1:PORT (a loopback address only; PORT 0 picks a free one) it
serves a read-only status page at http://127.0.0.1:PORT/: the topology coloured by live health, the verdict,
each node's services and signals with their explanation and fix, the recent events and the push in progress
stage by stage, updated live; also /topology.svg, /api/view (JSON) and /metrics. It shows no secret. From
another machine, reach it through an ssh tunnel (ssh -L 8080:127.0.0.1:PORT host). Logs are JSON lines on
stdout. SIGTERM or SIGINT stops it cleanly.

Agents connect with wss:// and mutual TLS: the server certificate is issued by the deployment CA (run
'vmmeet init' first) for the --listen address (every local address for 0.0.0.0) plus each --san NAME; an
agent joins once with a token from 'vmmeet agents token NODE' and uses its client certificate from then on.
--insecure serves plain ws:// without any authentication, on a loopback --listen only: for tests.

Exit status: 0 after a clean stop, 1 error, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      state: STRING,
      listen: STRING,
      metrics: STRING,
      http: STRING,
      heartbeat: STRING,
      san: { ...STRING, multiple: true },
      insecure: BOOLEAN,
    });
    const paths = specPaths(io, positionals[0], str(values.state));
    const listen = parseListen(str(values.listen) ?? "127.0.0.1:7443", "--listen");
    const metricsArg = str(values.metrics);
    if (metricsArg !== undefined && !/^\d{1,5}$/.test(metricsArg))
      throw new UsageError("--metrics: must be a port number");
    const httpArg = str(values.http);
    const http = httpArg === undefined ? null : parseListen(httpArg, "--http");
    if (http && !isLoopback(http.host))
      throw new UsageError("--http: the status page listens on a loopback address only, e.g. 127.0.0.1:8080");
    const hb = str(values.heartbeat);
    if (hb !== undefined && !/^\d+(\.\d+)?$/.test(hb)) throw new UsageError("--heartbeat: must be seconds");
    const logger = pino({
      base: { svc: "vmmeet" },
      redact: {
        paths: ["*.password", "*.secret", "*.specText", "*.content", "*.token", "*.keyPem"],
        censor: "<redacted>",
      },
    });
    const daemon = new CoordinatorDaemon({
      stateDir: paths.state,
      listen,
      logger,
      heartbeatMs: hb ? Math.round(Number(hb) * 1000) : 15_000,
      metrics: metricsArg ? { port: Number(metricsArg) } : null,
      http,
      ...(values.insecure === true ? { insecure: true } : {}),
      san: Array.isArray(values.san) ? values.san.filter((v): v is string => typeof v === "string") : [],
    });
    await daemon.start();
    io.err(
      `vmmeet coordinator: agents on ${values.insecure === true ? "ws" : "wss"}://${listen.host.includes(":") ? `[${listen.host}]` : listen.host}:${daemon.port}/agent, admin ${daemon.adminSocket}${metricsArg ? `, metrics 127.0.0.1:${daemon.metricsPort}/metrics` : ""}${http ? `, status page http://${http.host.includes(":") ? `[${http.host}]` : http.host}:${daemon.httpPort}/` : ""}\n`,
    );
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        logger.info({ signal: sig }, "stopping");
        daemon.stop().then(resolve, resolve);
      };
      process.once("SIGTERM", () => stop("SIGTERM"));
      process.once("SIGINT", () => stop("SIGINT"));
    });
    return EXIT.ok;
  },
};
