import { execFile } from "node:child_process";
import { chown, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { sha256 } from "@vmmeet/node";
import { FileEntry, type FileEntryInput } from "@vmmeet/shared";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { lenientAccounts, systemAccounts, UnknownAccountError } from "./accounts.js";
import { FileWriter } from "./files.js";
import { PathRefusedError } from "./paths.js";

let dir: string;
let root: string;
let writer: FileWriter;

const entry = (e: Partial<FileEntryInput> = {}) =>
  FileEntry.parse({
    path: "/etc/jicofo/jicofo.conf",
    content: "a\n",
    mode: "0640",
    owner: "root",
    group: "wheel",
    ...e,
  });

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "vmmeet-files-"));
  root = path.join(dir, "root");
  await mkdir(root);
  writer = new FileWriter({ root, backupDir: path.join(dir, "backup"), accounts: lenientAccounts() });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("FileWriter", () => {
  it("creates, then finds content, metadata or nothing to change", async () => {
    const p = await writer.plan(entry());
    expect(p.change).toBe("created");
    await writer.write(p, 1);
    const file = path.join(root, "etc/jicofo/jicofo.conf");
    expect(await readFile(file, "utf8")).toBe("a\n");
    expect((await stat(file)).mode & 0o7777).toBe(0o640);
    expect((await writer.plan(entry())).change).toBe("unchanged");
    expect((await writer.plan(entry({ content: "b\n" }))).change).toBe("content");
    expect((await writer.plan(entry({ mode: "0600" }))).change).toBe("metadata");
    await writer.write(await writer.plan(entry({ mode: "0600" })), 2);
    expect((await stat(file)).mode & 0o7777).toBe(0o600);
    // no temp files left beside it
    expect(await readdir(path.dirname(file))).toEqual(["jicofo.conf"]);
  });

  it("sets owner and group from the resolver", async () => {
    // As root any id works; otherwise a supplementary group of ours (chown(2) allows those).
    const own = process.getgid?.() ?? 0;
    const alt = process.getuid?.() === 0 ? 533 : (process.getgroups?.().find((g) => g !== own) ?? own);
    const ids = { uid: () => process.getuid?.() ?? 0, gid: (g: string) => (g === "_jicofo" ? alt : own) };
    const w = new FileWriter({ root, backupDir: path.join(dir, "backup"), accounts: ids });
    await w.write(await w.plan(entry({ group: "_jicofo" })), 1);
    const file = path.join(root, "etc/jicofo/jicofo.conf");
    expect((await stat(file)).gid).toBe(alt);
    // changed by hand: only the metadata differs
    await chown(file, process.getuid?.() ?? 0, own);
    expect((await w.plan(entry({ group: "_jicofo" }))).change).toBe(alt === own ? "unchanged" : "metadata");
    expect((await w.plan(entry({ group: "wheel" }))).change).toBe("unchanged");
  });

  it("decodes base64 content", async () => {
    await writer.write(
      await writer.plan(
        entry({ content: Buffer.from([0, 1, 2, 255]).toString("base64"), encoding: "base64" }),
      ),
      1,
    );
    expect([...(await readFile(path.join(root, "etc/jicofo/jicofo.conf")))]).toEqual([0, 1, 2, 255]);
  });

  it("refuses links in the parent chain that leave the root, and the file being a link", async () => {
    const outside = path.join(dir, "outside");
    await mkdir(outside);
    await mkdir(path.join(root, "etc"));
    await symlink(outside, path.join(root, "etc/jicofo"));
    await expect(writer.plan(entry())).rejects.toBeInstanceOf(PathRefusedError);
    await expect(
      writer.write({ ...(await plannedElsewhere()), change: "created" }, 1),
    ).rejects.toBeInstanceOf(PathRefusedError);
    expect(await readdir(outside)).toEqual([]);
    await rm(path.join(root, "etc/jicofo"));
    await mkdir(path.join(root, "etc/jicofo"));
    await symlink("/etc/passwd", path.join(root, "etc/jicofo/jicofo.conf"));
    await expect(writer.plan(entry())).rejects.toThrow(/is a symbolic link/);
  });

  it("follows a link that stays inside the root", async () => {
    await mkdir(path.join(root, "data/jicofo"), { recursive: true });
    await mkdir(path.join(root, "etc"));
    await symlink("../data/jicofo", path.join(root, "etc/jicofo"));
    await writer.write(await writer.plan(entry()), 1);
    expect(await readFile(path.join(root, "data/jicofo/jicofo.conf"), "utf8")).toBe("a\n");
  });

  it("keeps the first backup of a generation and restores it", async () => {
    const file = path.join(root, "etc/jicofo/jicofo.conf");
    await writer.write(await writer.plan(entry()), 1);
    await writer.write(await writer.plan(entry({ content: "b\n" })), 2);
    await writer.write(await writer.plan(entry({ content: "c\n" })), 2);
    const [b] = await writer.backups(2);
    expect(b).toMatchObject({ path: "/etc/jicofo/jicofo.conf", existed: true, mode: 0o640 });
    await writer.restore(b!);
    expect(await readFile(file, "utf8")).toBe("a\n");
    const [first] = await writer.backups(1);
    expect(first?.existed).toBe(false);
    await writer.restore(first!);
    await expect(stat(file)).rejects.toThrow();
  });

  it("removes temp files a crash left, and prunes old generations", async () => {
    await mkdir(path.join(root, "etc/jicofo"), { recursive: true });
    await writeFile(path.join(root, "etc/jicofo/.jicofo.conf.vmmeet-tmp-abc"), "partial");
    for (let g = 1; g <= 4; g++) await writer.write(await writer.plan(entry({ content: `${g}\n` })), g);
    expect(await readdir(path.join(root, "etc/jicofo"))).toEqual(["jicofo.conf"]);
    await writer.pruneBackups(2);
    expect((await readdir(path.join(dir, "backup"))).sort()).toEqual(["3", "4"]);
  });

  it("sweeps a file's directory of crash leftovers once per process, not on every apply", async () => {
    await mkdir(path.join(root, "etc/jicofo"), { recursive: true });
    const leftover = path.join(root, "etc/jicofo/.jicofo.conf.vmmeet-tmp-abc");
    await writeFile(leftover, "partial");
    await writer.write(await writer.plan(entry({ content: "1\n" })), 1);
    expect(await readdir(path.join(root, "etc/jicofo"))).toEqual(["jicofo.conf"]);
    // Only a crash leaves a temp file, and this process has not crashed: the next writes and compares of
    // the same file do not list its directory again (this one stands for what a crash would have left).
    await writeFile(leftover, "partial");
    await writer.write(await writer.plan(entry({ content: "2\n" })), 2);
    await writer.removeTemps("/etc/jicofo/jicofo.conf");
    expect((await readdir(path.join(root, "etc/jicofo"))).sort()).toEqual([
      ".jicofo.conf.vmmeet-tmp-abc",
      "jicofo.conf",
    ]);
    // A new process (the agent after the crash) sweeps again.
    const after = new FileWriter({ root, backupDir: path.join(dir, "backup"), accounts: lenientAccounts() });
    await after.removeTemps("/etc/jicofo/jicofo.conf");
    expect(await readdir(path.join(root, "etc/jicofo"))).toEqual(["jicofo.conf"]);
  });

  async function plannedElsewhere() {
    return {
      entry: entry(),
      change: "created" as const,
      mode: 0o644,
      uid: 0,
      gid: 0,
      bytes: Buffer.from("x"),
      digest: sha256(Buffer.from("x")),
    };
  }
});

describe("readCurrent", () => {
  // A FIFO where a managed file was (put there after resolveUnderRoot's lstat): a blocking open(2) would
  // wait for a writer, and since the read is synchronous, hang the whole agent. Run in a child (the dist
  // module) so that a hang shows as the child's timeout, not as a stuck test worker.
  it("refuses a FIFO without waiting for a writer", async () => {
    const fifo = path.join(dir, "jicofo.conf");
    await promisify(execFile)("mkfifo", [fifo]);
    const filesJs = path.resolve(
      path.dirname(fileURLToPath(import.meta.url)),
      "../../dist/reconcile/files.js",
    );
    const child = `
      const { readCurrent } = await import(${JSON.stringify(filesJs)});
      try { await readCurrent(${JSON.stringify(fifo)}); process.stdout.write("read"); }
      catch (e) { process.stdout.write(e.name + ": " + e.message); }
    `;
    const r = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", child], {
      timeout: 10_000,
    }).catch((e: { killed?: boolean; stdout?: string }) => e);
    expect(r).not.toHaveProperty("killed", true);
    expect((r as { stdout: string }).stdout).toBe(
      `PathRefusedError: ${fifo}: exists and is not a regular file`,
    );
  });
});

describe("accounts", () => {
  it("reads passwd and group and refuses unknown names", async () => {
    const etc = path.join(dir, "etc");
    await mkdir(etc);
    await writeFile(
      path.join(etc, "passwd"),
      "root:*:0:0::/root:/bin/ksh\n_jicofo:*:533:533::/nonexistent:/sbin/nologin\n",
    );
    await writeFile(path.join(etc, "group"), "wheel:*:0:root\n_jicofo:*:533:\n");
    const a = systemAccounts(etc);
    expect([a.uid("_jicofo"), a.gid("_jicofo"), a.gid("wheel")]).toEqual([533, 533, 0]);
    expect(() => a.uid("_jvb")).toThrow(UnknownAccountError);
    expect(() => a.uid("_jvb")).toThrow(/unknown user _jvb/);
    // added later (pkg_add): found on the next lookup
    await writeFile(path.join(etc, "passwd"), "_jvb:*:534:534::/nonexistent:/sbin/nologin\n", { flag: "a" });
    expect(a.uid("_jvb")).toBe(534);
    const lenient = lenientAccounts(a);
    expect(lenient.uid("_jicofo")).toBe(533);
    expect(lenient.uid("_nobody_here")).toBe(process.getuid?.());
  });
});
