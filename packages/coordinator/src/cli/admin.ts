import { readFile } from "node:fs/promises";
import os from "node:os";
import type { AdminEvent, AdminMethod, AdminParams, AdminResult } from "../admin/methods.js";
import { AdminError, adminCall } from "../server/admin.js";
import { EXIT, type Io } from "./io.js";
import { specPaths } from "./paths.js";

/** Who runs the CLI, for the audit log: the login user, and the sudo/doas caller behind root. */
export function invoker(env: NodeJS.ProcessEnv): string {
  const user = os.userInfo().username;
  const via = env.SUDO_USER ?? env.DOAS_USER;
  return via && via !== user ? `${user} (${via})` : user;
}

export function adminSocketPath(io: Io, spec: string | undefined, state: string | undefined): string {
  return `${specPaths(io, spec, state).state}/admin.sock`;
}

/** One admin request: the params and the result (and the events before it) are typed by the method. */
export function call<M extends AdminMethod>(
  io: Io,
  socket: string,
  method: M,
  params: AdminParams<M>,
  onEvent?: (e: AdminEvent<M>) => void,
): Promise<AdminResult<M>> {
  return adminCall(socket, method, params, invoker(io.env), onEvent);
}

/** The spec file's text, which plan and push send to the daemon; a missing file is named as such. */
export function readSpecText(file: string): Promise<string> {
  return readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new Error(`${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
  });
}

/** A spec the daemon refused: its problems on stderr, one `path: message` line each, and exit 1; any other error goes on. */
export function specRefused(io: Io, err: unknown): number {
  const problems = err instanceof AdminError ? err.problems : null;
  if (!problems) throw err;
  for (const p of problems) io.err(`${p}\n`);
  return EXIT.error;
}
