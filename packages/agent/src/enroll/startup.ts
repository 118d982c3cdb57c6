// What main.ts does about security before the daemon starts: decide how the agent talks to its
// coordinator, enrolling first when --join is given.
//
//   wss://  mutual TLS with the material in STATE/enroll/; with --join TOKEN --ca-hash HASH and no
//           enrollment made with that token yet, enroll first (network failures are retried with a capped
//           backoff for a while: the VMM host may still be booting; refusals are final).
//   ws://   no TLS and no authentication: accepted for a loopback coordinator only (tests), never for an
//           address another machine could answer on.
import { cappedDelay } from "@vmmeet/node";
import type { NodeRole } from "@vmmeet/shared";
import type { Logger } from "pino";
import { StateStore } from "../state/store.js";
import type { TransportTls } from "../transport/tls.js";
import { asRole, EnrollError, type Enrollment, enroll, joinTokenId, loadEnrollment } from "./enroll.js";
import { parseCaHash } from "./pin.js";

export interface SecureStartOptions {
  coordinator: string | null;
  node: string;
  stateDir: string;
  join?: string;
  caHash?: string;
  /** --role: the node's role as the operator states it. */
  role?: string;
  logger: Logger;
  /** How long network failures of the enrollment are retried (default 10 minutes). */
  enrollRetryMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

export type SecureStart =
  | { ok: true; tls?: TransportTls; enrolled: Enrollment | null; role: NodeRole | null }
  /** exit: 64 for a bad command line, 1 for a refusal or an unusable state directory. */
  | { ok: false; exit: 1 | 64; message: string };

export function isLoopbackUrl(url: string): boolean {
  try {
    const h = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
  } catch {
    return false;
  }
}

/**
 * How the agent connects (see the top of this file) and which role it is pinned to. The role comes from
 * --role, the enrollment (the coordinator's spec at join time) or the last applied state, whichever are
 * known, and they must agree: from then on a desired state for another role is refused, so nobody who
 * controls the link can make a jicofo VM write prosody's or the host's files.
 */
export async function secureStart(options: SecureStartOptions): Promise<SecureStart> {
  if (options.role !== undefined && asRole(options.role) === null)
    return { ok: false, exit: 64, message: `--role must be one of web, xmpp, jicofo, jvb, turn, host` };
  const link = await connectStart(options);
  if (!link.ok) return link;
  const persisted = await new StateStore(options.stateDir)
    .load()
    .then((s) => asRole(s?.desired?.role))
    .catch(() => null);
  const sources: [string, NodeRole | null][] = [
    ["--role", options.role === undefined ? null : asRole(options.role)],
    ["the enrollment", link.enrolled?.role ?? null],
    ["the last applied state", persisted],
  ];
  const known = sources.filter((s): s is [string, NodeRole] => s[1] !== null);
  const first = known[0];
  const conflict = known.find((s) => s[1] !== first?.[1]);
  if (first && conflict)
    return {
      ok: false,
      exit: 1,
      message: `${first[0]} makes this node a ${first[1]} node, ${conflict[0]} a ${conflict[1]} node: a node does not change its role (enroll a fresh state directory)`,
    };
  if (!first)
    options.logger.warn(
      "no role known yet (no --role, none at enrollment, nothing applied): any role is accepted until a restart after the first apply pins it",
    );
  return { ...link, role: first?.[1] ?? null };
}

async function connectStart(options: SecureStartOptions): Promise<SecureStart> {
  const joining = options.join !== undefined || options.caHash !== undefined;
  if (joining && (options.join === undefined || options.caHash === undefined))
    return { ok: false, exit: 64, message: "--join TOKEN and --ca-hash sha256:HEX go together" };
  if (options.caHash !== undefined && parseCaHash(options.caHash) === null)
    return { ok: false, exit: 64, message: "--ca-hash must be sha256: followed by 64 hex digits" };
  if (options.join !== undefined && joinTokenId(options.join) === "")
    return { ok: false, exit: 64, message: "--join: not a join token (vmmeet agents token NODE prints one)" };
  if (options.coordinator === null) {
    if (joining) return { ok: false, exit: 64, message: "--join needs --coordinator wss://HOST:PORT/agent" };
    return { ok: true, enrolled: null, role: null };
  }
  let url: URL;
  try {
    url = new URL(options.coordinator);
  } catch {
    return { ok: false, exit: 64, message: "--coordinator is not a URL" };
  }
  if (url.protocol === "ws:") {
    if (joining) return { ok: false, exit: 64, message: "--join needs a wss:// coordinator URL" };
    if (!isLoopbackUrl(options.coordinator))
      return {
        ok: false,
        exit: 64,
        message:
          "ws:// (no TLS, no authentication) is accepted for a loopback coordinator only; use wss:// and enroll with --join",
      };
    options.logger.warn(
      { coordinator: options.coordinator },
      "insecure coordinator link (ws:// on loopback, for tests)",
    );
    return { ok: true, enrolled: null, role: null };
  }
  if (url.protocol !== "wss:")
    return { ok: false, exit: 64, message: "--coordinator must be a wss:// (or, for tests, ws://) URL" };

  let current: Enrollment | null;
  try {
    current = await loadEnrollment(options.stateDir);
  } catch (err) {
    return { ok: false, exit: 1, message: (err as Error).message };
  }
  const pin = options.caHash === undefined ? undefined : (parseCaHash(options.caHash) ?? undefined);
  const sameJoin =
    current !== null &&
    options.join !== undefined &&
    current.tokenId === joinTokenId(options.join) &&
    current.caHash === pin &&
    current.node === options.node;
  if (options.join !== undefined && pin !== undefined && !sameJoin) {
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const deadline = Date.now() + (options.enrollRetryMs ?? 600_000);
    for (let attempt = 0; ; attempt++) {
      try {
        current = await enroll({
          coordinatorUrl: options.coordinator,
          node: options.node,
          token: options.join,
          caHash: pin,
          stateDir: options.stateDir,
          logger: options.logger,
        });
        break;
      } catch (err) {
        const retry = err instanceof EnrollError && err.retry && Date.now() < deadline;
        options.logger.error({ err: (err as Error).message, retry }, "enrollment failed");
        if (!retry) return { ok: false, exit: 1, message: `enrollment failed: ${(err as Error).message}` };
        await sleep(cappedDelay(attempt, { initialMs: 1000, maxMs: 30_000, factor: 2 }));
      }
    }
  } else if (sameJoin) {
    options.logger.info(
      { tokenId: current?.tokenId },
      "already enrolled with this join token; --join ignored",
    );
  }
  if (current === null)
    return {
      ok: false,
      exit: 1,
      message:
        "not enrolled: start the agent once with --join TOKEN --ca-hash sha256:HEX (from 'vmmeet agents token NODE' on the VMM host)",
    };
  if (current.node !== options.node)
    return {
      ok: false,
      exit: 1,
      message: `this state directory is enrolled as node "${current.node}", not "${options.node}"`,
    };
  return {
    ok: true,
    enrolled: current,
    role: null,
    tls: { ca: current.ca, cert: current.cert, key: current.key, caHash: current.caHash },
  };
}
