import os from "node:os";
import type { AdminEvent, AdminMethod, AdminParams, AdminResult } from "../admin/methods.js";
import { adminCall } from "../server/admin.js";
import type { Io } from "./io.js";
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
