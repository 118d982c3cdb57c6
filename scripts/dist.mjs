// npm run dist: builds dist/vmmeet-VERSION.tar.gz, the release an OpenBSD admin unpacks on the VMM host
// and installs with `make install` (release/Makefile): the coordinator (CLI and daemon) and the agent, each
// one JavaScript file that runs with only node, both rc.d scripts, the man pages, an example spec. Run
// after `npm run build`; `node scripts/dist.mjs DIR` writes the tarball to DIR instead of dist/. The port
// skeleton (ports/sysutils/vmmeet) packages the same tarball.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const { version } = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8"));
const name = `vmmeet-${version}`;
const out = path.resolve(process.argv[2] ?? path.join(repo, "dist"));
const stage = path.join(out, name);

/** Each file of the tarball: its path in the tarball and where it comes from in the repository. */
const FILES = [
  ["Makefile", "release/Makefile"],
  ["vmmeet", "release/vmmeet"],
  ["vmmeet.mjs", "packages/coordinator/dist/vmmeet.mjs"],
  ["vmmeet-agent.mjs", "packages/agent/dist/vmmeet-agent.mjs"],
  ["rc.d/vmmeetd", "rc.d/vmmeetd"],
  ["rc.d/vmmeet_agent", "rc.d/vmmeet_agent"],
  ["man/vmmeet.8", "man/vmmeet.8"],
  ["man/vmmeetd.8", "man/vmmeetd.8"],
  ["man/vmmeet-agent.8", "man/vmmeet-agent.8"],
  ["man/vmmeet.yaml.5", "man/vmmeet.yaml.5"],
];

await rm(stage, { recursive: true, force: true });
await mkdir(path.join(stage, "rc.d"), { recursive: true });
await mkdir(path.join(stage, "man"));
for (const [to, from] of FILES) {
  await copyFile(path.join(repo, from), path.join(stage, to)).catch((err) => {
    throw new Error(`${from}: ${err.message} (run npm run build first)`);
  });
}
// The example spec is what `vmmeet init` writes (the paper's topology), made by the bundle being shipped.
const tmp = await mkdtemp(path.join(os.tmpdir(), "vmmeet-dist-"));
try {
  await run(process.execPath, [path.join(stage, "vmmeet.mjs"), "init", "--dir", tmp], { cwd: tmp });
  await copyFile(path.join(tmp, "vmmeet.yaml"), path.join(stage, "vmmeet.yaml"));
} finally {
  await rm(tmp, { recursive: true, force: true });
}
const tarball = path.join(out, `${name}.tar.gz`);
// The Makefile sets the installed modes and install(1) the owner: the archive's do not matter.
await run("tar", ["-czf", tarball, "-C", out, name]);
await rm(stage, { recursive: true, force: true });
process.stdout.write(`${path.relative(process.cwd(), tarball)}\n`);
