// The manual pages in man/: mdoc that Debian's mandoc -Tlint passes, vmmeet.yaml(5) exactly what the spec
// schema generates (scripts/man.mjs), every spec field described, every vmmeet command in vmmeet(8) and
// every agent option in vmmeet-agent(8).
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { specFields, specManPage } from "@vmmeet/coordinator";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../packages/coordinator/src/cli/run.js";
import { repoRoot } from "./validators/paths.js";

const run = promisify(execFile);
const manDir = path.join(repoRoot(), "man");
const pages = readdirSync(manDir).filter((f) => /\.[58]$/.test(f));
const page = (name: string) => readFileSync(path.join(manDir, name), "utf8");

// mandoc looks cross-references up in /usr/share/man only: the other vmmeet pages are not installed there,
// and OpenBSD's own (rcctl(8), vmd(8), ...) do not exist on Linux. Those, and nothing else, may be reported.
const ELSEWHERE = new Set([
  "vmmeet 8",
  "vmmeetd 8",
  "vmmeet-agent 8",
  "vmmeet.yaml 5",
  "rcctl 8",
  "rc.d 8",
  "rc.subr 8",
  "rc.conf.local 8",
  "syslogd 8",
  "vmd 8",
  "node 1",
]);

async function lint(file: string): Promise<string[]> {
  const res = await run("mandoc", ["-Tlint", file]).catch(
    (e: { code?: number | string; stdout: string; stderr: string }) => {
      if (e.code === "ENOENT") throw new Error("mandoc is not installed (Debian package mandoc)");
      return e;
    },
  );
  return `${res.stdout}${res.stderr}`
    .split("\n")
    .filter(Boolean)
    .filter((l) => !/outdated mandoc\.db/.test(l))
    .filter((l) => {
      const xr = /STYLE: referenced manual not found: Xr (\S+ \d)/.exec(l);
      return !(xr && ELSEWHERE.has(xr[1]!));
    });
}

describe("man pages", () => {
  it("are the four pages, each clean under mandoc -Tlint", async () => {
    expect(pages.sort()).toEqual(["vmmeet-agent.8", "vmmeet.8", "vmmeet.yaml.5", "vmmeetd.8"]);
    for (const p of pages) expect(await lint(path.join(manDir, p)), p).toEqual([]);
  });

  it("vmmeet.yaml(5) is what the spec schema generates (run npm run man after changing the schema)", () => {
    expect(page("vmmeet.yaml.5")).toBe(specManPage());
  });

  it("describes every field of the spec, with its default", () => {
    const fields = specFields();
    expect(fields.length).toBeGreaterThan(40);
    const undescribed = fields.filter((f) => !f.description).map((f) => f.path);
    expect(undescribed, "fields without .describe() in packages/shared/src/spec/").toEqual([]);
    const text = page("vmmeet.yaml.5");
    for (const f of fields) expect(text).toContain(`.It Ic ${f.path}\n`);
    expect(text).toMatch(/\.It Ic host\.resolver\nType: string\.\nDefault: 127\.0\.0\.1\./);
    expect(text).toContain("at least one jvb");
  });

  it("vmmeet(8) has every command, vmmeet-agent(8) every option of --help", async () => {
    const vmmeet = page("vmmeet.8");
    for (const c of COMMANDS)
      expect(vmmeet, c.name).toMatch(new RegExp(`^(\\.It Ic ${c.name}\\b|\\.Ic ${c.name}$)`, "m"));
    const bundle = path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs");
    const help = (await run(process.execPath, [bundle, "--help"])).stdout;
    const options = [...help.matchAll(/^ {2}(?:-h, )?--([a-z-]+)/gm)]
      .map((m) => m[1]!)
      .filter((o) => o !== "help");
    expect(options.length).toBeGreaterThan(15);
    const agent = page("vmmeet-agent.8");
    for (const o of options) expect(agent, `--${o}`).toMatch(new RegExp(`(Fl |, )-${o}\\b`));
  });
});
