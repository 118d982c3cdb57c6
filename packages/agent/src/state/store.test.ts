import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { NodeDesired } from "@vmmeet/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateCorruptError, StateStore } from "./store.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "vmmeet-state-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const desired = NodeDesired.parse({
  node: "jvb1",
  role: "jvb",
  files: [],
  services: [{ name: "jvb", flags: null, order: 1 }],
  actions: [],
  health: { release: 9646 },
});

describe("StateStore", () => {
  it("keeps its directory 0700 and its files 0600", async () => {
    const s = new StateStore(path.join(dir, "state"));
    await s.open();
    await chmod(s.dir, 0o755);
    await s.open();
    expect((await stat(s.dir)).mode & 0o777).toBe(0o700);
    await s.save({ generation: 3, desired, complete: true, previous: null });
    expect((await stat(path.join(s.dir, "state.json"))).mode & 0o777).toBe(0o600);
  });

  it("round-trips the state and refuses older generations", async () => {
    const s = new StateStore(dir);
    await s.open();
    expect(await s.load()).toBeNull();
    expect(await s.checkGeneration(1)).toEqual({ ok: true });
    await s.save({ generation: 3, desired, complete: true, previous: null });
    expect(await new StateStore(dir).load()).toEqual({
      generation: 3,
      desired,
      complete: true,
      previous: null,
    });
    expect(await s.checkGeneration(2)).toEqual({ ok: false, reason: "stale", current: 3 });
    expect(await s.checkGeneration(3)).toEqual({ ok: true });
  });

  it("reports a corrupt state file", async () => {
    const s = new StateStore(dir);
    await s.open();
    await writeFile(path.join(dir, "state.json"), "{ not json");
    await expect(s.load()).rejects.toBeInstanceOf(StateCorruptError);
    await writeFile(path.join(dir, "state.json"), JSON.stringify({ generation: 1, desired: { node: 1 } }));
    await expect(s.load()).rejects.toThrow(/not a valid desired state/);
  });

  it("writes, reads and clears the pending mark; makes one salt", async () => {
    const s = new StateStore(dir);
    await s.open();
    expect(await s.readPending()).toBeNull();
    await s.writePending({ generation: 2, services: { jvb: "restart" } });
    expect(await s.readPending()).toEqual({ generation: 2, services: { jvb: "restart" } });
    await s.clearPending();
    expect(await s.readPending()).toBeNull();
    const salt = await s.salt();
    expect(salt.length).toBe(32);
    expect(await s.salt()).toEqual(salt);
    expect(await readFile(path.join(dir, "salt"))).toEqual(salt);
  });
});
