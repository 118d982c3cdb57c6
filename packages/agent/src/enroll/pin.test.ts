import { createHash } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import { describe, expect, it } from "vitest";
import { parseCaHash, pinnedServerIdentity } from "./pin.js";

// A peer chain as tls hands it to checkServerIdentity: leaf -> issuer -> ... (self-issued root points to itself).
function chain(names: string[], rootDer: Buffer): PeerCertificate {
  const root = { raw: rootDer, fingerprint256: "ROOT", subjectaltname: "" } as unknown as PeerCertificate;
  (root as unknown as { issuerCertificate: PeerCertificate }).issuerCertificate = root;
  return {
    raw: Buffer.from("leaf"),
    fingerprint256: "LEAF",
    subject: { CN: names[0] },
    subjectaltname: names.map((n) => (/^\d/.test(n) ? `IP Address:${n}` : `DNS:${n}`)).join(", "),
    issuerCertificate: root,
  } as unknown as PeerCertificate;
}

const pinOf = (der: Buffer) => `sha256:${createHash("sha256").update(der).digest("hex")}`;

describe("pinnedServerIdentity", () => {
  const ca = Buffer.from("the deployment CA");
  it("accepts a chain ending in the pinned CA with the right name", () => {
    expect(pinnedServerIdentity(pinOf(ca))("127.0.0.1", chain(["127.0.0.1"], ca))).toBeUndefined();
  });
  it("refuses another CA even when the name is right", () => {
    const err = pinnedServerIdentity(pinOf(ca))("127.0.0.1", chain(["127.0.0.1"], Buffer.from("another CA")));
    expect(err?.message).toMatch(/does not chain to the pinned CA/);
  });
  it("refuses the pinned CA's certificate for another name (prosody's auth.DOMAIN)", () => {
    const err = pinnedServerIdentity(pinOf(ca))("127.0.0.1", chain(["auth.jts.fips.de"], ca));
    expect(err?.message).toMatch(/does not match certificate's altnames/);
  });
  it("parses pins", () => {
    expect(parseCaHash(` SHA256:${"AB".repeat(32)} `)).toBe(`sha256:${"ab".repeat(32)}`);
    expect(parseCaHash("sha256:abc")).toBeNull();
    expect(parseCaHash(`md5:${"ab".repeat(32)}`)).toBeNull();
  });
});
