// The coordinator's TLS server certificate for the agents' endpoint, issued by the deployment CA for the
// addresses it listens on. Agents trust exactly that CA (the hash they pinned at join) and check the name
// as any TLS client does, so a certificate of the same CA for another name (prosody's auth.DOMAIN, on the
// xmpp VM) cannot impersonate the coordinator.
//
//   coordinator.key  0600   coordinator.crt  0644   (beside the CA in the state directory)
//
// Kept across restarts and reissued only when the names change, the CA changed, or it nears its end.

import { isIP } from "node:net";
import os from "node:os";
import { pemFingerprint } from "@vmmeet/node";
import { type CaMaterial, issueServerCert, storedCertProblem } from "../secrets/ca.js";
import {
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readStateFile,
  withStateLock,
  writeStateFile,
} from "../secrets/files.js";
import { loadCa } from "../secrets/store.js";

export const SERVER_KEY_FILE = "coordinator.key";
export const SERVER_CERT_FILE = "coordinator.crt";
export const SERVER_CERT_DAYS = 730;
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export interface ServerTls {
  ca: CaMaterial;
  caFingerprint: string;
  certPem: string;
  keyPem: string;
  names: string[];
  /** Why the certificate was (re)issued now, or null when the stored one was reused. */
  issued: string | null;
}

/**
 * The names a certificate for `host` must carry: the host itself, or every local address when it is a
 * wildcard (0.0.0.0, ::), plus loopback and whatever the operator adds (--san) for DNS names agents use.
 */
export function serverNames(host: string, extra: readonly string[] = []): string[] {
  const names = new Set<string>();
  const wildcard = host === "" || host === "0.0.0.0" || host === "::";
  if (wildcard) {
    for (const list of Object.values(os.networkInterfaces())) {
      for (const a of list ?? []) {
        // Link-local IPv6 needs a zone id, which has no place in a certificate.
        if (a.family === "IPv6" && a.address.toLowerCase().startsWith("fe80")) continue;
        names.add(a.address);
      }
    }
  } else {
    names.add(isIP(host) ? host : host.toLowerCase());
  }
  names.add("127.0.0.1");
  names.add("localhost");
  for (const n of extra) names.add(isIP(n) ? n : n.toLowerCase());
  return [...names];
}

/** Why a stored certificate cannot serve `names`, or null when it can. */
export function serverCertProblem(
  certPem: string | undefined,
  keyPem: string | undefined,
  names: readonly string[],
  ca: CaMaterial,
  now: Date,
): string | null {
  const stored = storedCertProblem(certPem, keyPem, ca.certPem, ({ dnsNames, ipAddresses }) => {
    const have = new Set([...dnsNames, ...ipAddresses]);
    return have.size !== names.length || names.some((n) => !have.has(n)) ? "names changed" : undefined;
  });
  if ("problem" in stored) return stored.problem;
  const { info } = stored;
  if (info.notAfter.getTime() - now.getTime() < RENEW_BEFORE_MS) return "expires within 30 days";
  return null;
}

/** Load the CA and the server certificate for `names`, issuing a new certificate when needed. */
export async function loadServerTls(
  stateDir: string,
  names: readonly string[],
  opts: { now?: () => Date } = {},
): Promise<ServerTls> {
  const now = (opts.now ?? (() => new Date()))();
  // loadCa takes the state directory's lock itself: call it before taking the lock here.
  const ca = await loadCa(stateDir, opts.now ? { now: opts.now } : {});
  return withStateLock(stateDir, async () => {
    const keyPem = (await readStateFile(stateDir, SERVER_KEY_FILE, "private key"))?.toString("utf8");
    const certPem = (await readStateFile(stateDir, SERVER_CERT_FILE))?.toString("utf8");
    const problem = serverCertProblem(certPem, keyPem, names, ca, now);
    const base = { ca, caFingerprint: pemFingerprint(ca.certPem), names: [...names] };
    if (problem === null && certPem !== undefined && keyPem !== undefined)
      return { ...base, certPem, keyPem, issued: null };
    const issued = issueServerCert(ca, names, now, SERVER_CERT_DAYS);
    await writeStateFile(stateDir, SERVER_KEY_FILE, issued.keyPem, { mode: PRIVATE_FILE_MODE });
    await writeStateFile(stateDir, SERVER_CERT_FILE, issued.certPem, { mode: PUBLIC_FILE_MODE });
    return { ...base, certPem: issued.certPem, keyPem: issued.keyPem, issued: problem };
  });
}
