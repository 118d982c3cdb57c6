// The release: `npm run dist` builds vmmeet-VERSION.tar.gz; unpacked into an empty directory, Debian's
// bmake runs its Makefile's `install` target into a DESTDIR, and the installed programs run with nothing but
// node: vmmeet --help, --version, init and render on the host layout, vmmeet-agent --help. What it installs
// is exactly what the OpenBSD port's pkg/PLIST lists.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "./validators/paths.js";

const run = promisify(execFile);
const repo = repoRoot();
const PREFIX = "/usr/local";
let dir = "";
let dest = "";
let version = "";

// Directories of hier(7) that exist before vmmeet is installed: not vmmeet's, so not in the PLIST.
const SYSTEM_DIRS = new Set(
  [
    "/etc",
    "/etc/rc.d",
    "/var",
    "/var/db",
    "/usr",
    PREFIX,
    `${PREFIX}/bin`,
    `${PREFIX}/libexec`,
    `${PREFIX}/man`,
    `${PREFIX}/man/man5`,
    `${PREFIX}/man/man8`,
    `${PREFIX}/share`,
    `${PREFIX}/share/examples`,
  ].map((d) => `${d}/`),
);

/** Every file and directory (with a trailing /) under root, as absolute paths of the installed system. */
async function tree(root: string, rel = "/"): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = path.posix.join(rel, e.name);
    if (e.isDirectory()) out.push(`${p}/`, ...(await tree(root, p)));
    else out.push(p);
  }
  return out;
}

/** The paths pkg/PLIST installs, with the ports framework's variables of an OpenBSD system. */
function plistPaths(text: string): string[] {
  const vars: Record<string, string> = { RCDIR: "/etc/rc.d", SYSCONFDIR: "/etc" };
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/\$\{(\w+)\}/g, (m, v: string) => vars[v] ?? m);
    if (!line || /^@(newuser|newgroup|mode|owner|group|comment)\b/.test(line)) continue;
    const entry = line.replace(/^@(man|rcscript|sample|bin)\s+/, "");
    if (entry.startsWith("@")) throw new Error(`pkg/PLIST: unknown keyword in "${raw}"`);
    // pkg/README is installed by the ports framework itself, not by the release's Makefile
    if (entry.startsWith("share/doc/pkg-readmes/")) continue;
    out.push(entry.startsWith("/") ? entry : `${PREFIX}/${entry}`);
  }
  return out;
}

const onlyNode = () => ({
  PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`,
  HOME: path.join(dir, "home"),
  VMMEET_ROOT: dest,
});

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-dist-test-"));
  version = JSON.parse(await readFile(path.join(repo, "package.json"), "utf8")).version;
  const out = path.join(dir, "out");
  const built = await run(process.execPath, [path.join(repo, "scripts/dist.mjs"), out]);
  expect(path.resolve(built.stdout.trim())).toBe(path.join(out, `vmmeet-${version}.tar.gz`));
  const empty = path.join(dir, "unpacked");
  await mkdir(empty);
  await mkdir(path.join(dir, "home"));
  await run("tar", ["-xzf", path.join(out, `vmmeet-${version}.tar.gz`), "-C", empty]);
  dest = path.join(dir, "dest");
  await run("bmake", ["-C", path.join(empty, `vmmeet-${version}`), "install", `DESTDIR=${dest}`]).catch(
    (e: { code?: string; stderr?: string }) => {
      throw new Error(
        e.code === "ENOENT" ? "bmake is not installed (Debian package bmake)" : `bmake install: ${e.stderr}`,
      );
    },
  );
}, 120_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the release tarball, installed with make install", () => {
  it("installs exactly what the port's PLIST lists, with the modes of a port", async () => {
    const installed = (await tree(dest)).filter((p) => !SYSTEM_DIRS.has(p)).sort();
    const plist = plistPaths(
      await readFile(path.join(repo, "ports/sysutils/vmmeet/pkg/PLIST"), "utf8"),
    ).sort();
    expect(installed).toEqual(plist);
    const mode = async (p: string) => (await stat(path.join(dest, p))).mode & 0o7777;
    expect(await mode(`${PREFIX}/bin/vmmeet`)).toBe(0o555);
    expect(await mode("/etc/rc.d/vmmeetd")).toBe(0o555);
    expect(await mode("/etc/rc.d/vmmeet_agent")).toBe(0o555);
    expect(await mode(`${PREFIX}/man/man5/vmmeet.yaml.5`)).toBe(0o444);
    expect(await mode(`${PREFIX}/libexec/vmmeet/vmmeet.mjs`)).toBe(0o444);
    expect(await mode("/var/db/vmmeet")).toBe(0o700);
  });

  it("runs vmmeet --help, --version, init and render with nothing but node, on the host layout", async () => {
    const vmmeet = path.join(dest, PREFIX, "bin/vmmeet");
    const opts = { cwd: path.join(dir, "home"), env: onlyNode() };
    expect((await run(vmmeet, ["--help"], opts)).stdout).toMatch(/^vmmeet \d+\.\d+\.\d+: /);
    expect((await run(vmmeet, ["--version"], opts)).stdout).toBe(`${version}\n`);
    // make install made /etc/vmmeet: init writes the spec there and the state into /var/db/vmmeet
    const init = await run(
      vmmeet,
      ["init", "--domain", "meet.example.org", "--public-address", "192.0.2.10"],
      opts,
    );
    expect(init.stdout).toContain(`wrote ${path.join(dest, "etc/vmmeet/vmmeet.yaml")}`);
    expect(await readdir(path.join(dest, "var/db/vmmeet"))).toContain("secrets.json");
    const out = path.join(dir, "rendered");
    await run(vmmeet, ["render", "--out", out], opts);
    expect(await readFile(path.join(out, "xmpp/etc/prosody/prosody.cfg.lua"), "utf8")).toContain(
      'VirtualHost "meet.example.org"',
    );
    // the example spec is a valid one
    await run(vmmeet, ["validate", path.join(dest, PREFIX, "share/examples/vmmeet/vmmeet.yaml")], opts);
  });

  it("runs vmmeet-agent --help with nothing but node", async () => {
    const agent = path.join(dest, PREFIX, "libexec/vmmeet/vmmeet-agent.mjs");
    const res = await run(process.execPath, [agent, "--help"], {
      cwd: path.join(dir, "home"),
      env: onlyNode(),
    });
    expect(res.stdout).toMatch(new RegExp(`^vmmeet-agent ${version.replaceAll(".", "\\.")}: `));
  });
});
