import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  appendLine,
  isTempFor,
  tempNameFor,
  writeFileAtomic,
  writeFileAtomicIn,
  writeJsonAtomic,
} from "./atomic.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "vmmeet-atomic-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o7777;

describe("writeFileAtomic", () => {
  it("replaces a file with the new bytes and exactly the mode asked for, whatever the umask", async () => {
    const target = path.join(dir, "jvb.conf");
    await writeFile(target, "old\n", { mode: 0o644 });
    const umask = process.umask(0o077);
    try {
      await writeFileAtomic(target, Buffer.from("new\n"), { mode: 0o644 });
    } finally {
      process.umask(umask);
    }
    expect(await readFile(target, "utf8")).toBe("new\n");
    expect(await mode(target)).toBe(0o644);
    expect(await readdir(dir)).toEqual(["jvb.conf"]);
  });

  it("leaves no temp file and the old content when the write fails", async () => {
    // A directory where the file should be: rename(2) refuses to put a file over it.
    const target = path.join(dir, "prosody.cfg.lua");
    await mkdir(target);
    const err = await writeFileAtomic(target, "x", { mode: 0o640 }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toMatch(/^(EISDIR|ENOTDIR|EEXIST|ENOTEMPTY)$/);
    expect(await readdir(dir)).toEqual(["prosody.cfg.lua"]);
    expect((await lstat(target)).isDirectory()).toBe(true);
  });

  it("exclusive: creates a missing file, and refuses one that exists (EEXIST) without touching it", async () => {
    const target = path.join(dir, "ca.key");
    await writeFileAtomic(target, "first", { mode: 0o600, exclusive: true });
    expect(await readFile(target, "utf8")).toBe("first");
    const err = await writeFileAtomic(target, "second", { mode: 0o600, exclusive: true }).catch(
      (e: unknown) => e,
    );
    expect((err as NodeJS.ErrnoException).code).toBe("EEXIST");
    expect(await readFile(target, "utf8")).toBe("first");
    expect(await readdir(dir)).toEqual(["ca.key"]);
  });

  it("replaces a symbolic link by a file and never writes through it", async () => {
    const elsewhere = path.join(dir, "elsewhere");
    await writeFile(elsewhere, "keep");
    const target = path.join(dir, "pf.conf");
    await symlink(elsewhere, target);
    await writeFileAtomic(target, "pass all\n", { mode: 0o600 });
    expect((await lstat(target)).isSymbolicLink()).toBe(false);
    expect(await readFile(target, "utf8")).toBe("pass all\n");
    expect(await readFile(elsewhere, "utf8")).toBe("keep");
  });

  it("sets the owner before the file gets its name", async () => {
    const target = path.join(dir, "owned");
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    await writeFileAtomic(target, "x", { mode: 0o640, uid, gid });
    const st = await stat(target);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([uid, gid, 0o640]);
  });

  it("needs the directory to exist; writeFileAtomicIn creates it 0700", async () => {
    const target = path.join(dir, "state", "current.json");
    const err = await writeFileAtomic(target, "{}", { mode: 0o600 }).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe("ENOENT");
    await writeFileAtomicIn(target, "{}\n", { mode: 0o600 });
    expect(await readFile(target, "utf8")).toBe("{}\n");
    expect(await mode(path.dirname(target))).toBe(0o700);
    expect(await mode(target)).toBe(0o600);
  });
});

describe("temp names", () => {
  it("are dot-files beside the target, ending .tmp, that isTempFor recognizes for that file only", () => {
    const tmp = tempNameFor("/etc/jicofo/jicofo.conf");
    expect(path.dirname(tmp)).toBe("/etc/jicofo");
    const name = path.basename(tmp);
    expect(name).toMatch(/^\.jicofo\.conf\.vmmeet-tmp-[0-9a-f]{12}\.tmp$/);
    expect(isTempFor(name, "jicofo.conf")).toBe(true);
    expect(isTempFor(name, "jicofo")).toBe(false);
    expect(isTempFor("jicofo.conf", "jicofo.conf")).toBe(false);
    expect(tempNameFor("/etc/jicofo/jicofo.conf")).not.toBe(tmp);
  });
});

describe("writeJsonAtomic and appendLine", () => {
  it("writes indented JSON with one trailing newline, 0600", async () => {
    const target = path.join(dir, "state.json");
    await writeJsonAtomic(target, { generation: 3 });
    expect(await readFile(target, "utf8")).toBe('{\n  "generation": 3\n}\n');
    expect(await mode(target)).toBe(0o600);
  });

  it("appends whole lines to a 0600 file in a 0700 directory it creates", async () => {
    const file = path.join(dir, "log", "audit.log");
    await appendLine(file, '{"kind":"push"}');
    await appendLine(file, '{"kind":"rollback"}');
    expect(await readFile(file, "utf8")).toBe('{"kind":"push"}\n{"kind":"rollback"}\n');
    expect(await mode(file)).toBe(0o600);
    expect(await mode(path.dirname(file))).toBe(0o700);
  });
});
