#!/usr/bin/env node
// `vmmeet-agent` in a checkout. npm links a workspace's bin only when the file exists at `npm ci`, before
// any build: this committed file is what it links, and it loads the build (`npm run build`) when run.
try {
  await import("../dist/main.js");
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND" || !String(err.message).includes("dist/main.js")) throw err;
  process.stderr.write("vmmeet-agent: not built yet; run `npm run build` in the checkout first\n");
  process.exitCode = 1;
}
