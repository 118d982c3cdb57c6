// Writes man/vmmeet.yaml.5 from the spec schema (npm run man, after npm run build); the other pages in
// man/ are written by hand. test/man.test.ts fails when the committed page differs from the schema.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { specManPage } from "../packages/coordinator/dist/index.js";

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "man", "vmmeet.yaml.5");
await writeFile(file, specManPage());
process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
