// `npx vmmeet` and `npx vmmeet-agent` in a checkout: npm links a workspace's bin at `npm ci` only when the
// file exists then, before any build. Each bin is therefore a committed file outside dist/ that loads the
// build, and says what to do when there is none yet.
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { repoRoot } from "./validators/paths.js";

const run = promisify(execFile);
const repo = repoRoot();
const BINS = [
  { pkg: "packages/coordinator", name: "vmmeet", help: /^vmmeet \d+\.\d+\.\d+: / },
  { pkg: "packages/agent", name: "vmmeet-agent", help: /^vmmeet-agent \d+\.\d+\.\d+: / },
];

describe("the packages' bin entries", () => {
  for (const b of BINS) {
    it(`${b.name}: a committed file that loads the build`, async () => {
      const manifest = JSON.parse(await readFile(path.join(repo, b.pkg, "package.json"), "utf8"));
      const target = manifest.bin[b.name] as string;
      expect(target.startsWith("dist/")).toBe(false);
      const tracked = await run("git", ["-C", repo, "ls-files", "--error-unmatch", path.join(b.pkg, target)]);
      expect(tracked.stdout.trim()).toBe(path.join(b.pkg, target));
      const res = await run(process.execPath, [path.join(repo, b.pkg, target), "--help"]);
      expect(res.stdout).toMatch(b.help);
    });

    it(`${b.name}: before a build, says to run npm run build`, async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bin-"));
      try {
        const manifest = JSON.parse(await readFile(path.join(repo, b.pkg, "package.json"), "utf8"));
        const target = manifest.bin[b.name] as string;
        await mkdir(path.join(dir, path.dirname(target)), { recursive: true });
        await copyFile(path.join(repo, b.pkg, target), path.join(dir, target));
        const res = await run(process.execPath, [path.join(dir, target), "--help"]).catch(
          (e: { code: number; stderr: string }) => e,
        );
        expect(res).toMatchObject({
          code: 1,
          stderr: `${b.name}: not built yet; run \`npm run build\` in the checkout first\n`,
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  it("vmmeet --version is the repository's version", async () => {
    const { version } = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8"));
    const res = await run(process.execPath, [
      path.join(repo, "packages/coordinator/bin/vmmeet.js"),
      "--version",
    ]);
    expect(res.stdout).toBe(`${version}\n`);
  });
});
