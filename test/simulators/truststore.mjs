// truststores: the real PKCS#12 file, read with node-forge (an implementation independent of the
// coordinator's writer).
import { X509Certificate } from "node:crypto";
import fs from "node:fs";
import { vmNow } from "./vm.mjs";

/**
 * CA certificates (PEM) of a PKCS#12 truststore. Throws { code: "ENOENT" } for a missing file and
 * { code: "BADPASS" } when the MAC does not verify (Java: "keystore password was incorrect").
 */
export async function readTruststore(file, password) {
  const der = fs.readFileSync(file);
  const { default: forge } = await import("node-forge");
  let p12;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der.toString("binary")), false, password);
  } catch (e) {
    const err = new Error(String(e.message ?? e));
    err.code = /MAC|password/i.test(String(e.message)) ? "BADPASS" : "BADFILE";
    throw err;
  }
  const bags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [];
  return bags
    .map((b) => (b.cert ? forge.pki.certificateToPem(b.cert) : undefined))
    .filter((pem) => pem !== undefined);
}

/** Whether a CA of `caPems` issued and signed the certificate (DER), and it is valid now. */
export function trustedBy(certDer, caPems) {
  let cert;
  try {
    cert = new X509Certificate(certDer);
  } catch {
    return false;
  }
  const now = vmNow().getTime();
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return false;
  return caPems.some((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/** PEM (first certificate) -> DER. */
export function pemToDer(pem) {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error("no certificate in PEM");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}
