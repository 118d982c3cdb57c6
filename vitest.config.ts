import { defineConfig } from "vitest/config";

// Unit tests sit beside the code (packages/*/src/**/*.test.ts); cross-package tests, harnesses and
// simulators live in test/. Tests import the compiled packages (npm test builds first), so what is
// tested is what ships.
export default defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
