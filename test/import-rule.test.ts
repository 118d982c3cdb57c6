// The import rule of vitest.config.ts: what a test process loads comes from the sources, never from
// packages/*/dist/ (the build is for the processes tests spawn). Two copies of one class in a process make
// `instanceof` and shared state lie, so every module a test file reaches is checked.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./validators/paths.js";

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;

/** The file a relative import loads (a `.js` that is a `.ts` in the sources). */
function resolveRelative(target: string): string | undefined {
  const candidates = [target, target.replace(/\.js$/, ".ts"), `${target}.ts`, path.join(target, "index.ts")];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

/**
 * Every import, among the modules reachable from `entries` through relative imports, that loads a
 * package's build: a path into packages/NAME/dist/ or a deep import of @vmmeet/NAME/... (the package
 * names themselves are mapped to src/ by vitest.config.ts).
 */
function buildImports(entries: string[], root: string): string[] {
  const seen = new Set<string>();
  const found: string[] = [];
  const queue = [...entries];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1] as string;
      const where = `${path.relative(root, file)}: ${spec}`;
      if (/^@vmmeet\/[^/]+\/./.test(spec)) found.push(where);
      if (!spec.startsWith(".")) continue;
      const target = path.resolve(path.dirname(file), spec);
      if (/^packages\/[^/]+\/dist\//.test(path.relative(root, target))) {
        found.push(where);
        continue;
      }
      const loaded = resolveRelative(target);
      if (
        loaded !== undefined &&
        /\.(ts|mts|mjs|js)$/.test(loaded) &&
        !loaded.includes(`${path.sep}node_modules${path.sep}`)
      )
        queue.push(loaded);
    }
  }
  return found.sort();
}

/** The files vitest.config.ts includes: packages/NAME/src/**\/*.test.ts and test/**\/*.test.ts. */
function testFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.name === "node_modules"
        ? []
        : e.isDirectory()
          ? walk(path.join(dir, e.name))
          : e.name.endsWith(".test.ts")
            ? [path.join(dir, e.name)]
            : [],
    );
  const packages = readdirSync(path.join(root, "packages")).map((p) => path.join(root, "packages", p, "src"));
  return [path.join(root, "test"), ...packages.filter((d) => existsSync(d))].flatMap(walk);
}

describe("the import rule", () => {
  it("no module a test file loads imports a package's dist/", () => {
    const root = repoRoot();
    const files = testFiles(root);
    expect(files.length).toBeGreaterThan(50);
    expect(buildImports(files, root)).toEqual([]);
  });

  it("names the file and the import that reaches dist/, through a helper too", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-import-rule-"));
    try {
      // Put together here, so that this file's own text holds no such import.
      const dist = (pkg: string) => `${pkg}/${"dist"}/index.js`;
      await writeFile(path.join(dir, "a.test.ts"), 'import { x } from "./helper.js";\nimport "./b.mjs";\n');
      await writeFile(
        path.join(dir, "helper.ts"),
        `export { x } from "${dist("./packages/coordinator")}";\n`,
      );
      await writeFile(path.join(dir, "b.mjs"), `const m = await import("${dist("@vmmeet/agent")}");\n`);
      expect(buildImports([path.join(dir, "a.test.ts")], dir)).toEqual([
        "b.mjs: @vmmeet/agent/dist/index.js",
        "helper.ts: ./packages/coordinator/dist/index.js",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("the package names load the same modules as the sources' paths: one copy of each class", async () => {
    const byName = await import("@vmmeet/coordinator");
    const byPath = await import("../packages/coordinator/src/index.js");
    expect(byName.CoordinatorDaemon).toBe(byPath.CoordinatorDaemon);
    const agent = await import("@vmmeet/agent");
    const { ApplyEngine } = await import("../packages/agent/src/reconcile/engine.js");
    expect(agent.ApplyEngine).toBe(ApplyEngine);
    const shared = await import("@vmmeet/shared");
    const { NodeDesired } = await import("../packages/shared/src/index.js");
    expect(shared.NodeDesired).toBe(NodeDesired);
    const node = await import("@vmmeet/node");
    const { ManualClock } = await import("../packages/node/src/clock.js");
    expect(node.ManualClock).toBe(ManualClock);
  });
});
