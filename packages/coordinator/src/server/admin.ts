// The admin channel: a unix socket in the state directory, mode 0600, so only root (the daemon's user) on
// the VMM host can use it. Newline-delimited JSON: a request {id, method, params, user}; the daemon answers
// with zero or more {id, event} lines and one {id, result} or {id, error} line.
import { chmod, rm } from "node:fs/promises";
import net from "node:net";
import type { Logger } from "pino";

export interface AdminRequest {
  id: number;
  method: string;
  params: Record<string, unknown>;
  /** The host user running the CLI (and SUDO_USER when run through sudo/doas), for the audit log. */
  user: string;
}

export type AdminHandler = (
  req: AdminRequest,
  emit: (event: unknown) => void,
  signal: AbortSignal,
) => Promise<unknown>;

export class AdminError extends Error {
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class AdminServer {
  #server: net.Server | null = null;
  /** Aborted by stop(): requests that only wait (events --follow) end, so the server can close. */
  readonly #stopping = new AbortController();

  constructor(
    private readonly socketPath: string,
    private readonly handlers: Record<string, AdminHandler>,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await removeStaleSocket(this.socketPath);
    const server = net.createServer((sock) => this.#onConnection(sock));
    // The socket is created with the process umask; narrow it so there is no moment at which the socket is
    // reachable by others, then chmod for good measure.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.socketPath, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    await chmod(this.socketPath, 0o600);
    this.#server = server;
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = null;
    if (!s) return;
    // close() waits for every connection to end: a follower ends its request (answered like any other,
    // so its client exits), a running request (a push) is answered when it finishes.
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    this.#stopping.abort();
    await closed;
    await rm(this.socketPath, { force: true });
  }

  #onConnection(sock: net.Socket): void {
    let buf = "";
    const abort = new AbortController();
    sock.on("close", () => abort.abort());
    sock.on("error", () => abort.abort());
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      if (buf.length > 4 * 1024 * 1024) {
        sock.destroy();
        return;
      }
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void this.#handle(line, sock, AbortSignal.any([abort.signal, this.#stopping.signal]));
        nl = buf.indexOf("\n");
      }
    });
  }

  async #handle(line: string, sock: net.Socket, signal: AbortSignal): Promise<void> {
    const write = (obj: unknown) => {
      if (!sock.destroyed) sock.write(`${JSON.stringify(obj)}\n`);
    };
    let req: AdminRequest;
    try {
      req = JSON.parse(line) as AdminRequest;
      if (typeof req.id !== "number" || typeof req.method !== "string")
        throw new Error("request needs id and method");
    } catch (err) {
      write({ id: null, error: { message: `bad admin request: ${(err as Error).message}` } });
      return;
    }
    const handler = this.handlers[req.method];
    if (!handler) {
      write({ id: req.id, error: { message: `unknown admin method "${req.method}"` } });
      return;
    }
    try {
      const result = await handler(
        { ...req, params: req.params ?? {}, user: String(req.user ?? "unknown") },
        (event) => write({ id: req.id, event }),
        signal,
      );
      write({ id: req.id, result });
    } catch (err) {
      const e = err as Error & { details?: Record<string, unknown> };
      if (!(err instanceof AdminError))
        this.logger.error({ method: req.method, err: e.message }, "admin request failed");
      write({ id: req.id, error: { message: e.message, ...(e.details ?? {}) } });
    }
  }
}

/** A socket file left by a daemon that was killed: remove it, unless a live daemon answers on it. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(socketPath);
    c.once("connect", () => {
      c.destroy();
      resolve(true);
    });
    c.once("error", () => resolve(false));
  });
  if (alive) throw new Error(`${socketPath}: another vmmeet daemon is running on this state directory`);
  await rm(socketPath, { force: true });
}

/** The CLI's side of the admin socket. */
export async function adminCall(
  socketPath: string,
  method: string,
  params: Record<string, unknown>,
  user: string,
  onEvent?: (event: unknown) => void,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socketPath);
    let buf = "";
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      sock.destroy();
      fn();
    };
    sock.setEncoding("utf8");
    sock.once("connect", () => sock.write(`${JSON.stringify({ id: 1, method, params, user })}\n`));
    sock.on("error", (err: NodeJS.ErrnoException) => {
      const why =
        err.code === "ENOENT" || err.code === "ECONNREFUSED"
          ? `no coordinator is running on ${socketPath} (start it with 'vmmeet serve')`
          : err.code === "EACCES"
            ? `${socketPath}: permission denied (the admin socket is root's only)`
            : `${socketPath}: ${err.message}`;
      finish(() => reject(new Error(why)));
    });
    sock.on("close", () => finish(() => reject(new Error("the coordinator closed the admin connection"))));
    sock.on("data", (chunk: string) => {
      buf += chunk;
      let nl = buf.indexOf("\n");
      while (nl >= 0) {
        const msg = JSON.parse(buf.slice(0, nl)) as {
          event?: unknown;
          result?: unknown;
          error?: { message: string } & Record<string, unknown>;
        };
        buf = buf.slice(nl + 1);
        if ("event" in msg) onEvent?.(msg.event);
        else if (msg.error) {
          const e = new AdminError(msg.error.message, msg.error);
          finish(() => reject(e));
          return;
        } else {
          finish(() => resolve(msg.result));
          return;
        }
        nl = buf.indexOf("\n");
      }
    });
  });
}
