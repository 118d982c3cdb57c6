// A PKCS#12 truststore for jicofo and jvb, built without keytool. The JVM reads it through
// -Djavax.net.ssl.trustStore / -Djavax.net.ssl.trustStorePassword (net/jitsi's jicofo.sh and jvb.sh pass
// JICOFO_TRUSTSTORE / JVB_TRUSTSTORE), and PKCS12 is the default keystore type since Java 9 (JEP 229).
//
// Structure (RFC 7292): PFX { version 3, authSafe = data ContentInfo holding an AuthenticatedSafe, macData }.
// The AuthenticatedSafe holds one unencrypted data ContentInfo whose SafeContents has one certBag per CA.
// The certificates are public, so they are not encrypted; the password keys the MAC, which is what lets
// the JVM detect a tampered or substituted store.
//
// The one non-obvious fact: Java's PKCS12KeyStore makes a certBag without a matching key into a
// TrustedCertificateEntry only when the bag carries Oracle's trustedKeyUsage attribute
// (OID 2.16.840.1.113894.746875.1.1, a SET of extended-key-usage OIDs; keytool writes anyExtendedKeyUsage).
// Without it the certificate is silently dropped: `keytool -list` shows an empty store and TLS fails with
// "PKIX path building failed". test/pki-java.test.ts checks the store with the real keytool and a real
// handshake.
//
// MAC: HMAC-SHA-256 with the PKCS#12 key derivation (RFC 7292 appendix B.2), which Java reads since
// JDK 12 and 11.0.12 (HmacPBESHA256, JDK-8076190); `mac: "sha1"` writes the HMAC-SHA-1 MAC every JVM reads.
import { createHash, createHmac, randomBytes, timingSafeEqual, X509Certificate } from "node:crypto";
import forge from "node-forge";

const { asn1 } = forge;
const U = asn1.Class.UNIVERSAL;
const CTX = asn1.Class.CONTEXT_SPECIFIC;
const T = asn1.Type;

export const OID = {
  data: "1.2.840.113549.1.7.1",
  encryptedData: "1.2.840.113549.1.7.6",
  certBag: "1.2.840.113549.1.12.10.1.3",
  x509Certificate: "1.2.840.113549.1.9.22.1",
  friendlyName: "1.2.840.113549.1.9.20",
  localKeyId: "1.2.840.113549.1.9.21",
  /** Oracle's trustedKeyUsage bag attribute (JDK sun.security.pkcs12.PKCS12KeyStore). */
  trustedKeyUsage: "2.16.840.1.113894.746875.1.1",
  anyExtendedKeyUsage: "2.5.29.37.0",
  sha1: "1.3.14.3.2.26",
  sha256: "2.16.840.1.101.3.4.2.1",
} as const;

export type MacHash = "sha256" | "sha1";

const MAC_HASHES: Record<MacHash, { oid: string; u: number; v: number }> = {
  sha256: { oid: OID.sha256, u: 32, v: 64 },
  sha1: { oid: OID.sha1, u: 20, v: 64 },
};

export interface TrustStoreOptions {
  /** Alias of the (first) entry; keytool shows it. Further certificates get "-2", "-3"... */
  alias?: string;
  /** PKCS#12 KDF iterations for the MAC key (Java 17's keytool writes 10000; Java caps reading at 5000000). */
  iterations?: number;
  mac?: MacHash;
}

export const DEFAULT_TRUSTSTORE_ALIAS = "vmmeet-ca";
const DEFAULT_ITERATIONS = 10_000;

/**
 * A PKCS#12 truststore holding each certificate as a trusted certificate entry. Several certificates allow
 * trusting an old and a new CA during a rotation.
 */
export function trustStoreP12(
  caCertPem: string | readonly string[],
  password: string,
  opts: TrustStoreOptions = {},
): Buffer {
  if (password.length === 0) throw new Error("the truststore password must not be empty");
  const pems = typeof caCertPem === "string" ? [caCertPem] : caCertPem;
  if (pems.length === 0) throw new Error("a truststore needs at least one certificate");
  const alias = opts.alias ?? DEFAULT_TRUSTSTORE_ALIAS;
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  const hash = opts.mac ?? "sha256";

  const bags = pems.map((pem, i) => {
    const der = new X509Certificate(pem).raw;
    return certBag(der, i === 0 ? alias : `${alias}-${i + 1}`);
  });
  const safeContents = seq(bags);
  const authenticatedSafe = seq([dataContentInfo(toDer(safeContents))]);
  const authSafeBytes = toDer(authenticatedSafe);

  const salt = randomBytes(20);
  const mac = pkcs12Mac(hash, password, salt, iterations, authSafeBytes);
  const pfx = seq([
    int(3),
    dataContentInfo(authSafeBytes),
    seq([
      seq([seq([oid(MAC_HASHES[hash].oid), asn1.create(U, T.NULL, false, "")]), octets(mac)]),
      octets(salt),
      int(iterations),
    ]),
  ]);
  return toDer(pfx);
}

/** One entry of a truststore as read back. */
export interface TrustStoreEntry {
  alias: string | undefined;
  certDer: Buffer;
  /** The bag carries trustedKeyUsage: Java treats it as a trusted certificate entry. */
  trusted: boolean;
}

/** Thrown when the MAC does not verify: the password is wrong or the file was altered. */
export class TrustStoreMacError extends Error {}

/**
 * Read a truststore written by trustStoreP12 (unencrypted data SafeContents only; this is not a general
 * PKCS#12 reader). Verifies the MAC with `password` first and throws TrustStoreMacError when it fails.
 */
export function readTrustStore(p12: Buffer, password: string): TrustStoreEntry[] {
  const pfx = fromDer(p12);
  const [version, authSafe, macData] = children(pfx, "PFX");
  if (!version || !authSafe || !macData) throw new Error("PFX: expected version, authSafe and macData");
  if (intValue(version) !== 3) throw new Error("PFX: version is not 3");
  const authSafeBytes = dataContent(authSafe, "PFX.authSafe");

  const [mac, salt, iter] = children(macData, "PFX.macData");
  const [digestAlg, digest] = children(mac, "PFX.macData.mac");
  const [algOid] = children(digestAlg, "PFX.macData.mac.digestAlgorithm");
  const hash = (Object.keys(MAC_HASHES) as MacHash[]).find((h) => MAC_HASHES[h].oid === oidValue(algOid));
  if (hash === undefined) throw new Error(`PFX: unsupported MAC digest ${oidValue(algOid)}`);
  const iterations = iter === undefined ? 1 : intValue(iter);
  const expected = pkcs12Mac(hash, password, bytes(salt), iterations, authSafeBytes);
  const actual = bytes(digest);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new TrustStoreMacError("the truststore MAC does not verify: wrong password or altered file");
  }

  const entries: TrustStoreEntry[] = [];
  for (const ci of children(fromDer(authSafeBytes), "AuthenticatedSafe")) {
    const [type] = children(ci, "ContentInfo");
    if (oidValue(type) !== OID.data) throw new Error("AuthenticatedSafe: only unencrypted data is read");
    for (const bag of children(fromDer(dataContent(ci, "ContentInfo")), "SafeContents")) {
      const [bagId, bagValue, attrs] = children(bag, "SafeBag");
      if (oidValue(bagId) !== OID.certBag) continue;
      const [certBagSeq] = children(bagValue, "SafeBag.bagValue");
      const [certId, certValue] = children(certBagSeq, "CertBag");
      if (oidValue(certId) !== OID.x509Certificate) continue;
      const [certOctets] = children(certValue, "CertBag.certValue");
      let alias: string | undefined;
      let trusted = false;
      for (const attr of attrs ? children(attrs, "bagAttributes") : []) {
        const [attrId, values] = children(attr, "Attribute");
        const first = values ? children(values, "Attribute.values")[0] : undefined;
        if (oidValue(attrId) === OID.friendlyName && first) alias = String(first.value);
        if (oidValue(attrId) === OID.trustedKeyUsage) trusted = true;
      }
      entries.push({ alias, certDer: bytes(certOctets), trusted });
    }
  }
  return entries;
}

/**
 * The PKCS#12 key derivation, RFC 7292 appendix B.2: `id` 1 = encryption key, 2 = IV, 3 = MAC key.
 * The password is its BMPString (UTF-16BE) with a two-byte NUL terminator.
 */
export function pkcs12Kdf(
  hash: MacHash,
  password: string,
  salt: Buffer,
  id: 1 | 2 | 3,
  iterations: number,
  n: number,
): Buffer {
  if (!(iterations >= 1)) throw new Error("PKCS#12 KDF iterations must be at least 1");
  const { u, v } = MAC_HASHES[hash];
  const pass = Buffer.alloc(password.length * 2 + 2);
  for (let i = 0; i < password.length; i++) pass.writeUInt16BE(password.charCodeAt(i), i * 2);
  const D = Buffer.alloc(v, id);
  const fill = (src: Buffer) => {
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const I = Buffer.concat([fill(salt), fill(pass)]);
  const c = Math.ceil(n / u);
  const out: Buffer[] = [];
  for (let i = 0; i < c; i++) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = createHash(hash).update(A).digest();
    out.push(A);
    if (i === c - 1) break;
    // I_j = (I_j + B + 1) mod 2^(8v) for each v-byte block I_j, B = A repeated to v bytes.
    const B = fill(A).subarray(0, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

function pkcs12Mac(hash: MacHash, password: string, salt: Buffer, iterations: number, data: Buffer): Buffer {
  const key = pkcs12Kdf(hash, password, salt, 3, iterations, MAC_HASHES[hash].u);
  return createHmac(hash, key).update(data).digest();
}

// SafeBag { certBag, [0] CertBag { x509Certificate, [0] OCTET STRING DER }, { friendlyName, trustedKeyUsage } }
function certBag(der: Buffer, alias: string): forge.asn1.Asn1 {
  return seq([
    oid(OID.certBag),
    explicit0(seq([oid(OID.x509Certificate), explicit0(octets(der))])),
    asn1.create(U, T.SET, true, [
      attribute(OID.friendlyName, asn1.create(U, T.BMPSTRING, false, alias)),
      attribute(OID.trustedKeyUsage, oid(OID.anyExtendedKeyUsage)),
    ]),
  ]);
}

function attribute(type: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return seq([oid(type), asn1.create(U, T.SET, true, [value])]);
}

function dataContentInfo(content: Buffer): forge.asn1.Asn1 {
  return seq([oid(OID.data), explicit0(octets(content))]);
}

function dataContent(ci: forge.asn1.Asn1, what: string): Buffer {
  const [type, content] = children(ci, what);
  if (oidValue(type) !== OID.data) throw new Error(`${what}: not a data ContentInfo`);
  const [octs] = children(content, `${what}.content`);
  return bytes(octs);
}

const seq = (items: forge.asn1.Asn1[]) => asn1.create(U, T.SEQUENCE, true, items);
const oid = (o: string) => asn1.create(U, T.OID, false, asn1.oidToDer(o).getBytes());
const octets = (b: Buffer) => asn1.create(U, T.OCTETSTRING, false, b.toString("binary"));
const int = (n: number) => asn1.create(U, T.INTEGER, false, asn1.integerToDer(n).getBytes());
const explicit0 = (inner: forge.asn1.Asn1) => asn1.create(CTX, 0, true, [inner]);
const toDer = (a: forge.asn1.Asn1) => Buffer.from(asn1.toDer(a).getBytes(), "binary");
const fromDer = (b: Buffer) => asn1.fromDer(forge.util.createBuffer(b.toString("binary")), true);

function children(node: forge.asn1.Asn1 | undefined, what: string): forge.asn1.Asn1[] {
  if (!node || !Array.isArray(node.value)) throw new Error(`${what}: expected a constructed ASN.1 value`);
  return node.value;
}

function bytes(node: forge.asn1.Asn1 | undefined): Buffer {
  if (!node || typeof node.value !== "string") throw new Error("expected a primitive ASN.1 value");
  return Buffer.from(node.value, "binary");
}

function oidValue(node: forge.asn1.Asn1 | undefined): string {
  if (!node || node.type !== T.OID || typeof node.value !== "string") return "";
  return asn1.derToOid(node.value);
}

function intValue(node: forge.asn1.Asn1): number {
  if (node.type !== T.INTEGER || typeof node.value !== "string") throw new Error("expected an INTEGER");
  return asn1.derToInteger(node.value);
}
