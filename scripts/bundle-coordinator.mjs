// Builds the self-contained coordinator: `vmmeet` (CLI and daemon) as one JavaScript file that runs on the
// VMM host with only `pkg_add node` (the release has no node_modules). Input is tsc's output, so what is
// bundled is what was type-checked. The agent's bundle: packages/agent/scripts/bundle.mjs.
import { rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "packages", "coordinator", "dist");
const outfile = path.join(dist, "vmmeet.mjs");

const result = await build({
  entryPoints: [path.join(dist, "cli", "main.js")],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // ws loads these native accelerators only if present; the coordinator runs without them.
  external: ["bufferutil", "utf-8-validate"],
  // CommonJS dependencies (pino, ws, node-forge) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __vmmeetRequire } from 'node:module'; const require = __vmmeetRequire(import.meta.url);",
  },
  legalComments: "none",
  logLevel: "warning",
  // Written below, atomically: tests that run while `npm run demo` rebuilds read the bundle meanwhile.
  write: false,
});
const tmp = `${outfile}.${process.pid}.tmp`;
await writeFile(tmp, result.outputFiles[0].contents);
await rename(tmp, outfile);
const { size } = await stat(outfile);
process.stdout.write(`bundled ${path.relative(process.cwd(), outfile)} (${Math.round(size / 1024)} KiB)\n`);
