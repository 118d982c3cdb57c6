// Where the agent finds the coordinator, and what it says when the address turns out to be wrong.

/** The coordinator serves agents at this path (vmmeet serve prints it). */
export const AGENT_PATH = "/agent";

/** --coordinator as given, with no path (wss://HOST:PORT or wss://HOST:PORT/) meaning the agents' endpoint. */
export function agentEndpoint(url: string): string {
  const u = new URL(url);
  if (u.pathname !== "/" || u.search !== "") return url;
  u.pathname = AGENT_PATH;
  return u.toString();
}

/**
 * What an HTTP status instead of a websocket upgrade means, in one line: ws reports it only as
 * "Unexpected server response: N", which says nothing about what to fix. Undefined for other errors.
 */
export function explainHttpStatus(message: string): string | undefined {
  const m = /^Unexpected server response: (\d{3})$/.exec(message);
  if (!m) return undefined;
  const status = Number(m[1]);
  const what =
    status === 400 || status === 404
      ? `no websocket endpoint at this path: the coordinator serves agents at ${AGENT_PATH} (give wss://HOST:PORT or wss://HOST:PORT${AGENT_PATH})`
      : status === 401 || status === 403
        ? "refused: this agent's certificate or join token was not accepted; enroll again with a token from 'vmmeet agents token NODE'"
        : status === 426
          ? "the server wants another protocol: is this the coordinator's port (vmmeet serve --listen)?"
          : status >= 500
            ? "the server failed; if it is the coordinator, its log says why"
            : "not a websocket upgrade: is this the coordinator's address and port (vmmeet serve --listen)?";
  return `coordinator answered HTTP ${status} instead of a websocket upgrade: ${what}`;
}
