import { X509Certificate } from "node:crypto";
import forge from "node-forge";
import { describe, expect, it } from "vitest";
import { createCa } from "./ca.js";
import { OID, pkcs12Kdf, readTrustStore, TrustStoreMacError, trustStoreP12 } from "./pkcs12.js";

const T0 = new Date("2027-03-01T12:00:00Z");
const ca = createCa("vmmeet CA example.org", T0);
const other = createCa("another CA", T0);
const PASSWORD = "s3cretStorePassw0rdForTheTests";

const oidDer = (oid: string) => Buffer.from(forge.asn1.oidToDer(oid).getBytes(), "binary");

describe("pkcs12Kdf (RFC 7292 appendix B.2)", () => {
  it("matches the published SHA-1 test vector (password 'smeg', one iteration)", () => {
    // The vector used by OpenSSL's and Bouncy Castle's PKCS#12 tests.
    const salt = Buffer.from("0A58CF64530D823F", "hex");
    expect(pkcs12Kdf("sha1", "smeg", salt, 1, 1, 24).toString("hex")).toBe(
      "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3",
    );
    expect(pkcs12Kdf("sha1", "smeg", salt, 2, 1, 8).toString("hex")).toBe("79993dfe048d3b76");
  });

  it("agrees with node-forge's independent implementation, over several blocks and iterations", () => {
    const salt = Buffer.from("00112233445566778899aabbccddeeff01234567", "hex");
    for (const [hash, md] of [
      ["sha256", () => forge.md.sha256.create()],
      ["sha1", () => forge.md.sha1.create()],
    ] as const) {
      for (const [id, iterations, n] of [
        [3, 1, 20],
        [3, 2048, 32],
        [1, 7, 100],
      ] as const) {
        const ours = pkcs12Kdf(hash, PASSWORD, salt, id, iterations, n).toString("hex");
        const theirs = forge.util.bytesToHex(
          forge.pkcs12
            .generateKey(PASSWORD, forge.util.createBuffer(salt.toString("binary")), id, iterations, n, md())
            .getBytes(),
        );
        expect(ours, `${hash} id ${id} iter ${iterations} n ${n}`).toBe(theirs);
      }
    }
  });
});

describe("trustStoreP12", () => {
  const p12 = trustStoreP12(ca.certPem, PASSWORD);

  it("reads back as one trusted entry holding the CA certificate", () => {
    const entries = readTrustStore(p12, PASSWORD);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ alias: "vmmeet-ca", trusted: true });
    expect(entries[0]?.certDer.equals(new X509Certificate(ca.certPem).raw)).toBe(true);
  });

  it("carries Oracle's trustedKeyUsage attribute with anyExtendedKeyUsage (what makes Java trust it)", () => {
    // SEQUENCE { OID trustedKeyUsage, SET { OID anyExtendedKeyUsage } }
    const attrBody = Buffer.concat([
      Buffer.from([0x06, oidDer(OID.trustedKeyUsage).length]),
      oidDer(OID.trustedKeyUsage),
      Buffer.from([
        0x31,
        oidDer(OID.anyExtendedKeyUsage).length + 2,
        0x06,
        oidDer(OID.anyExtendedKeyUsage).length,
      ]),
      oidDer(OID.anyExtendedKeyUsage),
    ]);
    const attr = Buffer.concat([Buffer.from([0x30, attrBody.length]), attrBody]);
    expect(p12.includes(attr)).toBe(true);
  });

  it("is a PFX that node-forge's PKCS#12 reader accepts, MAC verified with the password", () => {
    const parsed = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(p12.toString("binary")), PASSWORD);
    const bags = parsed.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag as string] ?? [];
    expect(bags).toHaveLength(1);
    expect(bags[0]?.attributes.friendlyName).toEqual(["vmmeet-ca"]);
    expect(bags[0]?.cert && forge.pki.certificateToPem(bags[0].cert).replace(/\r\n/g, "\n")).toBe(ca.certPem);
    expect(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(p12.toString("binary")), "wrong")).toThrow(
      /MAC/i,
    );
  });

  it("uses an HMAC-SHA-256 MAC with 10000 iterations by default, HMAC-SHA-1 on request", () => {
    expect(p12.includes(oidDer(OID.sha256))).toBe(true);
    const sha1 = trustStoreP12(ca.certPem, PASSWORD, { mac: "sha1", iterations: 2048 });
    expect(sha1.includes(oidDer(OID.sha256))).toBe(false);
    expect(sha1.includes(oidDer(OID.sha1))).toBe(true);
    expect(readTrustStore(sha1, PASSWORD)).toHaveLength(1);
    expect(() =>
      forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(sha1.toString("binary")), PASSWORD),
    ).not.toThrow();
    // iterations INTEGER 10000 = 02 02 27 10 right after the 20-byte salt
    expect(p12.subarray(-4).toString("hex")).toBe("02022710");
  });

  it("refuses a wrong password and an altered file", () => {
    expect(() => readTrustStore(p12, "wrong-password")).toThrow(TrustStoreMacError);
    const altered = Buffer.from(p12);
    const at = altered.indexOf(new X509Certificate(ca.certPem).raw) + 200;
    altered[at] = (altered[at] ?? 0) ^ 0x01;
    expect(() => readTrustStore(altered, PASSWORD)).toThrow(TrustStoreMacError);
  });

  it("uses a fresh salt each time", () => {
    expect(trustStoreP12(ca.certPem, PASSWORD).equals(p12)).toBe(false);
  });

  it("holds several CAs (a rotation) under distinct aliases", () => {
    const both = readTrustStore(
      trustStoreP12([ca.certPem, other.certPem], PASSWORD, { alias: "deploy" }),
      PASSWORD,
    );
    expect(both.map((e) => [e.alias, e.trusted])).toEqual([
      ["deploy", true],
      ["deploy-2", true],
    ]);
  });

  it("refuses an empty password or no certificate", () => {
    expect(() => trustStoreP12(ca.certPem, "")).toThrow(/empty/);
    expect(() => trustStoreP12([], PASSWORD)).toThrow(/at least one/);
  });
});
