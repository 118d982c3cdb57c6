// Agent enrollment state, modelled on kubeadm's bootstrap tokens and salt-key's explicit acceptance: the
// operator accepts a node in advance by asking for a join token bound to its name (`vmmeet agents token
// NODE`); the agent spends it once, before it expires, to get a client certificate for exactly that name;
// `vmmeet agents revoke NODE` withdraws the certificate. Kept in the coordinator's state directory:
//
//   enroll.json  0600  { version, tokens: [...], agents: {...}, revoked: [...] }
//
// Tokens are stored as their SHA-256 only (a token is 256 random bits, so a fast hash is enough: nothing to
// brute-force), with a public id to name them in listings and the audit log. The daemon is the only writer
// (the CLI goes through the admin socket); it keeps the file's content in memory for the hot path
// (authorizing every agent connection) and writes every change through, under the state directory's lock.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  ensureStateDir,
  readStateFile,
  StateDirError,
  withStateLock,
  writePrivateJson,
} from "../secrets/files.js";

export const ENROLL_FILE = "enroll.json";
const VERSION = 1;

/** `<id>.<secret>`: 12 hex characters naming the token, 43 base64url characters (256 bits) proving it. */
export const TOKEN_RE = /^([0-9a-f]{12})\.([A-Za-z0-9_-]{43})$/;
/** Used and expired tokens are kept this long, so that a reuse is reported as a reuse, not as unknown. */
const KEEP_SPENT_MS = 7 * 24 * 60 * 60 * 1000;

export const DEFAULT_TOKEN_TTL_MS = 60 * 60 * 1000;
export const MAX_TOKEN_TTL_MS = 7 * 24 * 60 * 60 * 1000;

export interface TokenRecord {
  id: string;
  /** hex SHA-256 of the whole token. */
  sha256: string;
  node: string;
  createdAt: string;
  expiresAt: string;
  by: string;
  usedAt?: string;
}

export interface AgentRecord {
  node: string;
  /** pemFingerprint of the client certificate issued at enrollment ("sha256:HEX"). */
  fingerprint: string;
  serial: string;
  enrolledAt: string;
  notAfter: string;
  /** The join token it spent (its id). */
  tokenId: string;
  remote: string;
  revokedAt?: string;
  revokedBy?: string;
}

interface EnrollFile {
  version: number;
  tokens: TokenRecord[];
  agents: Record<string, AgentRecord>;
  /** Fingerprints of every certificate revoked so far (a revoked certificate stays revoked). */
  revoked: string[];
}

/** Why a token cannot be spent; `kind` is stable (audit entries, tests), `message` is for humans. */
export class TokenRefused extends Error {
  constructor(
    readonly kind: "malformed" | "unknown" | "used" | "expired" | "wrong-node",
    message: string,
  ) {
    super(message);
  }
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** A fresh join token (never stored, never logged: only its hash and id are). */
export function newToken(): { token: string; id: string } {
  const id = randomBytes(6).toString("hex");
  return { token: `${id}.${randomBytes(32).toString("base64url")}`, id };
}

/** The public id of a token ("" when it is malformed): safe to log and to store. */
export function tokenId(token: string): string {
  return TOKEN_RE.exec(token)?.[1] ?? "";
}

export interface EnrollmentStoreOptions {
  now?: () => Date;
  lockTimeoutMs?: number;
}

export class EnrollmentStore {
  #data: EnrollFile = { version: VERSION, tokens: [], agents: {}, revoked: [] };
  #revoked = new Set<string>();

  constructor(
    readonly stateDir: string,
    private readonly options: EnrollmentStoreOptions = {},
  ) {}

  get #now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  async load(): Promise<void> {
    await ensureStateDir(this.stateDir);
    const raw = await readStateFile(this.stateDir, ENROLL_FILE, "enrollment file");
    if (raw === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw.toString("utf8"));
    } catch {
      throw new StateDirError(
        `${ENROLL_FILE} in ${this.stateDir} is not valid JSON; restore it from a backup`,
      );
    }
    const d = parsed as Partial<EnrollFile>;
    if (
      typeof d !== "object" ||
      d === null ||
      d.version !== VERSION ||
      !Array.isArray(d.tokens) ||
      typeof d.agents !== "object" ||
      d.agents === null ||
      !Array.isArray(d.revoked)
    ) {
      throw new StateDirError(
        `${ENROLL_FILE} in ${this.stateDir} is not a version ${VERSION} enrollment file`,
      );
    }
    this.#data = d as EnrollFile;
    this.#revoked = new Set(this.#data.revoked);
  }

  /** Create a one-time join token for `node`, valid for `ttlMs`. The token itself is returned once. */
  async issueToken(
    node: string,
    ttlMs: number,
    by: string,
  ): Promise<{ token: string; id: string; expiresAt: string }> {
    if (!Number.isFinite(ttlMs) || ttlMs <= 0 || ttlMs > MAX_TOKEN_TTL_MS)
      throw new RangeError(`a token lives between 1 s and ${MAX_TOKEN_TTL_MS / 3_600_000} h`);
    const { token, id } = newToken();
    const now = this.#now;
    const rec: TokenRecord = {
      id,
      sha256: hashToken(token),
      node,
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
      by,
    };
    await this.#mutate((d) => {
      d.tokens.push(rec);
    });
    return { token, id, expiresAt: rec.expiresAt };
  }

  /**
   * Spend a token for `node` and record the certificate `issue` makes, atomically: a token is accepted at
   * most once even when two agents race with it. A token presented for the wrong node is refused and stays
   * valid for its own node (a typo in --node must not burn it).
   */
  async spendToken(
    node: string,
    token: string,
    remote: string,
    issue: () => { fingerprint: string; serial: string; notAfter: string },
  ): Promise<AgentRecord> {
    const m = TOKEN_RE.exec(token);
    if (!m) throw new TokenRefused("malformed", "the join token is malformed");
    const id = m[1] as string;
    let out: AgentRecord | undefined;
    await this.#mutate((d) => {
      const now = this.#now;
      const rec = d.tokens.find((t) => t.id === id);
      const presented = Buffer.from(hashToken(token), "hex");
      if (!rec || !timingSafeEqual(presented, Buffer.from(rec.sha256, "hex")))
        throw new TokenRefused("unknown", "unknown join token");
      if (rec.usedAt !== undefined)
        throw new TokenRefused("used", `join token ${id} was already used at ${rec.usedAt}`);
      if (new Date(rec.expiresAt) <= now)
        throw new TokenRefused("expired", `join token ${id} expired at ${rec.expiresAt}`);
      if (rec.node !== node)
        throw new TokenRefused("wrong-node", `join token ${id} is for node "${rec.node}", not "${node}"`);
      const cert = issue();
      rec.usedAt = now.toISOString();
      const previous = d.agents[node];
      // A node that enrolls again gets a new certificate; the old one must stop working.
      if (previous && !d.revoked.includes(previous.fingerprint)) d.revoked.push(previous.fingerprint);
      out = {
        node,
        fingerprint: cert.fingerprint,
        serial: cert.serial,
        notAfter: cert.notAfter,
        enrolledAt: now.toISOString(),
        tokenId: id,
        remote,
      };
      d.agents[node] = out;
    });
    if (!out) throw new Error("enrollment was not recorded");
    return out;
  }

  /** Revoke the node's certificate and its unused tokens. Returns the record, or null when it had none. */
  async revoke(node: string, by: string): Promise<{ agent: AgentRecord | null; tokens: number }> {
    let agent: AgentRecord | null = null;
    let tokens = 0;
    await this.#mutate((d) => {
      const now = this.#now.toISOString();
      const before = d.tokens.length;
      d.tokens = d.tokens.filter((t) => t.node !== node || t.usedAt !== undefined);
      tokens = before - d.tokens.length;
      const rec = d.agents[node];
      if (rec && rec.revokedAt === undefined) {
        rec.revokedAt = now;
        rec.revokedBy = by;
        if (!d.revoked.includes(rec.fingerprint)) d.revoked.push(rec.fingerprint);
        agent = rec;
      }
    });
    return { agent, tokens };
  }

  /** How a presented client certificate stands: enrolled for `node`, revoked, or not ours. */
  certificateStatus(node: string, fingerprint: string): "enrolled" | "revoked" | "unknown" {
    if (this.#revoked.has(fingerprint)) return "revoked";
    const rec = this.#data.agents[node];
    if (rec && rec.fingerprint === fingerprint && rec.revokedAt === undefined) return "enrolled";
    return "unknown";
  }

  agent(node: string): AgentRecord | undefined {
    return this.#data.agents[node];
  }

  agents(): AgentRecord[] {
    return Object.values(this.#data.agents);
  }

  /** Tokens not used and not expired, without their hashes. */
  pendingTokens(): Omit<TokenRecord, "sha256">[] {
    const now = this.#now;
    return this.#data.tokens
      .filter((t) => t.usedAt === undefined && new Date(t.expiresAt) > now)
      .map(({ sha256: _, ...rest }) => rest);
  }

  async #mutate(fn: (d: EnrollFile) => void): Promise<void> {
    await withStateLock(
      this.stateDir,
      async () => {
        // Work on a copy: a refusal thrown half-way leaves neither the file nor the memory changed.
        const next = structuredClone(this.#data);
        fn(next);
        const cutoff = this.#now.getTime() - KEEP_SPENT_MS;
        next.tokens = next.tokens.filter((t) => new Date(t.expiresAt).getTime() > cutoff);
        await writePrivateJson(this.stateDir, ENROLL_FILE, next);
        this.#data = next;
        this.#revoked = new Set(next.revoked);
      },
      this.options,
    );
  }
}

/** "1h", "30m", "90s", "2d" → milliseconds; null when the text is not a duration. */
export function parseTtl(text: string): number | null {
  const m = /^(\d{1,6})([smhd])$/.exec(text);
  if (!m) return null;
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
}
