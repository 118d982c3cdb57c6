// Builds the self-contained coordinator: `vmmeet` (CLI and daemon) as one JavaScript file that runs on the
// VMM host. The agent's bundle: packages/agent/scripts/bundle.mjs; both use scripts/lib/bundle.mjs.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { bundle } from "./lib/bundle.mjs";

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "packages", "coordinator", "dist");
await bundle({ entry: path.join(dist, "cli", "main.js"), outfile: path.join(dist, "vmmeet.mjs") });
