// The coordinator CLI on the VMM host: with the release installed (/etc/vmmeet exists) and no ./vmmeet.yaml,
// every command finds the spec in /etc/vmmeet/vmmeet.yaml and the state in /var/db/vmmeet without flags; a
// SPEC argument and --state still override. VMMEET_ROOT stands for / (as DESTDIR does for make install).
// The daemon runs as _vmmeet there and owns /var/db/vmmeet; root's init and render must leave files it can
// read. Runs as root, as CI does.
import { existsSync } from "node:fs";
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "@vmmeet/coordinator";
import { afterEach, describe, expect, it } from "vitest";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function host() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-host-"));
  dirs.push(dir);
  const root = path.join(dir, "root");
  const cwd = path.join(dir, "home");
  await mkdir(path.join(root, "etc/vmmeet"), { recursive: true });
  await mkdir(cwd);
  const run = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runCli(args, {
      out: (s) => out.push(s),
      err: (s) => out.push(s),
      cwd,
      env: { VMMEET_ROOT: root },
    });
    return { code, out: out.join("") };
  };
  return {
    dir,
    root,
    cwd,
    run,
    spec: path.join(root, "etc/vmmeet/vmmeet.yaml"),
    state: path.join(root, "var/db/vmmeet"),
  };
}

describe("the CLI on the host layout", () => {
  it("init, validate and render use /etc/vmmeet/vmmeet.yaml and /var/db/vmmeet without flags", async () => {
    const h = await host();
    const init = await h.run("init", "--domain", "meet.example.org", "--public-address", "192.0.2.10");
    expect(init, init.out).toMatchObject({ code: 0 });
    expect(init.out).toContain(`wrote ${h.spec}`);
    expect(await readFile(h.spec, "utf8")).toContain("domain: meet.example.org");
    expect((await stat(h.state)).mode & 0o777).toBe(0o700);
    expect(await readdir(h.state)).toContain("secrets.json");
    // nothing lands in the working directory
    expect(await readdir(h.cwd)).toEqual([]);
    expect(await h.run("validate")).toMatchObject({ code: 0 });
    const out = path.join(h.dir, "out");
    const render = await h.run("render", "--out", out);
    expect(render, render.out).toMatchObject({ code: 0 });
    expect(await readFile(path.join(out, "web/etc/nginx/nginx.conf"), "utf8")).toContain("meet.example.org");
    // the admin socket of the host's daemon
    const status = await h.run("status");
    expect(status.code).toBe(1);
    expect(status.out).toContain(path.join(h.state, "admin.sock"));
  });

  it("a ./vmmeet.yaml, a SPEC argument and --state override the host layout", async () => {
    const h = await host();
    expect((await h.run("init")).code).toBe(0);
    // a spec in the working directory wins over /etc/vmmeet (here an invalid one, to tell them apart)
    await writeFile(path.join(h.cwd, "vmmeet.yaml"), "version: 1\n");
    const local = await h.run("validate");
    expect(local.code).toBe(1);
    expect(local.out).toContain(path.join(h.cwd, "vmmeet.yaml"));
    expect(await h.run("validate", h.spec)).toMatchObject({ code: 0 });
    // the host's spec named explicitly still means the host's state; --state moves it
    const other = path.join(h.dir, "other-state");
    expect((await h.run("render", h.spec, "--out", path.join(h.dir, "o1"), "--state", other)).code).toBe(0);
    expect(await readdir(other)).toContain("secrets.json");
  });

  it("without /etc/vmmeet (no release installed) it is the working directory's layout", async () => {
    const h = await host();
    await rm(path.join(h.root, "etc/vmmeet"), { recursive: true });
    expect((await h.run("init")).code).toBe(0);
    expect(existsSync(path.join(h.cwd, "vmmeet.yaml"))).toBe(true);
    expect(existsSync(path.join(h.cwd, ".vmmeet/secrets.json"))).toBe(true);
    expect(existsSync(h.state)).toBe(false);
  });

  it("root's init and render leave the daemon's user owning every file of its state directory", async () => {
    expect(process.getuid?.(), "this test runs as root, as CI does").toBe(0);
    const h = await host();
    // what the package does: /var/db/vmmeet owned by the daemon's user (here uid/gid 65534), mode 0700
    await mkdir(h.state, { recursive: true, mode: 0o700 });
    await chown(h.state, 65534, 65534);
    expect((await h.run("init")).code).toBe(0);
    const files = await readdir(h.state);
    expect(files.length).toBeGreaterThan(3);
    for (const f of files) {
      const st = await stat(path.join(h.state, f));
      expect({ f, uid: st.uid, gid: st.gid }).toEqual({ f, uid: 65534, gid: 65534 });
    }
    // root reads the daemon's files (owned by the daemon's user, not by root)
    expect((await h.run("render", "--out", path.join(h.dir, "o2"))).code).toBe(0);
  });
});
