// Where the benchmarks load vmmeet from. run.mjs copies the freshly built packages (dist/ and
// package.json of shared, node, agent and coordinator) into a temporary directory once, before the first
// benchmark, and every process of the run (this one and its children, through VMMEET_BENCH_PACKAGES) loads
// that copy: a rebuild of the working tree during a run (another terminal, an editor's watcher) cannot
// pair a coordinator from one build with agents from another.
import { cp, mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const NAMES = ["shared", "node", "agent", "coordinator"];

/** packages/ of the run's copy (or of the working tree when no copy was made). */
export function packagesDir() {
  return process.env.VMMEET_BENCH_PACKAGES ?? path.join(REPO, "packages");
}

/** A path inside the built packages, e.g. pkg("agent/dist/vmmeet-agent.mjs"). */
export const pkg = (p) => path.join(packagesDir(), p);

/**
 * Copies the built packages to DIR/packages and makes DIR/node_modules resolve like the repository's
 * (a symlink per entry), except @vmmeet/*, which points at the copies. Returns {packages, remove}.
 */
export async function snapshotPackages() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bench-build-"));
  for (const name of NAMES) {
    const from = path.join(REPO, "packages", name);
    const to = path.join(dir, "packages", name);
    await mkdir(to, { recursive: true });
    await cp(path.join(from, "package.json"), path.join(to, "package.json"));
    await cp(path.join(from, "dist"), path.join(to, "dist"), { recursive: true });
  }
  const modules = path.join(dir, "node_modules");
  await mkdir(path.join(modules, "@vmmeet"), { recursive: true });
  for (const entry of await readdir(path.join(REPO, "node_modules"))) {
    if (entry === "@vmmeet" || entry === ".bin") continue;
    await symlink(path.join(REPO, "node_modules", entry), path.join(modules, entry));
  }
  for (const name of NAMES)
    await symlink(path.join(dir, "packages", name), path.join(modules, "@vmmeet", name));
  return {
    packages: path.join(dir, "packages"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
