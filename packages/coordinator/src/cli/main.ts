#!/usr/bin/env node
import { EXIT } from "./io.js";
import { runCli } from "./run.js";

runCli(process.argv.slice(2), {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vmmeet: ${(err as Error).message}\n`);
    process.exitCode = EXIT.error;
  },
);
