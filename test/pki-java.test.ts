// The deployment's internal TLS against the real JVM: the truststore vmmeet writes (no keytool, no openssl)
// must be what jicofo and jvb load with -Djavax.net.ssl.trustStore/-Password, and prosody's auth.DOMAIN
// certificate must pass Java's PKIX validation and host name check through it. This is the chain the paper
// builds by hand with `prosodyctl cert generate` + `keytool -import`, and whose failure shows as jicofo's
// "PKIX path building failed" and prosody's "sslv3 alert certificate unknown" (test/fixtures/logs/corpus.jsonl).
//
// Every JDK found is tested: the `java` on PATH (required; a missing one fails the file) and any other
// under /usr/lib/jvm. keytool comes from the same bin directory as each java.
import { existsSync, readdirSync, realpathSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { pemFingerprint } from "@vmmeet/node";
import forge from "node-forge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createCa,
  loadOrCreateMaterial,
  type Material,
  trustStoreP12,
} from "../packages/coordinator/src/secrets/index.js";
import { waitFor } from "./helpers/wait.js";
import { joinOutput, requireTool, runProgram } from "./validators/run.js";

const PROBE = path.join(path.dirname(fileURLToPath(import.meta.url)), "pki", "TlsProbe.java");
const DOMAIN = "meet.example.org";
const AUTH = `auth.${DOMAIN}`;

interface Jdk {
  bin: string;
  java: string;
  keytool: string;
}

function findJdks(): Jdk[] {
  const bins = [path.dirname(realpathSync(requireTool("java")))];
  const jvm = "/usr/lib/jvm";
  if (existsSync(jvm)) {
    for (const d of readdirSync(jvm)) {
      const java = path.join(jvm, d, "bin", "java");
      if (existsSync(java)) bins.push(path.dirname(realpathSync(java)));
    }
  }
  return [...new Set(bins)].map((bin) => ({
    bin,
    java: path.join(bin, "java"),
    keytool: path.join(bin, "keytool"),
  }));
}

const jdks = findJdks();

let work: string;
let material: Material;
const files = { store: "", sha1: "", otherCa: "", noTrustAttr: "" };
let server: tls.Server;
let port: number;
const sniSeen: (string | false | null)[] = [];
const serverErrors: string[] = [];

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), "vmmeet-pki-java-"));
  // The real store, on the real clock: the JVM checks validity dates.
  material = await loadOrCreateMaterial(path.join(work, "state"), { domain: DOMAIN });
  const password = material.secrets.truststorePassword;
  files.store = path.join(work, "jitsi.store");
  await writeFile(files.store, Buffer.from(material.pki.truststoreP12Base64, "base64"));
  files.sha1 = path.join(work, "sha1.store");
  await writeFile(files.sha1, trustStoreP12(material.pki.caCertPem, password, { mac: "sha1" }));
  files.otherCa = path.join(work, "other.store");
  await writeFile(files.otherCa, trustStoreP12(createCa("someone else's CA", new Date()).certPem, password));
  // Control: the same CA in a PKCS#12 made by node-forge, whose certBag lacks Oracle's trustedKeyUsage.
  files.noTrustAttr = path.join(work, "no-attr.store");
  const forgeP12 = forge.pkcs12.toPkcs12Asn1(
    null,
    forge.pki.certificateFromPem(material.pki.caCertPem),
    password,
    {
      friendlyName: "vmmeet-ca",
    },
  );
  await writeFile(files.noTrustAttr, Buffer.from(forge.asn1.toDer(forgeP12).getBytes(), "binary"));

  // prosody's side: serves the auth.DOMAIN certificate and key exactly as rendered (leaf only, as prosody's
  // ssl { certificate = ... } does).
  server = tls.createServer({ cert: material.pki.authCertPem, key: material.pki.authKeyPem }, (sock) => {
    sniSeen.push(sock.servername);
    sock.end("<stream:features/>\n");
  });
  server.on("tlsClientError", (err) => serverErrors.push(err.message));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await rm(work, { recursive: true, force: true });
});

function keytoolList(jdk: Jdk, file: string, password: string) {
  return runProgram(
    jdk.keytool,
    ["-list", "-v", "-keystore", file, "-storetype", "PKCS12", "-storepass", password],
    {
      timeoutMs: 50_000,
    },
  );
}

/** The probe with the truststore passed as jicofo.sh passes it (the password on the command line is a test value). */
function probe(jdk: Jdk, store: string | undefined, password: string, name = AUTH) {
  const props =
    store === undefined
      ? []
      : [`-Djavax.net.ssl.trustStore=${store}`, `-Djavax.net.ssl.trustStorePassword=${password}`];
  return runProgram(jdk.java, [...props, PROBE, "127.0.0.1", String(port), name], { timeoutMs: 50_000 });
}

/** keytool prints SHA256: AB:CD:...; pemFingerprint gives sha256:abcd... */
function keytoolFingerprint(fp: string): string {
  return (
    fp
      .replace(/^sha256:/, "")
      .toUpperCase()
      .match(/../g)
      ?.join(":") ?? ""
  );
}

describe("the truststore is a PKCS#12 the JDK's keytool lists as one trusted certificate", () => {
  describe.each(jdks)("JDK $bin", (jdk) => {
    it("lists exactly one trustedCertEntry, the deployment CA, with the right password", async () => {
      const r = await keytoolList(jdk, files.store, material.secrets.truststorePassword);
      const out = joinOutput(r);
      expect(r.code, out).toBe(0);
      expect(out).toContain("Keystore type: PKCS12");
      expect(out).toContain("Your keystore contains 1 entry");
      expect(out.match(/Entry type: (\w+)/g)).toEqual(["Entry type: trustedCertEntry"]);
      expect(out).toContain("Alias name: vmmeet-ca");
      expect(out).toContain(`SHA256: ${keytoolFingerprint(pemFingerprint(material.pki.caCertPem))}`);
      expect(material.caFingerprint).toBe(pemFingerprint(material.pki.caCertPem));
    });

    it("refuses the store with a wrong password (the MAC is checked)", async () => {
      const r = await keytoolList(jdk, files.store, "not-the-password");
      expect(r.code).not.toBe(0);
      expect(joinOutput(r)).toMatch(/Integrity check failed.*Failed PKCS12 integrity checking/);
    });

    it("reads the HMAC-SHA-1 variant too", async () => {
      const r = await keytoolList(jdk, files.sha1, material.secrets.truststorePassword);
      expect(r.code, joinOutput(r)).toBe(0);
      expect(joinOutput(r)).toContain("Entry type: trustedCertEntry");
    });

    it("control: without Oracle's trustedKeyUsage attribute the same certificate is not an entry at all", async () => {
      const r = await keytoolList(jdk, files.noTrustAttr, material.secrets.truststorePassword);
      expect(r.code, joinOutput(r)).toBe(0);
      expect(joinOutput(r)).toContain("Your keystore contains 0 entries");
    });
  });
});

describe("jicofo/jvb -> prosody: a JVM TLS handshake to auth.DOMAIN through the truststore", () => {
  describe.each(jdks)("JDK $bin", (jdk) => {
    it("succeeds with the deployment truststore, SNI and host name auth.DOMAIN", async () => {
      const before = sniSeen.length;
      const r = await probe(jdk, files.store, material.secrets.truststorePassword);
      expect(r.stdout, joinOutput(r)).toMatch(
        new RegExp(`^OK TLSv1\\.[23] CN=${AUTH.replaceAll(".", "\\.")} <stream:features/>\\n$`),
      );
      expect(r.code).toBe(0);
      expect(sniSeen.slice(before)).toEqual([AUTH]);
    });

    it("fails with PKIX path building failed when the truststore holds another CA", async () => {
      const errorsBefore = serverErrors.length;
      const r = await probe(jdk, files.otherCa, material.secrets.truststorePassword);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(
        /^FAIL javax\.net\.ssl\.SSLHandshakeException: (\(certificate_unknown\) )?PKIX path building failed/,
      );
      // What prosody logs in that case (corpus.jsonl, signal truststore-rejected).
      const seen = await waitFor(() => serverErrors.slice(errorsBefore)[0], {
        what: "the server's handshake error",
      });
      expect(seen).toMatch(/alert certificate unknown/);
    });

    it("fails without a truststore: Java's default cacerts does not know the deployment CA", async () => {
      const r = await probe(jdk, undefined, "");
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/PKIX path building failed/);
    });

    it("fails when the name is not the certificate's (endpoint identification is on)", async () => {
      const r = await probe(jdk, files.store, material.secrets.truststorePassword, `xmpp.${DOMAIN}`);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/No subject alternative DNS name matching xmpp\.meet\.example\.org found/);
    });

    it("fails when jicofo.in.sh and the truststore disagree on the password", async () => {
      const r = await probe(jdk, files.store, "not-the-password");
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/KeyManagementException: problem accessing trust store/);
    });
  });
});
