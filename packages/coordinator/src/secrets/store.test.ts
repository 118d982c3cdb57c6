import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, stat, unlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { certInfo, DAY_MS, isSignedBy, keyMatchesCert } from "./ca.js";
import { readTrustStore } from "./pkcs12.js";
import {
  AUTH_CERT_DAYS,
  loadCa,
  loadOrCreateMaterial,
  type MaterialLogger,
  RENEW_BEFORE_DAYS,
  rotateSecret,
  SECRET_NAMES,
  STATE_FILES,
} from "./store.js";

const T0 = new Date("2027-03-01T12:00:00Z");
const at = (days: number) => () => new Date(T0.getTime() + days * DAY_MS);
const spec = { domain: "meet.example.org" };

let root: string;
let dir: string;
// A state directory made once; most tests start from a copy (RSA key generation dominates the run time).
let template: string;
beforeAll(async () => {
  template = path.join(await mkdtemp(path.join(os.tmpdir(), "vmmeet-secrets-template-")), "state");
  await loadOrCreateMaterial(template, spec, { now: at(0) });
});
afterAll(async () => {
  await rm(path.dirname(template), { recursive: true, force: true });
});
/** `dir` as a copy of the template; returns what loading it gives (nothing created). */
async function seeded() {
  await cp(template, dir, { recursive: true });
  await chmod(dir, 0o700);
  const m = await loadOrCreateMaterial(dir, spec, { now: at(0) });
  expect(m.created).toEqual([]);
  return m;
}
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), "vmmeet-secrets-"));
  dir = path.join(root, "var", "vmmeet");
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o777;

describe("loadOrCreateMaterial: first use", () => {
  it("creates the state directory 0700 and every file with its mode", async () => {
    const m = await loadOrCreateMaterial(dir, spec, { now: at(0) });
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, "secrets.json"))).toBe(0o600);
    expect(await mode(path.join(dir, "ca.key"))).toBe(0o600);
    expect(await mode(path.join(dir, "ca.crt"))).toBe(0o644);
    expect(await mode(path.join(dir, "auth.key"))).toBe(0o600);
    expect(await mode(path.join(dir, "auth.crt"))).toBe(0o644);
    expect(await mode(path.join(dir, "truststore.p12"))).toBe(0o600);
    expect([...m.created].sort()).toEqual(Object.values(STATE_FILES).sort());
    expect(m.warnings).toEqual([]);
  });

  it("generates four distinct 40-character [A-Za-z0-9] secrets", async () => {
    const { secrets } = await loadOrCreateMaterial(dir, spec, { now: at(0) });
    const values = SECRET_NAMES.map((n) => secrets[n]);
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(new Set(values).size).toBe(4);
    const stored = JSON.parse(await readFile(path.join(dir, "secrets.json"), "utf8"));
    expect(stored).toEqual({ version: 1, ...secrets });
  });

  it("returns a consistent PKI: auth.DOMAIN signed by the CA, the truststore holding the CA", async () => {
    const { pki, secrets, caFingerprint } = await loadOrCreateMaterial(dir, spec, { now: at(0) });
    const auth = new X509Certificate(pki.authCertPem);
    expect(auth.subjectAltName).toBe("DNS:auth.meet.example.org");
    expect(isSignedBy(pki.authCertPem, pki.caCertPem)).toBe(true);
    expect(keyMatchesCert(pki.authCertPem, pki.authKeyPem)).toBe(true);
    expect(certInfo(pki.authCertPem).notAfter.getTime()).toBe(T0.getTime() + AUTH_CERT_DAYS * DAY_MS);
    const entries = readTrustStore(
      Buffer.from(pki.truststoreP12Base64, "base64"),
      secrets.truststorePassword,
    );
    expect(entries).toHaveLength(1);
    expect(entries[0]?.certDer.equals(new X509Certificate(pki.caCertPem).raw)).toBe(true);
    expect(caFingerprint).toBe(certInfo(pki.caCertPem).fingerprint);
    expect(pki.caCertPem).toBe(await readFile(path.join(dir, "ca.crt"), "utf8"));
  });

  it("serialises concurrent first calls in one process: one CA, one set of secrets", async () => {
    const [a, b] = await Promise.all([
      loadOrCreateMaterial(dir, spec, { now: at(0) }),
      loadOrCreateMaterial(dir, spec, { now: at(0) }),
    ]);
    expect(b.secrets).toEqual(a.secrets);
    expect(b.pki).toEqual(a.pki);
    expect(a.created.length + b.created.length).toBe(Object.keys(STATE_FILES).length);
  });
});

describe("loadOrCreateMaterial: later calls", () => {
  it("returns the same material and writes nothing", async () => {
    const first = await seeded();
    const mtimes = await Promise.all(
      Object.values(STATE_FILES).map(async (f) => (await stat(path.join(dir, f))).mtimeMs),
    );
    const second = await loadOrCreateMaterial(dir, spec, { now: at(100) });
    expect(second.secrets).toEqual(first.secrets);
    expect(second.pki).toEqual(first.pki);
    expect(second.created).toEqual([]);
    const after = await Promise.all(
      Object.values(STATE_FILES).map(async (f) => (await stat(path.join(dir, f))).mtimeMs),
    );
    expect(after).toEqual(mtimes);
  });

  it("reissues the auth certificate when the domain changes, keeping the CA, secrets and truststore", async () => {
    const first = await seeded();
    const second = await loadOrCreateMaterial(dir, { domain: "other.example.net" }, { now: at(1) });
    expect(second.created).toEqual(["auth.key", "auth.crt"]);
    expect(new X509Certificate(second.pki.authCertPem).subjectAltName).toBe("DNS:auth.other.example.net");
    expect(second.pki.authKeyPem).not.toBe(first.pki.authKeyPem);
    expect(second.pki.caCertPem).toBe(first.pki.caCertPem);
    expect(second.pki.truststoreP12Base64).toBe(first.pki.truststoreP12Base64);
    expect(second.secrets).toEqual(first.secrets);
    expect(isSignedBy(second.pki.authCertPem, first.pki.caCertPem)).toBe(true);
  });

  it("renews the auth certificate within 30 days of its end, not before", async () => {
    const first = await seeded();
    const before = await loadOrCreateMaterial(dir, spec, { now: at(AUTH_CERT_DAYS - RENEW_BEFORE_DAYS - 1) });
    expect(before.created).toEqual([]);
    expect(before.pki.authCertPem).toBe(first.pki.authCertPem);
    const due = await loadOrCreateMaterial(dir, spec, { now: at(AUTH_CERT_DAYS - RENEW_BEFORE_DAYS + 1) });
    expect(due.created).toEqual(["auth.key", "auth.crt"]);
    expect(certInfo(due.pki.authCertPem).notAfter.getTime()).toBe(
      T0.getTime() + (2 * AUTH_CERT_DAYS - RENEW_BEFORE_DAYS + 1) * DAY_MS,
    );
    expect(due.pki.caCertPem).toBe(first.pki.caCertPem);
  });

  it("repairs an auth key that does not match its certificate (a crash between the two writes)", async () => {
    await seeded();
    const otherKey = (await loadCa(dir, { now: at(0) })).keyPem;
    await writeFile(path.join(dir, "auth.key"), otherKey, { mode: 0o600 });
    const second = await loadOrCreateMaterial(dir, spec, { now: at(1) });
    expect(second.created).toEqual(["auth.key", "auth.crt"]);
    expect(keyMatchesCert(second.pki.authCertPem, second.pki.authKeyPem)).toBe(true);
  });

  it("makes a new CA only when the operator removed both halves, then reissues what depends on it", async () => {
    const first = await seeded();
    await unlink(path.join(dir, "ca.key"));
    await unlink(path.join(dir, "ca.crt"));
    const second = await loadOrCreateMaterial(dir, spec, { now: at(1) });
    expect([...second.created].sort()).toEqual([
      "auth.crt",
      "auth.key",
      "ca.crt",
      "ca.key",
      "truststore.p12",
    ]);
    expect(second.caFingerprint).not.toBe(first.caFingerprint);
    expect(isSignedBy(second.pki.authCertPem, second.pki.caCertPem)).toBe(true);
    const entries = readTrustStore(
      Buffer.from(second.pki.truststoreP12Base64, "base64"),
      second.secrets.truststorePassword,
    );
    expect(entries[0]?.certDer.equals(new X509Certificate(second.pki.caCertPem).raw)).toBe(true);
    expect(second.secrets).toEqual(first.secrets);
  });

  it("warns when the CA nears its end and refuses an expired CA instead of replacing it", async () => {
    await seeded();
    const late = await loadOrCreateMaterial(dir, spec, { now: at(3650 - 100) });
    expect(late.warnings.join("\n")).toMatch(/deployment CA .* expires on 2037-.* \(100 days\)/);
    await expect(loadOrCreateMaterial(dir, spec, { now: at(3651) })).rejects.toThrow(
      /deployment CA in .* expired on 2037-.*remove ca\.key and ca\.crt/,
    );
  });

  it("adds a secret missing from an older secrets.json and keeps the others and unknown keys", async () => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const kept = {
      focusPassword: "HandMadeFocusPassword1234",
      jvbPassword: "HandMadeJvbPassword123456",
      extra: 7,
    };
    await writeFile(path.join(dir, "secrets.json"), JSON.stringify(kept), { mode: 0o600 });
    const m = await loadOrCreateMaterial(dir, spec, { now: at(0) });
    expect(m.secrets.focusPassword).toBe(kept.focusPassword);
    expect(m.secrets.jvbPassword).toBe(kept.jvbPassword);
    expect(m.secrets.turnSecret).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(m.created).toContain("secrets.json");
    const stored = JSON.parse(await readFile(path.join(dir, "secrets.json"), "utf8"));
    expect(stored).toMatchObject({ ...kept, version: 1, turnSecret: m.secrets.turnSecret });
  });
});

describe("rotateSecret", () => {
  it("replaces one secret; the next load rebuilds the truststore for a new truststore password", async () => {
    const first = await seeded();
    await rotateSecret(dir, "truststorePassword");
    const second = await loadOrCreateMaterial(dir, spec, { now: at(0) });
    expect(second.secrets.truststorePassword).not.toBe(first.secrets.truststorePassword);
    expect(second.secrets.focusPassword).toBe(first.secrets.focusPassword);
    expect(second.created).toEqual(["truststore.p12"]);
    const store = Buffer.from(second.pki.truststoreP12Base64, "base64");
    expect(readTrustStore(store, second.secrets.truststorePassword)).toHaveLength(1);
    expect(second.pki.authCertPem).toBe(first.pki.authCertPem);
  });

  it("replaces only the named secret", async () => {
    const first = await seeded();
    await rotateSecret(dir, "turnSecret");
    const second = await loadOrCreateMaterial(dir, spec, { now: at(0) });
    expect(second.secrets.turnSecret).not.toBe(first.secrets.turnSecret);
    expect({ ...second.secrets, turnSecret: "" }).toEqual({ ...first.secrets, turnSecret: "" });
    expect(second.created).toEqual([]);
  });
});

describe("loadCa", () => {
  it("returns the CA for issuing further certificates, and refuses when there is none", async () => {
    await expect(loadCa(dir)).rejects.toThrow(/no deployment CA/);
    const m = await seeded();
    const ca = await loadCa(dir, { now: at(0) });
    expect(ca.certPem).toBe(m.pki.caCertPem);
    expect(keyMatchesCert(ca.certPem, ca.keyPem)).toBe(true);
  });
});

describe("refusals: the state directory is checked like ssh checks ~/.ssh", () => {
  it("refuses a state directory others can enter, telling the fix", async () => {
    await seeded();
    await chmod(dir, 0o755);
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      `state directory ${dir} is accessible by group or others (mode 0755); it holds private keys and passwords. Run: chmod 700 ${dir}`,
    );
  });

  it("refuses a secrets.json others can read, telling the fix", async () => {
    await seeded();
    const file = path.join(dir, "secrets.json");
    await chmod(file, 0o644);
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      new RegExp(
        `secrets file ${file} is accessible by group or others \\(mode 0644\\).*Run: chmod 600 ${file}`,
      ),
    );
    await expect(rotateSecret(dir, "turnSecret")).rejects.toThrow(/chmod 600/);
  });

  it("refuses a CA key others can read", async () => {
    await seeded();
    await chmod(path.join(dir, "ca.key"), 0o640);
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      /CA private key .*ca\.key.*mode 0640/,
    );
  });

  it("names the file in a JSON syntax error and never quotes its content", async () => {
    await seeded();
    const file = path.join(dir, "secrets.json");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace(/",\n/, '"\n'), { mode: 0o600 });
    const err = await loadOrCreateMaterial(dir, spec, { now: at(0) }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(
      new RegExp(`^secrets.json in ${dir} is not valid JSON: syntax error at line 4 column 3$`),
    );
    for (const value of Object.values(JSON.parse(text) as Record<string, unknown>)) {
      if (typeof value === "string") expect(err?.message).not.toContain(value.slice(0, 8));
    }
  });

  it("refuses a secret with characters the renderers cannot place unquoted, without quoting it", async () => {
    await seeded();
    const file = path.join(dir, "secrets.json");
    const stored = JSON.parse(await readFile(file, "utf8"));
    await writeFile(file, JSON.stringify({ ...stored, jvbPassword: "has'quote\"andMore12345" }), {
      mode: 0o600,
    });
    const err = await loadOrCreateMaterial(dir, spec, { now: at(0) }).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/secrets.json in .*: "jvbPassword" must be 16 to 256 letters and digits/);
    expect(err?.message).not.toContain("has'quote");
  });

  it("refuses JSON that is not an object, and an unknown version", async () => {
    await seeded();
    const file = path.join(dir, "secrets.json");
    await writeFile(file, "[]", { mode: 0o600 });
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      /secrets.json in .* is not a JSON object/,
    );
    await writeFile(file, '{"version": 2}', { mode: 0o600 });
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      /has version 2; this vmmeet reads version 1/,
    );
  });

  it("never makes a new CA when one half of it is missing", async () => {
    await seeded();
    const key = await readFile(path.join(dir, "ca.key"));
    await unlink(path.join(dir, "ca.crt"));
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      /ca\.crt is missing in .*: restore it from a backup/,
    );
    expect(await readFile(path.join(dir, "ca.key"))).toEqual(key);
  });

  it("refuses a CA key that belongs to another certificate", async () => {
    await seeded();
    const authKey = await readFile(path.join(dir, "auth.key"));
    await writeFile(path.join(dir, "ca.key"), authKey, { mode: 0o600 });
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).rejects.toThrow(
      /ca\.key in .* does not belong to ca\.crt/,
    );
  });
});

describe("logging", () => {
  it("logs what it generated by name and never a secret or a key", async () => {
    const lines: unknown[] = [];
    const logger: MaterialLogger = {
      info: (obj, msg) => lines.push({ obj, msg }),
      warn: (obj, msg) => lines.push({ obj, msg }),
    };
    const m = await loadOrCreateMaterial(dir, spec, { now: at(0), logger });
    await rotateSecret(dir, "jvbPassword", { logger });
    const m2 = await loadOrCreateMaterial(
      dir,
      { domain: "other.example.net" },
      { now: at(3650 - 10), logger },
    );
    const text = JSON.stringify(lines);
    expect(text).toContain("generated the deployment CA");
    expect(text).toContain("focusPassword");
    expect(text).toContain("rotated a secret");
    for (const s of [...Object.values(m.secrets), ...Object.values(m2.secrets)])
      expect(text).not.toContain(s);
    expect(text).not.toContain("PRIVATE KEY");
  });
});

// Two vmmeet processes (the daemon and a CLI run) starting on an empty state directory at once must end up
// with one CA: the lock file serialises them.
describe("the state directory lock across processes", () => {
  const storeTs = fileURLToPath(new URL("./store.ts", import.meta.url));

  function runChild(): Promise<string> {
    const code =
      `const { loadOrCreateMaterial } = await import(${JSON.stringify(storeTs)});` +
      `const m = await loadOrCreateMaterial(${JSON.stringify(dir)}, { domain: "meet.example.org" });` +
      "process.stdout.write(m.caFingerprint + ' ' + m.secrets.focusPassword.length);";
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      child.stderr.on("data", (d) => {
        err += d;
      });
      child.on("close", (status) => (status === 0 ? resolve(out) : reject(new Error(err))));
    });
  }

  it("gives two concurrent processes the same CA", async () => {
    const [a, b] = await Promise.all([runChild(), runChild()]);
    expect(a).toMatch(/^sha256:[0-9a-f]{64} 40$/);
    expect(b).toBe(a);
  });

  it("breaks a lock left by a process that is gone, and waits for a live holder", async () => {
    await seeded();
    // A pid that cannot exist on Linux or OpenBSD (pid_max is far lower).
    await writeFile(path.join(dir, ".lock"), "99999999\n", { mode: 0o600 });
    await expect(loadOrCreateMaterial(dir, spec, { now: at(0) })).resolves.toMatchObject({ created: [] });

    const holder = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    try {
      await writeFile(path.join(dir, ".lock"), `${holder.pid}\n`, { mode: 0o600 });
      await expect(loadOrCreateMaterial(dir, spec, { now: at(0), lockTimeoutMs: 200 })).rejects.toThrow(
        new RegExp(`\\.lock is held by process ${holder.pid}`),
      );
    } finally {
      holder.kill();
    }
  });
});
