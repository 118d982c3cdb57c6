// The CA pin, as kubeadm join's --discovery-token-ca-cert-hash: "sha256:" and the lower-case hex SHA-256 of
// a certificate's DER. The coordinator prints it with a join token (`vmmeet agents token`) and records it
// per enrolled agent; the agent checks the coordinator's chain against it. Both sides must compute it the
// same way, so it is written once, here.
import { X509Certificate } from "node:crypto";
import { sha256 } from "./fileEntry.js";

/** "sha256:HEX" of a certificate's DER bytes. */
export function derFingerprint(der: Uint8Array): string {
  return `sha256:${sha256(der)}`;
}

/** "sha256:HEX" of a PEM certificate (its DER, not its text). */
export function pemFingerprint(pem: string): string {
  return derFingerprint(new X509Certificate(pem).raw);
}
