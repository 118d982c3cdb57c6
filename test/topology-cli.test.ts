// `vmmeet topology` and the topology.svg that `vmmeet render` writes beside the nodes' files.
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../packages/coordinator/src/cli/run.js";
import { fixturesDir } from "./fixtures/material.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-topology-"));
  await copyFile(path.join(fixturesDir, "paper-7648.yaml"), path.join(dir, "vmmeet.yaml"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, {
    out: (t) => {
      stdout += t;
    },
    err: (t) => {
      stderr += t;
    },
    cwd: dir,
    env: {},
  });
  return { code, stdout, stderr };
}

describe("vmmeet topology", () => {
  it("prints the SVG of the spec, and writes it with --out", async () => {
    const printed = await cli("topology");
    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(printed.stdout).toContain('data-node="jvb"');
    expect(printed.stdout).toContain("public address 87.253.170.146 on egress");
    const written = await cli("topology", "vmmeet.yaml", "--out", "t.svg");
    expect(written.code).toBe(0);
    expect(await readFile(path.join(dir, "t.svg"), "utf8")).toBe(printed.stdout);
  });

  it("an invalid spec: every problem as path: message, exit 1, nothing printed", async () => {
    const bad = path.join(dir, "bad.yaml");
    await writeFile(
      bad,
      (await readFile(path.join(dir, "vmmeet.yaml"), "utf8")).replace("100.64.4.3", "100.64.3.3"),
    );
    const r = await cli("topology", bad);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/nodes\[3\]\.address: .*100\.64\.3\.3/);
  });

  it("vmmeet render writes topology.svg beside the nodes' directories, the same picture", async () => {
    const r = await cli("render", "--out", "out");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/and topology\.svg into /);
    const svg = await readFile(path.join(dir, "out", "topology.svg"), "utf8");
    expect(svg).toBe((await cli("topology")).stdout);
    expect((await stat(path.join(dir, "out", "topology.svg"))).mode & 0o777).toBe(0o644);
  }, 60_000);
});
