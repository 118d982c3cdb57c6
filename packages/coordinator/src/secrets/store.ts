// The deployment's generated material, kept in the coordinator's state directory: the passwords that
// docker-jitsi-meet's gen-passwords.sh makes by hand and the paper types in (prosodyctl register ... PW),
// the deployment CA, prosody's auth.DOMAIN certificate and the jicofo/jvb truststore. Generated on first
// use, reused afterwards, never written into the spec and never logged.
//
// State directory layout (the directory 0700, private files 0600):
//   secrets.json     { version, focusPassword, jvbPassword, truststorePassword, turnSecret }   0600
//   ca.key, ca.crt   the deployment CA (never replaced implicitly: agents pin its fingerprint)  0600, 0644
//   auth.key, auth.crt  prosody's certificate for auth.DOMAIN, renewed automatically            0600, 0644
//   truststore.p12   PKCS#12 with the CA, for jicofo and jvb                                     0600
//
// Every derived file is kept rather than rebuilt on each call so that the rendered files stay byte-identical
// between runs (a fresh truststore has a fresh MAC salt, a fresh leaf a fresh key) and agents do not restart
// jicofo and jvb for nothing.
import { randomBytes, X509Certificate } from "node:crypto";
import { pemFingerprint } from "@vmmeet/node";
import type { Spec } from "@vmmeet/shared";
import type { Pki, Secrets } from "../render/types.js";
import {
  type CaMaterial,
  certInfo,
  createCa,
  DAY_MS,
  issueServerCert,
  keyMatchesCert,
  storedCertProblem,
} from "./ca.js";
import {
  ensureStateDir,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readStateFile,
  StateDirError,
  withStateLock,
  writePrivateJson,
  writePrivateStateFile,
  writeStateFile,
} from "./files.js";
import { SECRET_NAMES, type SecretName } from "./names.js";
import { readTrustStore, trustStoreP12 } from "./pkcs12.js";

export { StateDirError } from "./files.js";

export const STATE_FILES = {
  secrets: "secrets.json",
  caKey: "ca.key",
  caCert: "ca.crt",
  authKey: "auth.key",
  authCert: "auth.crt",
  truststore: "truststore.p12",
} as const;

export { SECRET_NAMES, type SecretName } from "./names.js";

const SECRETS_VERSION = 1;
/** Length of generated passwords: 40 characters of [A-Za-z0-9] carry about 238 bits. */
export const PASSWORD_LENGTH = 40;
/** What a stored secret must look like: the renderers put it unquoted into Lua, HOCON and ksh files. */
const SECRET_RE = /^[A-Za-z0-9]{16,256}$/;

export const AUTH_CERT_DAYS = 730;
export const RENEW_BEFORE_DAYS = 30;
/** Warn this long before the CA expires (the CA is never replaced implicitly). */
export const CA_WARN_DAYS = 180;

/** The subset of a pino logger used here; secrets are never passed to it. */
export interface MaterialLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface MaterialOptions {
  /** The clock, injected for expiry tests. */
  now?: () => Date;
  logger?: MaterialLogger;
  /** How long to wait for another process holding the state directory's lock (default 30 s). */
  lockTimeoutMs?: number;
}

export interface Material {
  secrets: Secrets;
  pki: Pki;
  /** State files written by this call (generated or renewed), e.g. ["secrets.json", "ca.crt"]. */
  created: string[];
  /** Conditions the operator should act on (CA close to expiry). */
  warnings: string[];
  /** pemFingerprint of the CA: what agents pin. */
  caFingerprint: string;
}

/** `auth.DOMAIN`: the prosody VirtualHost jicofo and jvb log in to, and the name on its certificate. */
export function authDomain(domain: string): string {
  return `auth.${domain}`;
}

/**
 * Load the deployment's secrets and PKI from `stateDir`, generating whatever is missing and renewing the
 * auth.DOMAIN certificate when the domain changed, it expires within RENEW_BEFORE_DAYS, or it no longer
 * matches its key or the CA. A second call returns the same material and writes nothing.
 */
export async function loadOrCreateMaterial(
  stateDir: string,
  spec: Pick<Spec, "domain">,
  opts: MaterialOptions = {},
): Promise<Material> {
  const now = (opts.now ?? (() => new Date()))();
  const log = opts.logger;
  await ensureStateDir(stateDir);
  return withStateLock(
    stateDir,
    async () => {
      const created: string[] = [];
      const warnings: string[] = [];

      const secrets = await loadSecrets(stateDir, created, log);

      let ca = await readCa(stateDir, now);
      if (ca === undefined) {
        ca = createCa(`vmmeet CA ${spec.domain}`, now);
        // Exclusive creates: whatever happens, an existing CA is never overwritten.
        await writeStateFile(stateDir, STATE_FILES.caKey, ca.keyPem, {
          mode: PRIVATE_FILE_MODE,
          exclusive: true,
        });
        await writeStateFile(stateDir, STATE_FILES.caCert, ca.certPem, {
          mode: PUBLIC_FILE_MODE,
          exclusive: true,
        });
        created.push(STATE_FILES.caKey, STATE_FILES.caCert);
        log?.info({ stateDir, caFingerprint: pemFingerprint(ca.certPem) }, "generated the deployment CA");
      }
      const caInfo = certInfo(ca.certPem);
      const caDaysLeft = Math.floor((caInfo.notAfter.getTime() - now.getTime()) / DAY_MS);
      if (caDaysLeft < CA_WARN_DAYS) {
        warnings.push(
          `the deployment CA in ${stateDir} expires on ${caInfo.notAfter.toISOString()} (${caDaysLeft} days); ` +
            "certificates it issues end then too",
        );
      }

      const auth = await loadAuthCert(stateDir, spec.domain, ca, now, created, log);
      const truststore = await loadTrustStore(stateDir, ca.certPem, secrets.truststorePassword, created, log);
      for (const w of warnings) log?.warn({ stateDir }, w);
      return {
        secrets,
        pki: {
          caCertPem: ca.certPem,
          authCertPem: auth.certPem,
          authKeyPem: auth.keyPem,
          truststoreP12Base64: truststore.toString("base64"),
        },
        created,
        warnings,
        caFingerprint: caInfo.fingerprint,
      };
    },
    opts,
  );
}

/**
 * Replace one secret with a fresh random value. The next loadOrCreateMaterial returns it (and rebuilds the
 * truststore when the truststore password changed); the caller re-renders and pushes the files using it.
 */
export async function rotateSecret(
  stateDir: string,
  name: SecretName,
  opts: MaterialOptions = {},
): Promise<void> {
  if (!SECRET_NAMES.includes(name)) throw new Error(`unknown secret "${String(name)}"`);
  await ensureStateDir(stateDir);
  await withStateLock(
    stateDir,
    async () => {
      const stored = await readSecretsFile(stateDir);
      const next = { ...(stored ?? { version: SECRETS_VERSION }), [name]: generatePassword() };
      await writeSecretsFile(stateDir, next);
      opts.logger?.info({ stateDir, secret: name }, "rotated a secret");
    },
    opts,
  );
}

/**
 * The deployment CA, for issuing further certificates (agents' client certificates, the coordinator's
 * server certificate): `issueClientCert(await loadCa(dir), name, now, days)`. Throws when there is none yet.
 */
export async function loadCa(stateDir: string, opts: MaterialOptions = {}): Promise<CaMaterial> {
  const now = (opts.now ?? (() => new Date()))();
  await ensureStateDir(stateDir);
  return withStateLock(
    stateDir,
    async () => {
      const ca = await readCa(stateDir, now);
      if (ca === undefined) throw new StateDirError(`no deployment CA in ${stateDir} yet (ca.key, ca.crt)`);
      return ca;
    },
    opts,
  );
}

/** A random password of [A-Za-z0-9] (rejection sampling, so every character is equally likely). */
export function generatePassword(length: number = PASSWORD_LENGTH): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  // 248 = 4 * 62: bytes at or above it would favour the first characters.
  let out = "";
  while (out.length < length) {
    for (const b of randomBytes(length * 2)) {
      if (b < 248 && out.length < length) out += alphabet[b % 62];
    }
  }
  return out;
}

type StoredSecrets = Record<string, unknown>;

async function loadSecrets(
  dir: string,
  created: string[],
  log: MaterialLogger | undefined,
): Promise<Secrets> {
  const stored = await readSecretsFile(dir);
  const next: StoredSecrets = { ...(stored ?? {}), version: SECRETS_VERSION };
  const generated: SecretName[] = [];
  for (const name of SECRET_NAMES) {
    if (next[name] === undefined) {
      next[name] = generatePassword();
      generated.push(name);
    }
  }
  if (generated.length > 0 || stored?.version !== SECRETS_VERSION) {
    await writeSecretsFile(dir, next);
    created.push(STATE_FILES.secrets);
    // Names only: the values never reach a log.
    if (generated.length > 0) log?.info({ stateDir: dir, secrets: generated }, "generated secrets");
  }
  const secrets = {} as Secrets;
  for (const name of SECRET_NAMES) secrets[name] = next[name] as string;
  return secrets;
}

/** secrets.json parsed and checked, or undefined when absent. Error messages never quote the content. */
async function readSecretsFile(dir: string): Promise<StoredSecrets | undefined> {
  const raw = await readStateFile(dir, STATE_FILES.secrets, "secrets file");
  if (raw === undefined) return undefined;
  const where = `${STATE_FILES.secrets} in ${dir}`;
  let value: unknown;
  try {
    value = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new StateDirError(`${where} is not valid JSON: ${jsonErrorPosition(err, raw.toString("utf8"))}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StateDirError(`${where} is not a JSON object`);
  }
  const stored = value as StoredSecrets;
  if (stored.version !== undefined && stored.version !== SECRETS_VERSION) {
    throw new StateDirError(
      `${where} has version ${typeof stored.version === "number" ? stored.version : `of type ${typeof stored.version}`}; ` +
        `this vmmeet reads version ${SECRETS_VERSION}`,
    );
  }
  for (const name of SECRET_NAMES) {
    const v = stored[name];
    if (v !== undefined && (typeof v !== "string" || !SECRET_RE.test(v))) {
      throw new StateDirError(
        `${where}: "${name}" must be 16 to 256 letters and digits (it is written unquoted into config files); ` +
          `fix it or delete the key to have a new one generated`,
      );
    }
  }
  return stored;
}

async function writeSecretsFile(dir: string, value: StoredSecrets): Promise<void> {
  await writePrivateJson(dir, STATE_FILES.secrets, value);
}

// JSON.parse messages in V8 quote a stretch of the input ("Unexpected token ..., "..." is not valid JSON"),
// which here could be a password: report only where the error is.
function jsonErrorPosition(err: unknown, text: string): string {
  const m = /position (\d+)/.exec(err instanceof Error ? err.message : "");
  if (!m) return "syntax error";
  const pos = Number(m[1]);
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const column = pos - before.lastIndexOf("\n");
  return `syntax error at line ${line} column ${column}`;
}

/** The CA from the state directory (checked), or undefined when neither file exists. */
async function readCa(dir: string, now: Date): Promise<CaMaterial | undefined> {
  const keyPem = (await readStateFile(dir, STATE_FILES.caKey, "CA private key"))?.toString("utf8");
  const certPem = (await readStateFile(dir, STATE_FILES.caCert))?.toString("utf8");
  if (keyPem === undefined && certPem === undefined) return undefined;
  const restore =
    "restore it from a backup; or, to start a new CA, remove ca.key and ca.crt (every agent must then rejoin)";
  if (keyPem === undefined) throw new StateDirError(`${STATE_FILES.caKey} is missing in ${dir}: ${restore}`);
  if (certPem === undefined)
    throw new StateDirError(`${STATE_FILES.caCert} is missing in ${dir}: ${restore}`);
  let info: ReturnType<typeof certInfo>;
  try {
    new X509Certificate(certPem);
    info = certInfo(certPem);
  } catch (err) {
    throw new StateDirError(
      `${STATE_FILES.caCert} in ${dir} is not a PEM certificate vmmeet can read (${errMessage(err)}): ${restore}`,
    );
  }
  if (!info.isCa)
    throw new StateDirError(`${STATE_FILES.caCert} in ${dir} is not a CA certificate: ${restore}`);
  if (!keyMatchesCert(certPem, keyPem)) {
    throw new StateDirError(
      `${STATE_FILES.caKey} in ${dir} does not belong to ${STATE_FILES.caCert}: ${restore}`,
    );
  }
  if (info.notAfter <= now) {
    throw new StateDirError(
      `the deployment CA in ${dir} expired on ${info.notAfter.toISOString()}; ` +
        "to start a new CA, remove ca.key and ca.crt (every agent must then rejoin)",
    );
  }
  return { certPem, keyPem };
}

async function loadAuthCert(
  dir: string,
  domain: string,
  ca: CaMaterial,
  now: Date,
  created: string[],
  log: MaterialLogger | undefined,
): Promise<{ certPem: string; keyPem: string }> {
  const name = authDomain(domain);
  const keyPem = (await readStateFile(dir, STATE_FILES.authKey, "private key"))?.toString("utf8");
  const certPem = (await readStateFile(dir, STATE_FILES.authCert))?.toString("utf8");
  const reason = authCertProblem(certPem, keyPem, name, ca, now);
  if (reason === undefined && certPem !== undefined && keyPem !== undefined) return { certPem, keyPem };

  const issued = issueServerCert(ca, [name], now, AUTH_CERT_DAYS);
  // Key first: a crash between the two writes leaves a key that does not match the old certificate, which
  // the next call notices and repairs.
  await writePrivateStateFile(dir, STATE_FILES.authKey, issued.keyPem);
  await writeStateFile(dir, STATE_FILES.authCert, issued.certPem, { mode: PUBLIC_FILE_MODE });
  created.push(STATE_FILES.authKey, STATE_FILES.authCert);
  const notAfter = certInfo(issued.certPem).notAfter.toISOString();
  log?.info({ stateDir: dir, name, reason, notAfter }, "issued the auth certificate prosody serves");
  return issued;
}

/** Why the stored auth.DOMAIN certificate cannot be used, or undefined when it can. */
export function authCertProblem(
  certPem: string | undefined,
  keyPem: string | undefined,
  name: string,
  ca: CaMaterial,
  now: Date,
): string | undefined {
  const stored = storedCertProblem(certPem, keyPem, ca.certPem, ({ dnsNames }) =>
    dnsNames.length !== 1 || dnsNames[0] !== name
      ? `names ${dnsNames.join(",") || "(none)"} instead of ${name}`
      : undefined,
  );
  if ("problem" in stored) return stored.problem;
  const { info } = stored;
  if (info.notBefore > now) return `not valid before ${info.notBefore.toISOString()}`;
  if (info.notAfter.getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS) {
    return `expires on ${info.notAfter.toISOString()}, within ${RENEW_BEFORE_DAYS} days`;
  }
  return undefined;
}

async function loadTrustStore(
  dir: string,
  caCertPem: string,
  password: string,
  created: string[],
  log: MaterialLogger | undefined,
): Promise<Buffer> {
  const stored = await readStateFile(dir, STATE_FILES.truststore);
  const caDer = new X509Certificate(caCertPem).raw;
  if (stored !== undefined) {
    try {
      const entries = readTrustStore(stored, password);
      if (entries.length === 1 && entries[0]?.trusted && entries[0].certDer.equals(caDer)) return stored;
    } catch {
      // Wrong password (rotated), another CA or a damaged file: rebuilt below.
    }
  }
  const p12 = trustStoreP12(caCertPem, password);
  await writePrivateStateFile(dir, STATE_FILES.truststore, p12);
  created.push(STATE_FILES.truststore);
  log?.info({ stateDir: dir }, stored === undefined ? "made the truststore" : "rebuilt the truststore");
  return p12;
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
