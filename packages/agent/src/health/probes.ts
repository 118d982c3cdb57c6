// Thin probe adapters for the health state machine (state.ts): an HTTP GET of a loopback health endpoint
// and a TCP connect to a loopback port, each bounded by a timeout, and probeComponent() that runs a
// desired state's HealthProbe (rcctl check + http + ports) into observations. All I/O lives here; the
// verdict (assess.ts) stays pure.
import http from "node:http";
import net from "node:net";
import type { HealthObservation } from "./state.js";

export interface ProbeResult {
  ok: boolean;
  /** HTTP status, when the server answered. */
  status?: number;
  /** Why the probe failed (an errno code or "timeout after N ms"); never response content. */
  error?: string;
  ms: number;
}

export interface ProbeOptions {
  timeoutMs?: number;
  /**
   * Where a loopback port really is. Identity on a VM; simulated VMs that share one machine's loopback map
   * the port the VM would use (8888) to the one their simulator listens on. undefined: nothing listens.
   */
  mapPort?: (port: number) => number | undefined | Promise<number | undefined>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const DEFAULT_TIMEOUT_MS = 3000;

function errText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return code ?? (e instanceof Error ? e.message : String(e));
}

/**
 * GET `url` (loopback only: the probe never reaches another host); ok for a 2xx answer. The body is read
 * and dropped so the connection closes cleanly; only the status is kept.
 */
export async function httpGet(url: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const start = Date.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, error: "invalid URL", ms: 0 };
  }
  if (u.protocol !== "http:" || !LOOPBACK.has(u.hostname)) {
    return { ok: false, error: "only http:// on loopback is probed", ms: 0 };
  }
  const wanted = u.port === "" ? 80 : Number(u.port);
  const port = opts.mapPort ? await opts.mapPort(wanted) : wanted;
  if (port === undefined) return { ok: false, error: "ECONNREFUSED", ms: Date.now() - start };
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Omit<ProbeResult, "ms">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, ms: Date.now() - start });
    };
    const req = http.get(
      {
        host: u.hostname === "[::1]" ? "::1" : u.hostname,
        port,
        path: `${u.pathname}${u.search}`,
        agent: false,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        res.resume();
        res.on("end", () => finish({ ok: status >= 200 && status < 300, status }));
        res.on("error", (e) => finish({ ok: false, status, error: errText(e) }));
      },
    );
    const timer = setTimeout(() => {
      finish({ ok: false, error: `timeout after ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on("error", (e) => finish({ ok: false, error: errText(e) }));
  });
}

/** Open (and close) a TCP connection to 127.0.0.1:port. */
export async function tcpConnect(port: number, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const start = Date.now();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const real = opts.mapPort ? await opts.mapPort(port) : port;
  if (real === undefined) return { ok: false, error: "ECONNREFUSED", ms: Date.now() - start };
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port: real });
    let done = false;
    const finish = (r: Omit<ProbeResult, "ms">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, ms: Date.now() - start });
    };
    const timer = setTimeout(() => finish({ ok: false, error: `timeout after ${timeoutMs} ms` }), timeoutMs);
    socket.once("connect", () => finish({ ok: true }));
    socket.once("error", (e) => finish({ ok: false, error: errText(e) }));
  });
}

export interface ProbeSpec {
  service: string;
  http?: string;
  ports: readonly number[];
}

export interface ProbeDeps extends ProbeOptions {
  /** `rcctl check SERVICE` (ServiceManager.check). */
  check: (service: string) => Promise<boolean>;
  now?: () => number;
  /** Injected for tests; default httpGet/tcpConnect. */
  httpGet?: typeof httpGet;
  tcpConnect?: typeof tcpConnect;
}

/**
 * Run one HealthProbe of the desired state: rcctl check, then (only when the service runs) the HTTP
 * endpoint and the ports, concurrently. A stopped service gets no port or HTTP observations: "not
 * running" says it all.
 */
export async function probeComponent(probe: ProbeSpec, deps: ProbeDeps): Promise<HealthObservation[]> {
  const now = deps.now ?? Date.now;
  const get = deps.httpGet ?? httpGet;
  const connect = deps.tcpConnect ?? tcpConnect;
  const o: ProbeOptions = {
    ...(deps.timeoutMs === undefined ? {} : { timeoutMs: deps.timeoutMs }),
    ...(deps.mapPort === undefined ? {} : { mapPort: deps.mapPort }),
  };
  // Observations carry the time they were asked for: a check asked before the agent restarts the service
  // and answered after (rcctl takes a while on a busy machine) tells about the old process, and must not
  // read as "the new one exited" (state.ts drops observations older than the restart).
  const asked = now();
  let running: boolean;
  try {
    running = await deps.check(probe.service);
  } catch {
    // rcctl itself failed (timeout, missing script): say nothing rather than "not running".
    return [];
  }
  const out: HealthObservation[] = [{ kind: "check", at: asked, running }];
  if (!running) return out;
  const tasks: Promise<HealthObservation>[] = probe.ports.map(async (port): Promise<HealthObservation> => {
    const at = now();
    const r = await connect(port, o);
    return { kind: "port", at, port, ok: r.ok, ...(r.error === undefined ? {} : { error: r.error }) };
  });
  const url = probe.http;
  if (url !== undefined) {
    const at = now();
    tasks.push(
      get(url, o).then((r) => ({
        kind: "http" as const,
        at,
        url,
        ok: r.ok,
        ...(r.status === undefined ? {} : { status: r.status }),
        ...(r.error === undefined ? {} : { error: r.error }),
      })),
    );
  }
  out.push(...(await Promise.all(tasks)));
  return out;
}
