// The agents' door of the coordinator daemon: an HTTPS server (mutual TLS with the deployment CA) carrying
// the enrollment endpoint and the agents' websocket, or - only when asked for and only on loopback - a plain
// HTTP server for tests that need no PKI. Plus the admin commands that manage enrollment.
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import type { Logger } from "pino";
import { StateDirError } from "../secrets/files.js";
import { AdminError, type AdminHandlers } from "../server/admin.js";
import { type AuditInput, EnrollmentService } from "./service.js";
import { EnrollmentStore } from "./store.js";
import { loadServerTls, type ServerTls, serverNames } from "./tls.js";

export interface AgentListenerOptions {
  stateDir: string;
  host: string;
  /** Extra names for the server certificate (DNS names or addresses agents use to reach the host). */
  san?: readonly string[];
  /** Plain ws:// without authentication: refused unless `host` is a loopback address. */
  insecure?: boolean;
  logger: Logger;
  audit: (entry: AuditInput) => Promise<void>;
  knowsNode: (node: string) => boolean;
  /** The node's role in the spec in force (null when none is in force or it lists no such node). */
  roleOf?: (node: string) => string | null;
  now?: () => Date;
}

/** A node's role in `spec`: "host" for the VMM host, its nodes[].role otherwise, null when absent. */
export function roleInSpec(
  spec: { host: { name: string }; nodes: { name: string; role: string }[] } | null | undefined,
  node: string,
): string | null {
  if (!spec) return null;
  if (spec.host.name === node) return "host";
  return spec.nodes.find((n) => n.name === node)?.role ?? null;
}

export interface AgentListener {
  server: http.Server | https.Server;
  /** null in insecure mode. */
  enrollment: EnrollmentService | null;
  store: EnrollmentStore | null;
  tls: ServerTls | null;
}

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIP(host) === 4 && host.startsWith("127."));
}

const upgradeRequired = (_req: http.IncomingMessage, res: http.ServerResponse) =>
  res.writeHead(426, { "content-type": "text/plain" }).end("vmmeet agents connect with a websocket\n");

export async function createAgentListener(options: AgentListenerOptions): Promise<AgentListener> {
  if (options.insecure) {
    if (!isLoopback(options.host))
      throw new Error(
        `insecure mode (no TLS, no agent authentication) listens on loopback only, not on ${options.host}`,
      );
    options.logger.warn(
      { host: options.host },
      "agents' endpoint without TLS or authentication (insecure mode)",
    );
    return { server: http.createServer(upgradeRequired), enrollment: null, store: null, tls: null };
  }
  const tls = await loadServerTls(
    options.stateDir,
    serverNames(options.host, options.san ?? []),
    options.now ? { now: options.now } : {},
  ).catch((err: unknown) => {
    if (err instanceof StateDirError && /no deployment CA/.test(err.message))
      throw new StateDirError(
        `${err.message}: run 'vmmeet init' or 'vmmeet render SPEC' first; agents pin this CA when they join`,
      );
    throw err;
  });
  if (tls.issued)
    options.logger.info(
      { names: tls.names, reason: tls.issued },
      "issued the coordinator's server certificate",
    );
  const store = new EnrollmentStore(options.stateDir, options.now ? { now: options.now } : {});
  await store.load();
  const enrollment = new EnrollmentService({
    store,
    ca: tls.ca,
    logger: options.logger,
    audit: options.audit,
    knowsNode: options.knowsNode,
    ...(options.roleOf ? { roleOf: options.roleOf } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  const server = https.createServer(
    {
      key: tls.keyPem,
      cert: tls.certPem,
      ca: [tls.ca.certPem],
      // Asked for but not required at the TLS layer: the enrollment request comes before the agent has a
      // certificate. Every websocket hello is checked against the certificate (EnrollmentService.authorize).
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: "TLSv1.2",
      requestTimeout: 30_000,
      headersTimeout: 10_000,
    },
    (req, res) => {
      if (!enrollment.handle(req, res)) upgradeRequired(req, res);
    },
  );
  return { server, enrollment, store, tls };
}

export interface EnrollmentAdminDeps {
  listener: () => AgentListener | null;
  /** Close the node's live connection, if any; true when there was one. */
  disconnect: (node: string, code: number, reason: string) => boolean;
  knowsNode: (node: string) => boolean;
  roleOf?: (node: string) => string | null;
  audit: (entry: AuditInput) => Promise<void>;
}

/** Admin-socket methods: agent-token {node, ttlSeconds} and agent-revoke {node}. */
export function enrollmentAdminHandlers(d: EnrollmentAdminDeps) {
  const need = () => {
    const l = d.listener();
    if (!l?.store || !l.enrollment)
      throw new AdminError("this coordinator runs in insecure mode (--insecure): agents do not enroll");
    return { store: l.store, enrollment: l.enrollment };
  };
  const handlers: Pick<AdminHandlers, "agent-token" | "agent-revoke"> = {
    // The node's name and the token's lifetime are checked by the method's schema (admin/methods.ts).
    "agent-token": async (req) => {
      const { store, enrollment } = need();
      const { node, ttlSeconds } = req.params;
      if (!d.knowsNode(node)) throw new AdminError(`node "${node}" is not in the deployment spec in force`);
      const t = await store.issueToken(node, ttlSeconds * 1000, req.user);
      await d.audit({
        kind: "token-issued",
        by: req.user,
        node,
        message: `join token ${t.id} for ${node}, valid until ${t.expiresAt}`,
      });
      return {
        node,
        token: t.token,
        tokenId: t.id,
        expiresAt: t.expiresAt,
        caHash: enrollment.caFingerprint,
        role: d.roleOf?.(node) ?? null,
      };
    },
    "agent-revoke": async (req) => {
      const { store } = need();
      const { node } = req.params;
      const { agent, tokens } = await store.revoke(node, req.user);
      if (!agent && tokens === 0)
        throw new AdminError(`node "${node}" has no certificate and no pending token`);
      // 4004: the agent stops retrying and says it must enroll again.
      const wasConnected = d.disconnect(node, 4004, "certificate revoked");
      await d.audit({
        kind: "agent-revoked",
        by: req.user,
        node,
        message: `${agent ? `certificate ${agent.fingerprint} of ${node} revoked` : `${node} had no certificate`}${tokens ? `; ${tokens} pending join token(s) withdrawn` : ""}${wasConnected ? "; its connection was closed" : ""}`,
      });
      return { node, revoked: agent !== null, fingerprint: agent?.fingerprint ?? null, tokens, wasConnected };
    },
  };
  return handlers;
}

/** The enrollment columns of `vmmeet agents list` for one node. */
export function enrollmentOf(
  l: AgentListener | null,
  node: string,
): { enrollment: "insecure" | "enrolled" | "revoked" | "pending" | "none"; certificateUntil: string | null } {
  if (!l?.store) return { enrollment: "insecure", certificateUntil: null };
  const rec = l.store.agent(node);
  if (rec && rec.revokedAt === undefined) return { enrollment: "enrolled", certificateUntil: rec.notAfter };
  if (l.store.pendingTokens().some((t) => t.node === node))
    return { enrollment: "pending", certificateUntil: null };
  return { enrollment: rec ? "revoked" : "none", certificateUntil: null };
}

/** Rows for `vmmeet agents list` of nodes that have a certificate or a token but no status yet. */
export function enrollmentOnlyRows(l: AgentListener | null, listed: ReadonlySet<string>) {
  if (!l?.store) return [];
  const names = new Set([
    ...l.store.agents().map((a) => a.node),
    ...l.store.pendingTokens().map((t) => t.node),
  ]);
  return [...names]
    .filter((n) => !listed.has(n))
    .sort()
    .map((node) => ({
      node,
      role: "-",
      connected: false,
      lastSeen: null,
      agentVersion: null,
      applied: 0,
      ...enrollmentOf(l, node),
    }));
}
