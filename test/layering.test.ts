// The coordinator's layers: fleet/ (the rollout, its gates, the recovery of an interrupted push, the heal
// schedule) sits below server/ (the core, the daemon and its doors). server/ wires fleet's parts together;
// a module of fleet/ that imports server/, even a type, makes the two depend on each other again.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./validators/paths.js";

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

/** Every import in a .ts file under `dir` (tests included) that reaches into `forbidden`, as "file: specifier". */
function importsInto(dir: string, forbidden: string, root: string): string[] {
  const files = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(path.join(d, e.name)) : e.name.endsWith(".ts") ? [path.join(d, e.name)] : [],
    );
  const found: string[] = [];
  for (const file of files(dir)) {
    for (const m of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
      const spec = m[1] as string;
      if (!spec.startsWith(".")) continue;
      const target = path.resolve(path.dirname(file), spec);
      const rel = path.relative(forbidden, target);
      if (rel === "" || !(rel.startsWith("..") || path.isAbsolute(rel)))
        found.push(`${path.relative(root, file)}: ${spec}`);
    }
  }
  return found.sort();
}

describe("the coordinator's layers", () => {
  it("no module of fleet/ imports server/", () => {
    const root = repoRoot();
    const src = path.join(root, "packages", "coordinator", "src");
    expect(readdirSync(path.join(src, "fleet")).length).toBeGreaterThan(10);
    expect(importsInto(path.join(src, "fleet"), path.join(src, "server"), root)).toEqual([]);
  });

  it("names the file and the import, a type import and one from a subfolder too", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-layering-"));
    try {
      await mkdir(path.join(dir, "fleet", "heal"), { recursive: true });
      await mkdir(path.join(dir, "server"), { recursive: true });
      await writeFile(path.join(dir, "fleet", "ok.ts"), 'import { x } from "./other.js";\n');
      await writeFile(
        path.join(dir, "fleet", "a.ts"),
        'import type { CoordinatorCore } from "../server/coordinator.js";\n',
      );
      await writeFile(
        path.join(dir, "fleet", "heal", "b.ts"),
        'export { y } from "../../server/daemon.js";\n',
      );
      await writeFile(path.join(dir, "fleet", "c.ts"), 'import { z } from "../serverless/z.js";\n');
      expect(importsInto(path.join(dir, "fleet"), path.join(dir, "server"), dir)).toEqual([
        "fleet/a.ts: ../server/coordinator.js",
        "fleet/heal/b.ts: ../../server/daemon.js",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
