import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const BENCH_SMOKE = "test/bench-smoke.test.ts";
const src = (pkg: string) => fileURLToPath(new URL(`packages/${pkg}/src/index.ts`, import.meta.url));

// Unit tests sit beside the code (packages/*/src/**/*.test.ts); cross-package tests, harnesses and
// simulators live in test/.
//
// One import rule, so that one copy of each class loads in a test process:
// - In-process, tests use the sources: a package by its name (@vmmeet/shared, @vmmeet/node, @vmmeet/agent,
//   @vmmeet/coordinator, mapped to src/index.ts below and by "paths" in tsconfig.test.json), or a module
//   of packages/*/src/ by its path. Never packages/*/dist/: test/import-rule.test.ts fails on such an import.
// - Spawned processes run the build: the agents, the vmmeet CLI and daemon, the simulators and the test
//   doubles (test/doubles/*.mjs) start from packages/*/dist, which `npm test` builds first.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@vmmeet\/shared$/, replacement: src("shared") },
      { find: /^@vmmeet\/node$/, replacement: src("node") },
      { find: /^@vmmeet\/agent$/, replacement: src("agent") },
      { find: /^@vmmeet\/coordinator$/, replacement: src("coordinator") },
    ],
  },
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // The benchmark smoke test starts five benchmarks (a fleet of simulated agents among them): beside the
    // suite it loaded a 2-core CI machine enough to widen the suite's races. It runs alone, after the suite.
    projects: [
      {
        extends: true,
        test: {
          name: "suite",
          include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [BENCH_SMOKE, "**/node_modules/**"],
          sequence: { groupOrder: 0 },
        },
      },
      { extends: true, test: { name: "bench", include: [BENCH_SMOKE], sequence: { groupOrder: 1 } } },
    ],
  },
});
