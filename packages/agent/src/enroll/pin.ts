// Pinning the coordinator by its CA, as kubeadm join does with --discovery-token-ca-cert-hash: the operator
// copies "sha256:HEX" (the SHA-256 of the deployment CA certificate's DER, printed by `vmmeet agents
// token`) to the agent, which then trusts that one CA and nothing else.
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { derFingerprint } from "@vmmeet/node";

const CA_HASH_RE = /^sha256:([0-9a-f]{64})$/;

/** The normalized pin ("sha256:" + 64 lower-case hex digits), or null when `text` is not one. */
export function parseCaHash(text: string): string | null {
  const t = text.trim().toLowerCase();
  return CA_HASH_RE.test(t) ? t : null;
}

/**
 * A tls `checkServerIdentity` that, besides the usual name check, requires the pinned CA in the verified
 * chain. Node gives the chain completed from the trusted store (`ca`), so with `ca` = the pinned CA this
 * holds whenever verification succeeded; checking again keeps the pin the rule should `ca` ever carry more.
 */
export function pinnedServerIdentity(caHash: string) {
  return (host: string, cert: PeerCertificate): Error | undefined => {
    const nameError = checkServerIdentity(host, cert);
    if (nameError) return nameError;
    const seen = new Set<string>();
    let c: PeerCertificate | undefined = cert;
    while (c?.raw && !seen.has(c.fingerprint256)) {
      if (derFingerprint(c.raw) === caHash) return undefined;
      seen.add(c.fingerprint256);
      c = (c as { issuerCertificate?: PeerCertificate }).issuerCertificate;
    }
    return new Error(`the coordinator's certificate does not chain to the pinned CA ${caHash}`);
  };
}
