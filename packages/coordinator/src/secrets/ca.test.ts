import { X509Certificate } from "node:crypto";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { pemFingerprint } from "@vmmeet/node";
import forge from "node-forge";
import { afterEach, describe, expect, it } from "vitest";
import {
  type CaMaterial,
  certInfo,
  createCa,
  DAY_MS,
  isSignedBy,
  issueClientCert,
  issueServerCert,
  keyMatchesCert,
} from "./ca.js";

const T0 = new Date("2027-03-01T12:00:00Z");

// One CA for the file: RSA key generation dominates the run time.
const ca = createCa("vmmeet CA example.org", T0);
const otherCa = createCa("someone else's CA", T0);

function extension(pem: string, name: string) {
  return forge.pki.certificateFromPem(pem).getExtension(name) as Record<string, unknown> | null;
}

describe("createCa", () => {
  it("makes a self-signed CA certificate, CA:true pathlen 0 and keyCertSign/cRLSign, both critical", () => {
    const x = new X509Certificate(ca.certPem);
    expect(x.ca).toBe(true);
    expect(x.subject).toContain("CN=vmmeet CA example.org");
    expect(x.checkIssued(x)).toBe(true);
    expect(x.verify(x.publicKey)).toBe(true);
    expect(x.publicKey.asymmetricKeyDetails?.modulusLength).toBe(3072);
    expect(extension(ca.certPem, "basicConstraints")).toMatchObject({
      critical: true,
      cA: true,
      pathLenConstraint: 0,
    });
    expect(extension(ca.certPem, "keyUsage")).toMatchObject({
      critical: true,
      keyCertSign: true,
      cRLSign: true,
    });
    expect(extension(ca.certPem, "keyUsage")).toMatchObject({ digitalSignature: false });
    expect(keyMatchesCert(ca.certPem, ca.keyPem)).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(ca.certPem).toMatch(/^-----BEGIN CERTIFICATE-----\n[^\r]*-----END CERTIFICATE-----\n$/);
  });

  it("is valid for ten years, backdated an hour for clock skew", () => {
    const info = certInfo(ca.certPem);
    expect(info.notBefore.toISOString()).toBe("2027-03-01T11:00:00.000Z");
    expect(info.notAfter.getTime()).toBe(T0.getTime() + 3650 * DAY_MS);
    expect(info.isCa).toBe(true);
  });

  it("signs with SHA-256 and uses random positive serial numbers", () => {
    const a = forge.pki.certificateFromPem(ca.certPem);
    const b = forge.pki.certificateFromPem(otherCa.certPem);
    expect(a.siginfo.algorithmOid).toBe(forge.pki.oids.sha256WithRSAEncryption);
    expect(a.serialNumber).not.toBe(b.serialNumber);
    expect(Number.parseInt(a.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
  });
});

describe("issueServerCert", () => {
  const leaf = issueServerCert(ca, ["auth.example.org"], T0, 730);

  it("issues a serverAuth certificate for the name, signed by the CA, with its own key", () => {
    const x = new X509Certificate(leaf.certPem);
    expect(x.ca).toBe(false);
    expect(x.subjectAltName).toBe("DNS:auth.example.org");
    expect(x.checkHost("auth.example.org")).toBe("auth.example.org");
    expect(x.checkHost("example.org")).toBeUndefined();
    expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(extension(leaf.certPem, "keyUsage")).toMatchObject({
      critical: true,
      digitalSignature: true,
      keyEncipherment: true,
      keyCertSign: false,
    });
    expect(isSignedBy(leaf.certPem, ca.certPem)).toBe(true);
    expect(isSignedBy(leaf.certPem, otherCa.certPem)).toBe(false);
    expect(keyMatchesCert(leaf.certPem, leaf.keyPem)).toBe(true);
    expect(keyMatchesCert(leaf.certPem, ca.keyPem)).toBe(false);
  });

  it("links to the CA by key identifier (AKI of the leaf = SKI of the CA)", () => {
    const ski = extension(ca.certPem, "subjectKeyIdentifier")?.subjectKeyIdentifier as string;
    const caAki = forge.pki.certificateFromPem(leaf.certPem).getExtension("authorityKeyIdentifier") as {
      value: string;
    };
    expect(ski).toMatch(/^[0-9a-f]{40}$/);
    // The extension value is SEQUENCE { [0] keyIdentifier }: the identifier bytes end it.
    expect(forge.util.bytesToHex(caAki.value).endsWith(ski)).toBe(true);
    expect(extension(leaf.certPem, "subjectKeyIdentifier")?.subjectKeyIdentifier).not.toBe(ski);
  });

  it("runs for the requested days, but never past the CA's end", () => {
    expect(certInfo(leaf.certPem).notAfter.getTime()).toBe(T0.getTime() + 730 * DAY_MS);
    const late = new Date(T0.getTime() + 3000 * DAY_MS);
    const capped = issueServerCert(ca, ["auth.example.org"], late, 730);
    expect(certInfo(capped.certPem).notAfter).toEqual(certInfo(ca.certPem).notAfter);
    expect(() =>
      issueServerCert(ca, ["auth.example.org"], new Date(T0.getTime() + 3651 * DAY_MS), 30),
    ).toThrow(/CA expired/);
  });

  it("puts IP literals in iPAddress entries (for the coordinator's own certificate)", () => {
    const c = issueServerCert(ca, ["vmm.example.org", "100.64.1.2"], T0, 365);
    const x = new X509Certificate(c.certPem);
    expect(x.checkIP("100.64.1.2")).toBe("100.64.1.2");
    expect(x.checkHost("vmm.example.org")).toBe("vmm.example.org");
    expect(certInfo(c.certPem)).toMatchObject({
      commonName: "vmm.example.org",
      dnsNames: ["vmm.example.org"],
      ipAddresses: ["100.64.1.2"],
    });
  });

  it("refuses names that are neither DNS names nor addresses", () => {
    expect(() => issueServerCert(ca, ["auth.example.org\nCN=evil"], T0, 30)).toThrow(
      /not a lower-case DNS name/,
    );
    expect(() => issueServerCert(ca, [], T0, 30)).toThrow(/at least one name/);
  });
});

describe("issueClientCert", () => {
  it("issues a clientAuth certificate identified by its common name, without alt names", () => {
    const c = issueClientCert(ca, "jvb1", T0, 365);
    const x = new X509Certificate(c.certPem);
    expect(x.subject).toBe("CN=jvb1");
    expect(x.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(x.subjectAltName).toBeUndefined();
    expect(isSignedBy(c.certPem, ca.certPem)).toBe(true);
    expect(keyMatchesCert(c.certPem, c.keyPem)).toBe(true);
  });
});

describe("pemFingerprint", () => {
  it("is sha256: and the lower-case hex SHA-256 of the DER", () => {
    const fp = pemFingerprint(ca.certPem);
    expect(fp).toMatch(/^sha256:[0-9a-f]{64}$/);
    const openssl = new X509Certificate(ca.certPem).fingerprint256.replaceAll(":", "").toLowerCase();
    expect(fp).toBe(`sha256:${openssl}`);
    expect(pemFingerprint(otherCa.certPem)).not.toBe(fp);
  });
});

// The chain the later mutual-TLS issue needs, end to end through OpenSSL: a server certificate and a client
// certificate from the same CA, each side trusting only that CA.
describe("mutual TLS with the CA's certificates", () => {
  // OpenSSL checks validity against the real clock, so these CAs start now rather than at T0.
  const liveCa = createCa("vmmeet CA live", new Date());
  const liveOther = createCa("someone else's live CA", new Date());
  let server: tls.Server | undefined;
  afterEach(() => {
    server?.close();
    server = undefined;
  });

  async function handshake(serverCa: CaMaterial, client: { certPem: string; keyPem: string } | undefined) {
    const srv = issueServerCert(serverCa, ["vmm.example.org"], new Date(), 30);
    const peers: string[] = [];
    server = tls.createServer(
      {
        cert: srv.certPem,
        key: srv.keyPem,
        ca: [liveCa.certPem],
        requestCert: true,
        rejectUnauthorized: true,
      },
      (sock) => {
        peers.push(String(sock.getPeerCertificate().subject.CN));
        sock.end("ok\n");
      },
    );
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return new Promise<{ ok: boolean; error?: string; peers: string[] }>((resolve) => {
      const sock = tls.connect({
        host: "127.0.0.1",
        port,
        servername: "vmm.example.org",
        ca: [liveCa.certPem],
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      });
      let data = "";
      sock.on("data", (d) => {
        data += d;
      });
      sock.on("end", () => resolve({ ok: data === "ok\n", peers }));
      sock.on("error", (e) => resolve({ ok: false, error: e.message, peers }));
    });
  }

  it("connects when both sides hold certificates from the CA", async () => {
    const r = await handshake(liveCa, issueClientCert(liveCa, "jvb1", new Date(), 30));
    expect(r).toEqual({ ok: true, peers: ["jvb1"] });
  });

  it("fails when the server's certificate comes from another CA", async () => {
    const r = await handshake(liveOther, issueClientCert(liveCa, "jvb1", new Date(), 30));
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/self[- ]signed|unable to verify|local issuer/i);
  });

  it("fails when the client's certificate comes from another CA", async () => {
    const r = await handshake(liveCa, issueClientCert(liveOther, "intruder", new Date(), 30));
    expect(r.ok).toBe(false);
    expect(r.peers).toEqual([]);
  });
});
