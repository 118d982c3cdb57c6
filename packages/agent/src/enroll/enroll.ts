// The agent's enrollment: on its first start with --join TOKEN --ca-hash sha256:HEX it
//   1. fetches the deployment CA from https://COORDINATOR/enroll/ca without verifying the server (it has
//      nothing to verify with yet) and accepts it only when its hash is the pinned one (kubeadm's
//      discovery by CA hash); nothing secret has been sent at this point;
//   2. generates its own key pair, and over a connection that trusts only that CA and checks the
//      coordinator's name, sends the one-time token, its public key and a signature proving it holds the
//      private key; the coordinator returns a client certificate for exactly this node name;
//   3. keeps CA, key and certificate in STATE/enroll/ (directory 0700, files 0600) and uses them for mutual
//      TLS from then on. The token itself is never stored, only its public id (to recognise a restart
//      with the same --join flags, which must not try to spend it twice).
import { createPrivateKey, generateKeyPair, sign, X509Certificate } from "node:crypto";
import { constants } from "node:fs";
import { chmod, lstat, mkdir, open } from "node:fs/promises";
import https from "node:https";
import path from "node:path";
import { pemFingerprint, writeFileAtomic } from "@vmmeet/node";
import { HOST_ROLE, type NodeRole, ROLES } from "@vmmeet/shared";
import type { Logger } from "pino";
import { parseCaHash, pinnedServerIdentity } from "./pin.js";

export const ENROLL_DIR = "enroll";
export const ENROLL_FILES = {
  ca: "ca.crt",
  key: "agent.key",
  cert: "agent.crt",
  meta: "enrollment.json",
} as const;

/** The token's public part (before the dot), as the coordinator names it; "" when malformed. */
export function joinTokenId(token: string): string {
  return /^([0-9a-f]{12})\.[A-Za-z0-9_-]{43}$/.exec(token)?.[1] ?? "";
}

/** The text signed with the new key; the coordinator's enroll/service.ts enrollChallenge is the same. */
function challenge(node: string, id: string): string {
  return `vmmeet-enroll:v1:${node}:${id}`;
}

/** A role name of the spec ("web", ..., "host"), or null. */
export function asRole(v: unknown): NodeRole | null {
  return typeof v === "string" && ([...ROLES, HOST_ROLE] as string[]).includes(v) ? (v as NodeRole) : null;
}

export interface Enrollment {
  node: string;
  /** The node's role as the coordinator's spec had it at enrollment (null: no spec in force yet). */
  role: NodeRole | null;
  caHash: string;
  tokenId: string;
  enrolledAt: string;
  /** PEMs for the transport. */
  ca: string;
  cert: string;
  key: string;
}

/** Refusals and mismatches the operator must act on; the agent does not retry them. */
export class EnrollError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

/** https://HOST:PORT for the agents' wss://HOST:PORT/agent URL. */
export function enrollBase(coordinatorUrl: string): string {
  const u = new URL(coordinatorUrl);
  if (u.protocol !== "wss:") throw new EnrollError("enrollment needs a wss:// coordinator URL", false);
  return `https://${u.host}`;
}

export interface EnrollOptions {
  coordinatorUrl: string;
  node: string;
  token: string;
  caHash: string;
  stateDir: string;
  logger: Logger;
  timeoutMs?: number;
}

export async function enroll(options: EnrollOptions): Promise<Enrollment> {
  const pin = parseCaHash(options.caHash);
  if (!pin) throw new EnrollError("--ca-hash must be sha256: followed by 64 hex digits", false);
  const id = joinTokenId(options.token);
  if (!id) throw new EnrollError("the join token is malformed (vmmeet agents token NODE prints one)", false);
  const base = enrollBase(options.coordinatorUrl);
  const timeoutMs = options.timeoutMs ?? 15_000;

  // 1. The CA, from an unverified connection: trusted only if it is the pinned one.
  const caRes = await request(`${base}/enroll/ca`, { method: "GET", rejectUnauthorized: false, timeoutMs });
  if (caRes.status !== 200) throw new EnrollError(`GET /enroll/ca answered ${caRes.status}`, true);
  let caPem: string;
  let caFp: string;
  try {
    caPem = caRes.body;
    const x = new X509Certificate(caPem);
    if (!x.ca) throw new Error("not a CA certificate");
    caFp = pemFingerprint(caPem);
  } catch (err) {
    throw new EnrollError(`the coordinator's CA is unreadable: ${(err as Error).message}`, false);
  }
  if (caFp !== pin)
    throw new EnrollError(
      `the coordinator's CA is ${caFp}, not the pinned ${pin}: wrong coordinator, or someone in between; the token was not sent`,
      false,
    );

  // 2. Key pair, proof of possession, and the token over a connection verified against that CA.
  const { publicKey, privateKey } = await new Promise<{ publicKey: string; privateKey: string }>(
    (resolve, reject) =>
      generateKeyPair(
        "rsa",
        {
          modulusLength: 2048,
          publicKeyEncoding: { type: "spki", format: "pem" },
          privateKeyEncoding: { type: "pkcs8", format: "pem" },
        },
        (err, pub, priv) => (err ? reject(err) : resolve({ publicKey: pub, privateKey: priv })),
      ),
  );
  const signature = sign("sha256", Buffer.from(challenge(options.node, id)), privateKey).toString("base64");
  const res = await request(`${base}/enroll`, {
    method: "POST",
    ca: caPem,
    checkServerIdentity: pinnedServerIdentity(pin),
    body: JSON.stringify({ node: options.node, token: options.token, publicKeyPem: publicKey, signature }),
    timeoutMs,
  });
  let answer: { certPem?: unknown; error?: unknown; role?: unknown } = {};
  try {
    answer = JSON.parse(res.body) as typeof answer;
  } catch {
    // reported below with the status
  }
  if (res.status !== 200 || typeof answer.certPem !== "string") {
    const why = typeof answer.error === "string" ? answer.error.slice(0, 300) : `status ${res.status}`;
    throw new EnrollError(
      `the coordinator refused the enrollment: ${why}`,
      res.status >= 500 || res.status === 429,
    );
  }
  const certPem = answer.certPem;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new EnrollError("the coordinator returned an unreadable certificate", false);
  }
  const ca = new X509Certificate(caPem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  const ours = cert.checkPrivateKey(createPrivateKey(privateKey));
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey) || cn !== options.node || !ours)
    throw new EnrollError(
      "the returned certificate is not for this node and key, or not by the pinned CA",
      false,
    );

  // 3. Keep it.
  const enrollment: Enrollment = {
    node: options.node,
    role: asRole(answer.role),
    caHash: pin,
    tokenId: id,
    enrolledAt: new Date().toISOString(),
    ca: caPem,
    cert: certPem,
    key: privateKey,
  };
  await saveEnrollment(options.stateDir, enrollment);
  options.logger.info(
    {
      tokenId: id,
      role: enrollment.role,
      caHash: pin,
      certificate: pemFingerprint(certPem),
      until: cert.validTo,
    },
    "enrolled with the coordinator",
  );
  return enrollment;
}

async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is filtered by the umask, and an existing directory keeps its mode: set it exactly.
  await chmod(dir, 0o700);
}

export async function saveEnrollment(stateDir: string, e: Enrollment): Promise<void> {
  await ensurePrivateDir(stateDir);
  const dir = path.join(stateDir, ENROLL_DIR);
  await ensurePrivateDir(dir);
  // Key first: a crash before the metadata leaves no enrollment.json, so the next start enrolls again.
  await writeFileAtomic(path.join(dir, ENROLL_FILES.key), e.key, { mode: 0o600 });
  await writeFileAtomic(path.join(dir, ENROLL_FILES.cert), e.cert, { mode: 0o600 });
  await writeFileAtomic(path.join(dir, ENROLL_FILES.ca), e.ca, { mode: 0o600 });
  const meta = { node: e.node, role: e.role, caHash: e.caHash, tokenId: e.tokenId, enrolledAt: e.enrolledAt };
  await writeFileAtomic(path.join(dir, ENROLL_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`, {
    mode: 0o600,
  });
}

/**
 * The enrollment kept in the state directory, or null when there is none. Refuses files that others can
 * read or that another user owns (as ssh does with private keys), and a CA that no longer has the pinned hash.
 */
export async function loadEnrollment(stateDir: string): Promise<Enrollment | null> {
  const dir = path.join(stateDir, ENROLL_DIR);
  const st = await lstat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  });
  if (st === null) return null;
  if (!st.isDirectory() || (st.mode & 0o077) !== 0)
    throw new EnrollError(
      `${dir} must be a directory of mode 0700 (it holds the agent's private key)`,
      false,
    );
  const meta = await readPrivate(path.join(dir, ENROLL_FILES.meta));
  if (meta === null) return null;
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(meta) as Record<string, unknown>;
  } catch {
    throw new EnrollError(
      `${path.join(dir, ENROLL_FILES.meta)} is damaged: enroll again with a new token`,
      false,
    );
  }
  const ca = await readPrivate(path.join(dir, ENROLL_FILES.ca));
  const cert = await readPrivate(path.join(dir, ENROLL_FILES.cert));
  const key = await readPrivate(path.join(dir, ENROLL_FILES.key));
  if (
    ca === null ||
    cert === null ||
    key === null ||
    typeof m.node !== "string" ||
    typeof m.caHash !== "string" ||
    typeof m.tokenId !== "string" ||
    typeof m.enrolledAt !== "string"
  )
    throw new EnrollError(`the enrollment in ${dir} is incomplete: enroll again with a new token`, false);
  if (pemFingerprint(ca) !== m.caHash)
    throw new EnrollError(
      `${path.join(dir, ENROLL_FILES.ca)} no longer has the pinned hash ${m.caHash}`,
      false,
    );
  return {
    node: m.node,
    role: asRole(m.role),
    caHash: m.caHash,
    tokenId: m.tokenId,
    enrolledAt: m.enrolledAt,
    ca,
    cert,
    key,
  };
}

async function readPrivate(file: string): Promise<string | null> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    const st = await fh.stat();
    const uid = process.getuid?.();
    if (!st.isFile() || (st.mode & 0o077) !== 0 || (uid !== undefined && st.uid !== uid && st.uid !== 0))
      throw new EnrollError(`${file} must be a regular file of mode 0600 owned by this user`, false);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

const NETWORK_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EHOSTDOWN",
  "ENETDOWN",
  "EAI_AGAIN",
  "ENOTFOUND",
  "EPIPE",
]);

interface RequestOptions {
  method: "GET" | "POST";
  body?: string;
  timeoutMs: number;
  rejectUnauthorized?: boolean;
  ca?: string;
  checkServerIdentity?: ReturnType<typeof pinnedServerIdentity>;
}

/** One HTTPS request; network failures become retryable EnrollErrors. Answers are capped at 64 KiB. */
function request(url: string, options: RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: options.method,
        headers: options.body ? { "content-type": "application/json" } : {},
        timeout: options.timeoutMs,
        rejectUnauthorized: options.rejectUnauthorized ?? true,
        ...(options.ca ? { ca: options.ca } : {}),
        ...(options.checkServerIdentity ? { checkServerIdentity: options.checkServerIdentity } : {}),
        // No session reuse between the unverified and the verified request.
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > 64 * 1024) {
            req.destroy(new Error("answer too large"));
            return;
          }
          chunks.push(c);
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", (err) => reject(new EnrollError(`enrollment request failed: ${err.message}`, true)));
      },
    );
    req.on("timeout", () =>
      req.destroy(
        Object.assign(new Error(`no answer within ${options.timeoutMs} ms`), { code: "ETIMEDOUT" }),
      ),
    );
    req.on("error", (err: NodeJS.ErrnoException) => {
      // Network trouble is worth retrying (the host may still be booting); a certificate that fails the
      // pin or the name check is not.
      const transient = NETWORK_ERRORS.has(err.code ?? "");
      reject(
        new EnrollError(
          transient
            ? `cannot reach the coordinator: ${err.message}`
            : `the coordinator's certificate is not acceptable: ${err.message}`,
          transient,
        ),
      );
    });
    if (options.body) req.write(options.body);
    req.end();
  });
}
