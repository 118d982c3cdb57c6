// Builds the self-contained agent: one JavaScript file that runs on a VM with only `pkg_add node`
// (no node_modules there). Input is tsc's output, so what is bundled is what was type-checked.
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const entry = path.join(here, "..", "dist", "main.js");
const outfile = path.join(here, "..", "dist", "vmmeet-agent.mjs");

const result = await build({
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
  // V8 keeps the whole source of the bundle in the heap for as long as the agent runs (lazy compilation
  // and Function.prototype.toString need it). Without whitespace and comments it is about 1 MB instead
  // of 2 MB, and free of the few comments with characters above U+00FF (an em dash in zod's sources):
  // one of those makes V8 hold the entire source as a two-byte string, twice the size. Identifiers are
  // not minified, so stack traces and logs keep every function's name.
  minifyWhitespace: true,
  logLevel: "warning",
  // Written below, atomically: tests that run while `npm run demo` rebuilds read the bundle meanwhile.
  write: false,
});
const tmp = `${outfile}.${process.pid}.tmp`;
await writeFile(tmp, result.outputFiles[0].contents);
await rename(tmp, outfile);
// The source must stay one-byte (see above): esbuild escapes such characters in strings (charset ascii),
// but a regular expression or template literal can still carry one.
const source = await readFile(outfile, "utf8");
for (let i = 0; i < source.length; i++) {
  if (source.charCodeAt(i) > 0xff)
    throw new Error(
      `${outfile}: a character above U+00FF makes V8 keep the source two-byte: ${JSON.stringify(source.slice(i - 40, i + 40))}`,
    );
}
const { size } = await stat(outfile);
process.stdout.write(`bundled ${path.relative(process.cwd(), outfile)} (${Math.round(size / 1024)} KiB)\n`);
