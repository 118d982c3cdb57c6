// The admin channel: a unix socket in the state directory, mode 0600, so only root (the daemon's user) on
// the VMM host can use it. Newline-delimited JSON: a request {id, method, params, user}; the daemon answers
// with zero or more {id, event} lines and one {id, result} or {id, error} line. What each method takes and
// gives is in admin/methods.ts: params are validated here before a handler runs, replies by adminCall.
import { chmod, rm } from "node:fs/promises";
import net from "node:net";
import type { Logger } from "pino";
import * as z from "zod";
import {
  type AdminEvent,
  type AdminEventInput,
  type AdminMethod,
  type AdminParams,
  type AdminParamsParsed,
  type AdminResult,
  type AdminResultInput,
  describeIssues,
  isAdminMethod,
  SCHEMAS,
} from "../admin/methods.js";

export interface AdminRequest<M extends AdminMethod> {
  /** Validated against the method's schema, defaults filled in. */
  params: AdminParamsParsed<M>;
  /** The host user running the CLI (and SUDO_USER when run through sudo/doas), for the audit log. */
  user: string;
}

export type AdminHandler<M extends AdminMethod> = (
  req: AdminRequest<M>,
  emit: (event: AdminEventInput<M>) => void,
  signal: AbortSignal,
) => Promise<AdminResultInput<M>>;

/** One handler per admin method: the daemon registers them all (server/daemon.ts). */
export type AdminHandlers = { [M in AdminMethod]: AdminHandler<M> };

/** The request line as it arrives; the params are checked against the method's schema after. */
const RequestLine = z.object({
  id: z.number(),
  method: z.string(),
  params: z.unknown().optional(),
  user: z.unknown().optional(),
});

/** A reply line: an event of the request, its result or its error. */
const ReplyLine = z.object({
  event: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.looseObject({ message: z.string() }).optional(),
});

export class AdminError extends Error {
  constructor(
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The spec's problems, one `path: message` line each, when the error is an invalid spec. */
  get problems(): string[] | null {
    const parsed = z.array(z.string()).safeParse(this.details?.problems);
    return parsed.success ? parsed.data : null;
  }
}

export class AdminServer {
  #server: net.Server | null = null;
  /** Aborted by stop(): requests that only wait (events --follow) end, so the server can close. */
  readonly #stopping = new AbortController();

  constructor(
    private readonly socketPath: string,
    private readonly handlers: AdminHandlers,
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
    let req: z.infer<typeof RequestLine>;
    try {
      const parsed = RequestLine.safeParse(JSON.parse(line));
      if (!parsed.success) throw new Error("request needs id and method");
      req = parsed.data;
    } catch (err) {
      write({ id: null, error: { message: `bad admin request: ${(err as Error).message}` } });
      return;
    }
    const { id, method } = req;
    if (!isAdminMethod(method)) {
      write({ id, error: { message: `unknown admin method "${method}"` } });
      return;
    }
    try {
      const result = await this.#dispatch(
        method,
        req.params ?? {},
        String(req.user ?? "unknown"),
        signal,
        (event) => write({ id, event }),
      );
      write({ id, result });
    } catch (err) {
      const e = err as Error & { details?: Record<string, unknown> };
      if (!(err instanceof AdminError)) this.logger.error({ method, err: e.message }, "admin request failed");
      write({ id, error: { message: e.message, ...(e.details ?? {}) } });
    }
  }

  /** Validates the params against the method's schema (bad params: `method.field: message`), then runs it. */
  #dispatch<M extends AdminMethod>(
    method: M,
    rawParams: unknown,
    user: string,
    signal: AbortSignal,
    emit: (event: unknown) => void,
  ): Promise<unknown> {
    const params = SCHEMAS[method].params.safeParse(rawParams);
    if (!params.success) throw new AdminError(describeIssues(method, params.error));
    const handler: AdminHandler<M> = this.handlers[method];
    return handler({ params: params.data, user }, emit, signal);
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

/**
 * The CLI's side of the admin socket: sends one request and resolves with its result, checked against the
 * method's schema like every event before it (a reply that does not match is an error, not a cast).
 */
export async function adminCall<M extends AdminMethod>(
  socketPath: string,
  method: M,
  params: AdminParams<M>,
  user: string,
  onEvent?: (event: AdminEvent<M>) => void,
): Promise<AdminResult<M>> {
  const schemas = SCHEMAS[method];
  const checked = <T>(schema: z.ZodType<T>, value: unknown, what: string): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success)
      throw new Error(
        `the coordinator's ${what} does not match this vmmeet: ${describeIssues(method, parsed.error)}`,
      );
    return parsed.data;
  };
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
        try {
          const msg = checked(ReplyLine, JSON.parse(buf.slice(0, nl)), "reply");
          buf = buf.slice(nl + 1);
          if ("event" in msg) onEvent?.(checked(schemas.event, msg.event, `${method} event`));
          else if (msg.error) {
            const e = new AdminError(msg.error.message, msg.error);
            finish(() => reject(e));
            return;
          } else {
            const result = checked(schemas.result, msg.result, `${method} result`);
            finish(() => resolve(result));
            return;
          }
        } catch (err) {
          finish(() => reject(err));
          return;
        }
        nl = buf.indexOf("\n");
      }
    });
  });
}
