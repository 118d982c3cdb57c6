import { chmod, cp, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MaterialCache } from "./cache.js";
import { loadOrCreateMaterial, rotateSecret } from "./store.js";

const spec = { domain: "meet.example.org" };
let template: string;
/** Every temp directory made here: they hold generated keys and secrets, so none is left behind. */
const made: string[] = [];
beforeAll(async () => {
  template = path.join(await mkdtemp(path.join(os.tmpdir(), "vmmeet-cache-template-")), "state");
  made.push(path.dirname(template));
  await loadOrCreateMaterial(template, spec);
});
afterAll(async () => {
  for (const d of made.splice(0)) await rm(d, { recursive: true, force: true });
});

async function stateDir(): Promise<string> {
  const top = await mkdtemp(path.join(os.tmpdir(), "vmmeet-cache-"));
  made.push(top);
  const dir = path.join(top, "state");
  await cp(template, dir, { recursive: true });
  await chmod(dir, 0o700);
  return dir;
}

describe("MaterialCache", () => {
  it("keeps what it loaded while the state files stay the same", async () => {
    const cache = new MaterialCache(await stateDir());
    const a = await cache.get(spec);
    const b = await cache.get(spec);
    expect(b.pki).toBe(a.pki); // the same object: nothing was read or verified again
    expect(b.secrets).toEqual(a.secrets);
    expect(b.created).toEqual([]);
  });

  it("loads again when a state file changed (a rotated secret), or the domain", async () => {
    const dir = await stateDir();
    const cache = new MaterialCache(dir);
    const a = await cache.get(spec);
    await rotateSecret(dir, "jvbPassword");
    const b = await cache.get(spec);
    expect(b.secrets.jvbPassword).not.toBe(a.secrets.jvbPassword);
    expect(b.secrets.focusPassword).toBe(a.secrets.focusPassword);
    const c = await cache.get({ domain: "other.example.org" });
    expect(c.pki.authCertPem).not.toBe(b.pki.authCertPem); // auth.other.example.org is issued
  });

  it("loads again after maxAgeMs, so renewals and expiry warnings still come", async () => {
    let t = Date.parse("2026-11-21T00:00:00Z");
    const cache = new MaterialCache(await stateDir(), { now: () => new Date(t), maxAgeMs: 60_000 });
    const a = await cache.get(spec);
    t += 59_000;
    expect((await cache.get(spec)).pki).toBe(a.pki);
    t += 2_000;
    expect((await cache.get(spec)).pki).not.toBe(a.pki);
  });

  it("loads again when a file went missing, and keeps what that load re-created", async () => {
    const dir = await stateDir();
    const cache = new MaterialCache(dir);
    await cache.get(spec);
    await rm(path.join(dir, "truststore.p12"));
    const b = await cache.get(spec); // re-created by the load
    expect(b.created).toEqual(["truststore.p12"]);
    expect((await cache.get(spec)).pki).toBe(b.pki);
  });
});
