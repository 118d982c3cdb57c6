import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { newJournal } from "../fleet/journal.js";
import { type GenerationRecord, StateStore, StateWriteError } from "./store.js";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function store(): Promise<StateStore> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-store-"));
  dirs.push(dir);
  return new StateStore(dir);
}

const rec = (generation: number): GenerationRecord =>
  ({
    generation,
    createdAt: "2026-12-06T00:00:00.000Z",
    by: "admin",
    specText: "",
    spec: {},
    nodes: {},
  }) as never;

describe("StateStore.acceptGeneration", () => {
  it("stores the generation, points at it and audits it", async () => {
    const s = await store();
    await s.acceptGeneration(rec(1), { desired: 0, good: 0 }, { kind: "push-accepted", message: "ok" });
    expect(await s.current()).toEqual({ desired: 1, good: 0 });
    expect(await s.generations()).toEqual([1]);
    expect((await s.readAudit()).map((e) => [e.kind, e.generation])).toEqual([["push-accepted", 1]]);
  });

  it("takes the generation and the pointer back when the audit line cannot be written", async () => {
    const s = await store();
    await s.acceptGeneration(rec(1), { desired: 0, good: 0 }, { kind: "push-accepted", message: "ok" });
    await s.setCurrent({ desired: 1, good: 1 });
    // audit.log replaced by a directory: appending fails (EISDIR) after the generation and pointer were written.
    await rm(path.join(s.dir, "audit.log"));
    await mkdir(path.join(s.dir, "audit.log"));
    const err = await s
      .acceptGeneration(rec(2), { desired: 1, good: 1 }, { kind: "push-accepted", message: "ok" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateWriteError);
    expect((err as Error).message).toMatch(
      /^cannot store generation 2 in .*: .*EISDIR.*generation 1 stays in force/,
    );
    expect(await s.current()).toEqual({ desired: 1, good: 1 });
    expect(await s.generations()).toEqual([1]);
    expect((await readdir(s.dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    expect(JSON.parse(await readFile(path.join(s.dir, "current.json"), "utf8"))).toEqual({
      desired: 1,
      good: 1,
    });
  });

  it("writes nothing when the generation itself cannot be stored", async () => {
    const s = await store();
    await mkdir(path.join(s.dir, "generations", "00000001.json"), { recursive: true });
    const err = await s
      .acceptGeneration(rec(1), { desired: 0, good: 0 }, { kind: "push-accepted", message: "ok" })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateWriteError);
    expect((err as Error).message).toMatch(/nothing was in force/);
    expect(await s.current()).toEqual({ desired: 0, good: 0 });
    expect(await s.readAudit()).toEqual([]);
  });
});

describe("the rollout journal (rollout.json)", () => {
  const journal = (generation: number) =>
    newJournal({
      generation,
      good: generation - 1,
      by: "admin",
      startedAt: "2026-12-06T00:00:00.000Z",
      timeoutMs: 1000,
      readyBefore: false,
      stages: [{ name: "host", nodes: ["vmm"], gate: "applied", after: [] }],
    });

  it("is stored with the accepted generation, read back, and removed when the push ends", async () => {
    const s = await store();
    expect(await s.readJournal()).toBeNull();
    await s.acceptGeneration(
      rec(1),
      { desired: 0, good: 0 },
      { kind: "push-accepted", message: "ok" },
      journal(1),
    );
    expect(await s.readJournal()).toEqual(journal(1));
    await s.clearJournal();
    expect(await s.readJournal()).toBeNull();
    await s.clearJournal();
  });

  it("goes with the generation when the push cannot be stored", async () => {
    const s = await store();
    await rm(path.join(s.dir, "audit.log"), { force: true });
    await mkdir(path.join(s.dir, "audit.log"));
    await expect(
      s.acceptGeneration(
        rec(1),
        { desired: 0, good: 0 },
        { kind: "push-accepted", message: "ok" },
        journal(1),
      ),
    ).rejects.toBeInstanceOf(StateWriteError);
    expect(await s.readJournal()).toBeNull();
    expect(await s.generations()).toEqual([]);
  });

  it("names the file when it is damaged, rather than guessing what the push was", async () => {
    const s = await store();
    await writeFile(path.join(s.dir, "rollout.json"), '{"version":1,"generation":"x"}');
    await expect(s.readJournal()).rejects.toThrow(/rollout\.json is damaged \(not a rollout journal/);
  });
});
