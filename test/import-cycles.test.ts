// No import cycle among the sources of the four packages, type imports included: a module that imports
// (directly or through others) a module that imports it back cannot be understood, tested or moved on its
// own. Every .ts source of packages/{shared,node,agent,coordinator}/src (tests excluded) is read; relative
// imports, `import type`, re-exports (`export ... from`), dynamic `import()` and `@vmmeet/<pkg>` (that
// package's src/index.ts) are followed; each strongly connected component of more than one file (or a
// file that imports itself) is a cycle.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./validators/paths.js";

const PACKAGES = ["shared", "node", "agent", "coordinator"] as const;

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["']([^"']+)["']/gm;
const PACKAGE_NAME = /^@vmmeet\/([\w-]+)$/;

interface ImportGraph {
  /** Each source file (absolute path) with the source files it imports. */
  readonly edges: ReadonlyMap<string, readonly string[]>;
  /** Imports that name a source but resolve to no file, as "file: specifier" (the graph would miss them). */
  readonly unresolved: readonly string[];
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(path.join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [path.join(dir, e.name)]
        : [],
  );
}

/**
 * The file a specifier names: "./x.js" is x.ts (or x.d.ts, x/index.ts); a data file ("./x.json") is itself,
 * a leaf; a package is its src/index.ts.
 */
function resolve(from: string, spec: string, packagesDir: string): string | undefined {
  if (spec.endsWith(".json")) {
    const data = path.resolve(path.dirname(from), spec);
    return existsSync(data) ? data : undefined;
  }
  const pkg = PACKAGE_NAME.exec(spec);
  const base = pkg
    ? path.join(packagesDir, pkg[1] as string, "src", "index")
    : path.resolve(path.dirname(from), spec.replace(/\.(?:js|ts|mjs)$/, ""));
  const candidates = [".ts", ".d.ts", "/index.ts"].map((ext) => base + ext);
  return candidates.find((f) => existsSync(f));
}

/** The import graph of every source under packagesDir/<pkg>/src. */
function importGraph(packagesDir: string, packages: readonly string[]): ImportGraph {
  const edges = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const pkg of packages) {
    for (const file of sources(path.join(packagesDir, pkg, "src"))) {
      const targets = new Set<string>();
      for (const m of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
        const spec = m[1] as string;
        if (!spec.startsWith(".") && !PACKAGE_NAME.test(spec)) continue;
        const target = resolve(file, spec, packagesDir);
        if (target === undefined) unresolved.push(`${path.relative(packagesDir, file)}: ${spec}`);
        else targets.add(target);
      }
      edges.set(file, [...targets]);
    }
  }
  return { edges, unresolved: unresolved.sort() };
}

/** Tarjan's strongly connected components that are cycles, each as its sorted files relative to `root`. */
function cycles(graph: ImportGraph, root: string): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
      }
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.edges.get(v) ?? []).includes(v))
      found.push(component.map((f) => path.relative(root, f)).sort());
  };
  for (const v of graph.edges.keys()) if (!index.has(v)) visit(v);
  return found.sort((a, b) => (a[0] as string).localeCompare(b[0] as string));
}

describe("import cycles", () => {
  it("no source of shared, node, agent or coordinator imports itself back, types included", () => {
    const root = repoRoot();
    const graph = importGraph(path.join(root, "packages"), PACKAGES);
    expect(graph.edges.size).toBeGreaterThan(100);
    expect(graph.unresolved).toEqual([]);
    expect(cycles(graph, root)).toEqual([]);
  });

  it("names each cycle's files: a type-only one, a re-export, a package import, a self-import", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-cycles-"));
    const put = async (file: string, text: string) => {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    };
    try {
      // a -> rules/b -> a, through `import type` alone.
      await put("one/src/a.ts", 'import { b } from "./rules/b.js";\nexport type A = number;\n');
      await put("one/src/rules/b.ts", 'import type { A } from "../a.js";\nexport const b = 1;\n');
      // c -> d (re-export) -> @vmmeet/two -> e -> c (dynamic import), across two packages.
      await put("one/src/c.ts", 'export { d } from "./d.js";\n');
      await put("one/src/d.ts", 'import {\n  e,\n} from "@vmmeet/two";\nexport const d = e;\n');
      await put("two/src/index.ts", 'export * from "./e.js";\n');
      await put(
        "two/src/e.ts",
        'export const e = 2;\nexport const load = () => import("../../one/src/c.js");\n',
      );
      await put("one/src/self.ts", 'import "./self.js";\n');
      // Not cycles: a chain, a data file, a test that imports back; a missing relative import is reported apart.
      await put(
        "one/src/f.ts",
        'import { g } from "./g.js";\nimport { x } from "node:fs";\nimport d from "./d.json" with { type: "json" };\n',
      );
      await put("one/src/d.json", "{}\n");
      await put("one/src/g.ts", 'import type { A } from "./a.js";\nexport const g = 3;\n');
      await put("one/src/g.test.ts", 'import { f } from "./f.js";\n');
      await put("one/src/h.ts", 'import { gone } from "./gone.js";\nimport e from "./gone.json";\n');
      const graph = importGraph(dir, ["one", "two"]);
      expect(graph.unresolved).toEqual(["one/src/h.ts: ./gone.js", "one/src/h.ts: ./gone.json"]);
      expect(cycles(graph, dir)).toEqual([
        ["one/src/a.ts", "one/src/rules/b.ts"],
        ["one/src/c.ts", "one/src/d.ts", "two/src/e.ts", "two/src/index.ts"],
        ["one/src/self.ts"],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
