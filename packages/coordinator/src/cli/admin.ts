import os from "node:os";
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

export function call(
  io: Io,
  socket: string,
  method: string,
  params: Record<string, unknown>,
  onEvent?: (e: unknown) => void,
) {
  return adminCall(socket, method, params, invoker(io.env), onEvent);
}
