// Builds the self-contained agent: one JavaScript file that runs on a VM (scripts/lib/bundle.mjs).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "../../../scripts/lib/bundle.mjs";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "dist");
await bundle({
  entry: path.join(dist, "main.js"),
  outfile: path.join(dist, "vmmeet-agent.mjs"),
  // V8 keeps the whole source of the bundle in the heap for as long as the agent runs (lazy compilation
  // and Function.prototype.toString need it). Without whitespace and comments it is about 1 MB instead
  // of 2 MB, and free of the few comments with characters above U+00FF (an em dash in zod's sources):
  // one of those makes V8 hold the entire source as a two-byte string, twice the size. Identifiers are
  // not minified, so stack traces and logs keep every function's name.
  minifyWhitespace: true,
  // The source must stay one-byte (see above).
  oneByte: true,
});
