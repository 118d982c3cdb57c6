// The coordinator's side of enrollment and of agent authentication.
//
// Enrollment (HTTPS, the same port as the agents' websocket; no client certificate needed):
//   GET  /enroll/ca  the deployment CA (PEM). Public: the agent fetches it over an unverified connection and
//                    accepts it only when its hash equals the one the operator gave it (kubeadm's
//                    discovery-token-ca-cert-hash), then talks to the coordinator with that CA only.
//   POST /enroll     {node, token, publicKeyPem, signature} → {certPem, caPem}: spends the one-time token
//                    bound to `node` and signs a client certificate (CN = node) for the agent's own key
//                    (the private key never leaves the VM; `signature` proves the agent holds it).
// Every other request needs a client certificate issued at enrollment; the websocket's hello is checked
// by `authorize`: certificate verified by the CA, CN equal to the hello's node, not revoked, and the
// one currently enrolled for that node. Each refusal gets a close code and an audit entry (rate limited,
// so that a stranger hammering the port cannot fill the audit log).
import { createPublicKey, verify, X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { pemFingerprint } from "@vmmeet/node";
import { CloseCode } from "@vmmeet/shared";
import type { Logger } from "pino";
import { z } from "zod";
import { type CaMaterial, signCertificate } from "../secrets/ca.js";
import { type EnrollmentStore, TOKEN_RE, TokenRefused, tokenId } from "./store.js";

/** What a refusal writes to the audit log (state/store.ts AuditEntry without its time). */
export interface AuditInput {
  kind: string;
  node?: string;
  by?: string;
  result?: string;
  message: string;
}

export type AgentAuthorization = { ok: true } | { ok: false; close: number; reason: string };

export const ENROLL_PATH = "/enroll";
export const ENROLL_CA_PATH = "/enroll/ca";
/** The text the agent signs with its new key: binds the key to the node and the token it spends. */
export function enrollChallenge(node: string, tokenIdText: string): string {
  return `vmmeet-enroll:v1:${node}:${tokenIdText}`;
}

export const CLIENT_CERT_DAYS = 730;
const MAX_BODY_BYTES = 16 * 1024;
/** Failed enrollments tolerated per remote address and minute before it gets 429. */
const FAILURES_PER_MINUTE = 10;

const EnrollRequest = z
  .object({
    node: z.string().regex(/^[a-z][a-z0-9]{0,30}$/, "must be a node name"),
    token: z.string().max(128),
    publicKeyPem: z.string().max(8192),
    signature: z
      .string()
      .max(2048)
      .regex(/^[A-Za-z0-9+/=]+$/, "must be base64"),
  })
  .strict();

/** Audit entries for refusals: the first of a kind per minute is written, the rest are counted. */
export class RefusalAuditor {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly write: (e: AuditInput) => Promise<void>,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
    private readonly windowMs = 60_000,
  ) {}

  record(key: string, entry: AuditInput): void {
    const t = this.now();
    const prev = this.#last.get(key);
    if (prev && t - prev.at < this.windowMs) {
      prev.suppressed += 1;
      return;
    }
    if (this.#last.size > 10_000) {
      for (const [k, v] of this.#last) if (t - v.at >= this.windowMs) this.#last.delete(k);
    }
    this.#last.set(key, { at: t, suppressed: 0 });
    const n = prev?.suppressed ?? 0;
    const message = n > 0 ? `${entry.message} (and ${n} similar refusals not recorded)` : entry.message;
    this.write({ ...entry, message }).catch((err: unknown) =>
      this.logger.error({ err: (err as Error).message }, "cannot write the audit log"),
    );
  }
}

export interface EnrollmentServiceOptions {
  store: EnrollmentStore;
  ca: CaMaterial;
  logger: Logger;
  audit: (entry: AuditInput) => Promise<void>;
  /** False for a node the spec in force does not list (enrollment and hello are refused). */
  knowsNode: (node: string) => boolean;
  /** The node's role in the spec in force, sent to the agent at enrollment (it pins it), or null. */
  roleOf?: (node: string) => string | null;
  now?: () => Date;
  certDays?: number;
}

export class EnrollmentService {
  readonly auditor: RefusalAuditor;
  readonly #failures = new Map<string, { start: number; count: number }>();
  readonly #caFingerprint: string;

  constructor(private readonly options: EnrollmentServiceOptions) {
    this.auditor = new RefusalAuditor(options.audit, options.logger);
    this.#caFingerprint = pemFingerprint(options.ca.certPem);
  }

  get caFingerprint(): string {
    return this.#caFingerprint;
  }

  #now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  /** Handles the enrollment paths; false for any other request (the caller answers it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = (req.url ?? "").split("?")[0];
    if (url === ENROLL_CA_PATH) {
      if (req.method !== "GET") reply(res, 405, { error: "use GET" });
      else res.writeHead(200, { "content-type": "application/x-pem-file" }).end(this.options.ca.certPem);
      return true;
    }
    if (url !== ENROLL_PATH) return false;
    if (req.method !== "POST") {
      reply(res, 405, { error: "use POST" });
      return true;
    }
    void this.#enroll(req, res).catch((err: unknown) => {
      this.options.logger.error({ err: (err as Error).message }, "enrollment failed");
      if (!res.headersSent) reply(res, 500, { error: "internal error" });
    });
    return true;
  }

  async #enroll(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = req.socket.remoteAddress ?? "?";
    const log = this.options.logger.child({ remote });
    if (this.#limited(remote)) {
      reply(res, 429, { error: "too many failed enrollments from this address; wait a minute" });
      return;
    }
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === null) {
      this.#failed(remote);
      res.setHeader("connection", "close");
      reply(res, 413, { error: `request larger than ${MAX_BODY_BYTES} bytes` });
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      this.#failed(remote);
      reply(res, 400, { error: "the request is not JSON" });
      return;
    }
    const parsed = EnrollRequest.safeParse(json);
    if (!parsed.success) {
      this.#failed(remote);
      const first = parsed.error.issues[0];
      reply(res, 400, {
        error: `bad enrollment request: ${first?.path.join(".") || "(request)"}: ${first?.message ?? "invalid"}`,
      });
      return;
    }
    const { node, token, publicKeyPem, signature } = parsed.data;
    const refuse = (kind: string, status: number, message: string) => {
      this.#failed(remote);
      log.warn({ node, tokenId: tokenId(token) || undefined, reason: kind }, "enrollment refused");
      this.auditor.record(`enroll:${kind}:${node}:${remote}`, {
        kind: "enroll-refused",
        node,
        result: kind,
        message: `enrollment of ${node} from ${remote} refused: ${message}`,
      });
      reply(res, status, { error: message, reason: kind });
    };
    if (!TOKEN_RE.test(token)) return refuse("malformed", 403, "the join token is malformed");
    if (!this.options.knowsNode(node))
      return refuse("unknown-node", 403, `node "${node}" is not in the deployment spec`);
    const key = checkPublicKey(publicKeyPem);
    if (typeof key === "string") return refuse("bad-key", 400, key);
    const challenge = Buffer.from(enrollChallenge(node, tokenId(token)));
    let signed = false;
    try {
      signed = verify("sha256", challenge, key, Buffer.from(signature, "base64"));
    } catch {
      signed = false;
    }
    if (!signed) return refuse("bad-signature", 400, "the signature does not match the public key");
    let certPem = "";
    try {
      const rec = await this.options.store.spendToken(node, token, remote, () => {
        certPem = signCertificate(this.options.ca, {
          publicKeyPem,
          commonName: node,
          usage: "client",
          now: this.#now(),
          days: this.options.certDays ?? CLIENT_CERT_DAYS,
        });
        const x = new X509Certificate(certPem);
        return {
          fingerprint: pemFingerprint(certPem),
          serial: x.serialNumber,
          notAfter: new Date(x.validTo).toISOString(),
        };
      });
      log.info({ node, tokenId: rec.tokenId, fingerprint: rec.fingerprint }, "agent enrolled");
      await this.options.audit({
        kind: "agent-enrolled",
        node,
        result: "ok",
        message: `node ${node} enrolled from ${remote} with join token ${rec.tokenId}; client certificate ${rec.fingerprint} valid until ${rec.notAfter}`,
      });
      reply(res, 200, { certPem, caPem: this.options.ca.certPem, role: this.options.roleOf?.(node) ?? null });
    } catch (err) {
      if (err instanceof TokenRefused) return refuse(err.kind, 403, err.message);
      throw err;
    }
  }

  /** The hello check of a TLS agent connection (AgentServer's `authorize`). */
  authorize(hello: { node: string }, req: IncomingMessage): AgentAuthorization {
    const sock = req.socket as TLSSocket;
    const remote = `${sock.remoteAddress ?? "?"}`;
    const refuse = (close: number, kind: string, reason: string): AgentAuthorization => {
      this.auditor.record(`hello:${kind}:${hello.node}:${remote}`, {
        kind: "agent-refused",
        node: hello.node,
        result: String(close),
        message: `connection of ${hello.node} from ${remote} refused (${kind}): ${reason}`,
      });
      return { ok: false, close, reason };
    };
    const cert = typeof sock.getPeerCertificate === "function" ? sock.getPeerCertificate() : null;
    if (!cert?.raw)
      return refuse(
        CloseCode.unauthorized,
        "no-certificate",
        "no client certificate: enroll the agent with --join TOKEN --ca-hash HASH (vmmeet agents token NODE)",
      );
    if (!sock.authorized)
      return refuse(
        CloseCode.unauthorized,
        "untrusted-certificate",
        `the client certificate is not accepted (${String(sock.authorizationError ?? "not issued by the deployment CA")})`,
      );
    const cn = typeof cert.subject?.CN === "string" ? cert.subject.CN : "";
    const fingerprint = pemFingerprint(
      `-----BEGIN CERTIFICATE-----\n${cert.raw.toString("base64")}\n-----END CERTIFICATE-----\n`,
    );
    const status = this.options.store.certificateStatus(cn, fingerprint);
    if (status === "revoked")
      return refuse(
        CloseCode.revoked,
        "revoked",
        `the certificate of ${cn || "this agent"} was revoked: enroll again with a new join token`,
      );
    if (cn !== hello.node)
      return refuse(
        CloseCode.unauthorized,
        "wrong-node",
        `the certificate is for node "${cn}", the hello says "${hello.node}"`,
      );
    if (status !== "enrolled")
      return refuse(
        CloseCode.unauthorized,
        "not-enrolled",
        `the certificate is not the one enrolled for ${cn}: enroll again with a new join token`,
      );
    if (!this.options.knowsNode(hello.node))
      return refuse(
        CloseCode.unknownNode,
        "unknown-node",
        `node "${hello.node}" is not in the deployment spec`,
      );
    return { ok: true };
  }

  #limited(remote: string): boolean {
    const f = this.#failures.get(remote);
    if (!f) return false;
    if (Date.now() - f.start > 60_000) {
      this.#failures.delete(remote);
      return false;
    }
    return f.count >= FAILURES_PER_MINUTE;
  }

  #failed(remote: string): void {
    const now = Date.now();
    if (this.#failures.size > 10_000) {
      for (const [k, v] of this.#failures) if (now - v.start > 60_000) this.#failures.delete(k);
    }
    const f = this.#failures.get(remote);
    if (!f || now - f.start > 60_000) this.#failures.set(remote, { start: now, count: 1 });
    else f.count += 1;
  }
}

/** The agent's public key, or why it is refused: RSA (node-forge signs only RSA keys), 2048 to 8192 bits. */
function checkPublicKey(pem: string): ReturnType<typeof createPublicKey> | string {
  let key: ReturnType<typeof createPublicKey>;
  try {
    key = createPublicKey(pem);
  } catch {
    return "publicKeyPem is not a PEM public key";
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== "rsa" || bits < 2048 || bits > 8192)
    return "publicKeyPem must be an RSA key of 2048 to 8192 bits";
  return key;
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" }).end(`${JSON.stringify(body)}\n`);
}

/** The request body as text, or null when it exceeds `limit` bytes (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        done = true;
        resolve(null);
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      if (!done) {
        done = true;
        resolve(Buffer.concat(chunks).toString("utf8"));
      }
    });
    req.on("error", (err) => {
      if (!done) {
        done = true;
        reject(err);
      }
    });
  });
}
