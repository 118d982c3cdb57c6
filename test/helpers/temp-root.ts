// A temp directory for one unit test of the agent: ROOT (the node's "/", made) and STATE (the agent's state
// directory, made by what writes it) inside it. The caller removes `dir` after the test.
import { mkdir, mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export interface TempRoot {
  dir: string;
  root: string;
  stateDir: string;
}

export async function tempRoot(prefix: string): Promise<TempRoot> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const root = path.join(dir, "root");
  await mkdir(root);
  return { dir, root, stateDir: path.join(dir, "state") };
}
