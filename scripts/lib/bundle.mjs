// One bundler for vmmeet's two programs (packages/agent/scripts/bundle.mjs, scripts/bundle-coordinator.mjs):
// a single ESM file that runs on OpenBSD with only `pkg_add node` (no node_modules there). Input is tsc's
// output, so what is bundled is what was type-checked.
import { readFile, rename, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { build } from "esbuild";

/**
 * Bundles `entry` into `outfile` and prints its size.
 * - minifyWhitespace: drop whitespace and comments (identifiers stay, for stack traces and logs).
 * - oneByte: fail when the output holds a character above U+00FF (V8 would keep the source two-byte).
 */
export async function bundle({ entry, outfile, minifyWhitespace = false, oneByte = false }) {
  const result = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    // ws loads these native accelerators only if present; both programs run without them.
    external: ["bufferutil", "utf-8-validate"],
    // CommonJS dependencies (pino, ws, node-forge, systeminformation) call require() for Node built-ins.
    banner: {
      js: "import { createRequire as __vmmeetRequire } from 'node:module'; const require = __vmmeetRequire(import.meta.url);",
    },
    legalComments: "none",
    minifyWhitespace,
    logLevel: "warning",
    // Written below, atomically: tests that run while `npm run demo` rebuilds read the bundle meanwhile.
    write: false,
  });
  const tmp = `${outfile}.${process.pid}.tmp`;
  await writeFile(tmp, result.outputFiles[0].contents);
  await rename(tmp, outfile);
  if (oneByte) {
    // esbuild escapes such characters in strings (charset ascii), but a regular expression or template
    // literal can still carry one.
    const source = await readFile(outfile, "utf8");
    for (let i = 0; i < source.length; i++) {
      if (source.charCodeAt(i) > 0xff)
        throw new Error(
          `${outfile}: a character above U+00FF makes V8 keep the source two-byte: ${JSON.stringify(source.slice(i - 40, i + 40))}`,
        );
    }
  }
  const { size } = await stat(outfile);
  process.stdout.write(`bundled ${path.relative(process.cwd(), outfile)} (${Math.round(size / 1024)} KiB)\n`);
}
