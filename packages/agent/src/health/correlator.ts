import type { ClassifyResult } from "./classify.js";

type SessionState = "connected" | "encrypted" | "authenticated";

/** prosody names sessions c2s<hex> (TCP and websocket) or bosh<sid>; the name is on every line. */
const SESSION = /\b((?:c2s|bosh)[0-9a-f][0-9a-f-]+)\b/;

const AUTHENTICATED = new Set([
  "c2s-authenticated-focus",
  "c2s-authenticated-jvb",
  "c2s-authenticated-user",
  "bosh-authenticated-anonymous",
  "client-authenticated-anonymous",
]);

const SESSION_END = new Set([
  "c2s-auth-failed-disconnect",
  "c2s-client-disconnected",
  "c2s-tls-handshake-failed",
  "truststore-rejected",
  "bosh-client-disconnected",
]);

export const NORMAL_DISCONNECT: ClassifyResult = Object.freeze({
  signal: "c2s-client-disconnected",
  label: "info",
  explain:
    "A client that had logged in closed its session: a normal disconnect (e.g. jicofo or jvb restarting).",
});

export const UNENCRYPTED_DISCONNECT: ClassifyResult = Object.freeze({
  signal: "c2s-client-disconnected",
  label: "info",
  explain:
    "A client closed its session before starting TLS: a port probe or a client giving up, not a rejected password.",
});

export const BOSH_DISCONNECT: ClassifyResult = Object.freeze({
  signal: "bosh-client-disconnected",
  label: "info",
  explain: "A BOSH session ended.",
});

export interface SessionCorrelatorOptions {
  /** Sessions remembered at most (oldest forgotten first). Default 10,000. */
  maxSessions?: number;
}

/**
 * Refines prosody's per-line classification with the session's history. The paper's "wrong
 * password" pattern (section XVII) is `Stream encrypted` then `Client disconnected: connection
 * closed` for the same c2s session without `Authenticated as` in between. The line classifier
 * labels every such disconnect failed (that is what the corpus labels); with the history a
 * disconnect after a login, before TLS (a port probe) or of a BOSH session is only info. A session
 * whose start was not seen (the tail began later) keeps the line's label.
 */
export class SessionCorrelator {
  private readonly sessions = new Map<string, SessionState>();
  private readonly maxSessions: number;

  constructor(opts: SessionCorrelatorOptions = {}) {
    this.maxSessions = opts.maxSessions ?? 10_000;
  }

  get size(): number {
    return this.sessions.size;
  }

  refine(line: string, result: ClassifyResult): ClassifyResult {
    const signal = result.signal;
    if (signal === null) return result;
    const tracked =
      signal === "c2s-client-connected" ||
      signal === "c2s-stream-encrypted" ||
      AUTHENTICATED.has(signal) ||
      SESSION_END.has(signal);
    if (!tracked) return result;
    const id = SESSION.exec(line)?.[1];
    if (id === undefined) return result;

    if (SESSION_END.has(signal)) {
      const state = this.sessions.get(id);
      this.sessions.delete(id);
      if (signal !== "c2s-auth-failed-disconnect") return result;
      if (id.startsWith("bosh")) return BOSH_DISCONNECT;
      if (state === "authenticated") return NORMAL_DISCONNECT;
      if (state === "connected") return UNENCRYPTED_DISCONNECT;
      return result;
    }
    if (AUTHENTICATED.has(signal)) this.set(id, "authenticated");
    else if (signal === "c2s-stream-encrypted") {
      if (this.sessions.get(id) !== "authenticated") this.set(id, "encrypted");
    } else this.set(id, "connected");
    return result;
  }

  private set(id: string, state: SessionState): void {
    this.sessions.delete(id);
    this.sessions.set(detached(id), state);
    if (this.sessions.size > this.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done !== true) this.sessions.delete(oldest.value);
    }
  }
}

/**
 * A copy that shares no memory with the string it was cut from. V8 keeps a slice of 13 or more
 * characters as a view into its parent, so a remembered session id would keep its whole line alive,
 * or in `vmmeet-agent classify` a whole 64 KB read chunk: up to maxSessions of them.
 */
function detached(s: string): string {
  return Buffer.from(s, "utf8").toString("utf8");
}
