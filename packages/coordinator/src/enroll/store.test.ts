import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ENROLL_FILE, EnrollmentStore, parseTtl, TokenRefused, tokenId } from "./store.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function store(now: () => Date = () => new Date()) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-enroll-store-"));
  dirs.push(dir);
  const s = new EnrollmentStore(path.join(dir, "state"), { now });
  await s.load();
  return s;
}

let serial = 0;
const issue = () => ({
  fingerprint: `sha256:${String(++serial).padStart(64, "0")}`,
  serial: "01",
  notAfter: "2030-01-01T00:00:00.000Z",
});
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "accepted",
    (e: unknown) => (e instanceof TokenRefused ? e.kind : `error: ${(e as Error).message}`),
  );

describe("EnrollmentStore", () => {
  it("spends a token once even when two enrollments race with it", async () => {
    const s = await store();
    const { token } = await s.issueToken("jicofo", 60_000, "root");
    const results = await Promise.all(
      [1, 2, 3].map(() => refusal(s.spendToken("jicofo", token, "a", issue))),
    );
    expect(results.sort()).toEqual(["accepted", "used", "used"]);
  });

  it("keeps only the token's hash, in a 0600 file, and survives a reload", async () => {
    const s = await store();
    const { token } = await s.issueToken("xmpp", 60_000, "root");
    const file = path.join(s.stateDir, ENROLL_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, "utf8")).not.toContain(token.split(".")[1]);
    const again = new EnrollmentStore(s.stateDir);
    await again.load();
    expect(again.pendingTokens().map((t) => t.id)).toEqual([tokenId(token)]);
    expect(await refusal(again.spendToken("xmpp", token, "a", issue))).toBe("accepted");
  });

  it("refuses the wrong node without burning the token, expired and unknown tokens", async () => {
    let t = Date.parse("2026-01-01T00:00:00Z");
    const s = await store(() => new Date(t));
    const { token } = await s.issueToken("jvb", 60_000, "root");
    expect(await refusal(s.spendToken("web", token, "a", issue))).toBe("wrong-node");
    expect(await refusal(s.spendToken("jvb", `${token.slice(0, -1)}x`, "a", issue))).toBe("unknown");
    expect(await refusal(s.spendToken("jvb", "nonsense", "a", issue))).toBe("malformed");
    t += 61_000;
    expect(await refusal(s.spendToken("jvb", token, "a", issue))).toBe("expired");
  });

  it("a revoked certificate stays revoked; enrolling again supersedes the old one", async () => {
    const s = await store();
    const a = await s.spendToken("web", (await s.issueToken("web", 60_000, "root")).token, "a", issue);
    expect(s.certificateStatus("web", a.fingerprint)).toBe("enrolled");
    const b = await s.spendToken("web", (await s.issueToken("web", 60_000, "root")).token, "a", issue);
    expect(s.certificateStatus("web", a.fingerprint)).toBe("revoked");
    expect(s.certificateStatus("web", b.fingerprint)).toBe("enrolled");
    await s.issueToken("web", 60_000, "root");
    const r = await s.revoke("web", "root");
    expect(r).toMatchObject({ agent: { fingerprint: b.fingerprint }, tokens: 1 });
    expect(s.certificateStatus("web", b.fingerprint)).toBe("revoked");
    expect(s.certificateStatus("jvb", b.fingerprint)).toBe("revoked");
  });

  it("parses --ttl durations", () => {
    expect(parseTtl("90s")).toBe(90_000);
    expect(parseTtl("1h")).toBe(3_600_000);
    expect(parseTtl("2d")).toBe(172_800_000);
    expect(parseTtl("1h30m")).toBeNull();
    expect(parseTtl("-1h")).toBeNull();
  });
});
