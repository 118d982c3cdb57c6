// A temp directory for each unit test of the agent: ROOT (the node's "/", made) and STATE (the agent's state
// directory, made by what writes it) inside it, removed after the test.
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";

export interface TempRoot {
  dir: string;
  root: string;
  stateDir: string;
}

/** Fresh paths for every test of the calling file (read them inside a test or a hook, not at import). */
export function tempRootEach(prefix: string): TempRoot {
  const t: TempRoot = { dir: "", root: "", stateDir: "" };
  beforeEach(async () => {
    t.dir = await mkdtemp(path.join(tmpdir(), prefix));
    t.root = path.join(t.dir, "root");
    t.stateDir = path.join(t.dir, "state");
    await mkdir(t.root);
  });
  afterEach(() => rm(t.dir, { recursive: true, force: true }));
  return t;
}
