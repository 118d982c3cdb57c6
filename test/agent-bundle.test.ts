// The agent ships as one JavaScript file that must run on a VM with only `pkg_add node`: no node_modules.
// Copy the bundle somewhere without any node_modules above it and run it there.
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "./validators/paths.js";

const run = promisify(execFile);
let dir = "";
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the bundled agent (packages/agent/dist/vmmeet-agent.mjs)", () => {
  it("runs from a directory with no node_modules: --help and classify", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bundle-"));
    const bundle = path.join(dir, "vmmeet-agent.mjs");
    await copyFile(path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs"), bundle);
    const help = await run(process.execPath, [bundle, "--help"], { cwd: dir });
    expect(help.stdout).toMatch(/^vmmeet-agent \d+\.\d+\.\d+/);
    const child = execFile(process.execPath, [bundle, "classify", "--component", "jicofo"], { cwd: dir });
    const out: string[] = [];
    child.stdout?.on("data", (d) => out.push(String(d)));
    child.stdin?.end(
      "Jicofo 2022-09-16 14:45:24.260 INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.addInstance#341: Added brewery instance: jvbbrewery@internal.auth.jts.fips.de/jvb\n",
    );
    const code = await new Promise((r) => child.on("exit", r));
    expect(code).toBe(0);
    expect(JSON.parse(out.join("").trim())).toMatchObject({
      signal: "brewery-instance-added",
      label: "healthy",
    });
  });

  // V8 keeps the bundle's source in the agent's heap for its whole life (packages/agent/scripts/bundle.mjs):
  // one character above U+00FF doubles it, and a dependency pulled in whole (zod's locales, all of
  // systeminformation) shows as a jump in size. 2.0 MB before issue #9, 0.67 MB after.
  it("is small and one-byte: no character above U+00FF, under 1 MiB", async () => {
    const source = await readFile(path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs"), "utf8");
    const wide = [...source].findIndex((c) => (c.codePointAt(0) ?? 0) > 0xff);
    expect(wide, source.slice(Math.max(0, wide - 40), wide + 40)).toBe(-1);
    expect(Buffer.byteLength(source)).toBeLessThan(1024 * 1024);
  });

  it("refuses a bad command line with exit 64 and names the option", async () => {
    const bundle = path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs");
    const res = await run(process.execPath, [bundle, "--node", "Bad-Name"]).catch(
      (e: { code: number; stderr: string }) => e,
    );
    expect(res).toMatchObject({ code: 64 });
    expect((res as { stderr: string }).stderr).toMatch(/--node/);
  });
});
