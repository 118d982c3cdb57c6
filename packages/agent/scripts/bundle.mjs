// Builds the self-contained agent: one JavaScript file that runs on a VM with only `pkg_add node`
// (no node_modules there). Input is tsc's output, so what is bundled is what was type-checked.
import { stat } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const entry = path.join(here, "..", "dist", "main.js");
const outfile = path.join(here, "..", "dist", "vmmeet-agent.mjs");

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  // ws loads these native accelerators only if present; the agent runs without them.
  external: ["bufferutil", "utf-8-validate"],
  // CommonJS dependencies (pino, ws, systeminformation) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __vmmeetRequire } from 'node:module'; const require = __vmmeetRequire(import.meta.url);",
  },
  legalComments: "none",
  logLevel: "warning",
});
const { size } = await stat(outfile);
process.stdout.write(`bundled ${path.relative(process.cwd(), outfile)} (${Math.round(size / 1024)} KiB)\n`);
