// Managed files: compare, write atomically, keep the previous version for rollback.
//
// Backups go to STATE/backup/<generation>/<sha256(path)>.json (content base64, mode, uid, gid, or "did not
// exist"), not beside the file as path.vmmeet-prev, because:
// - a copy beside the file sits in a directory a daemon reads: prosody indexes every certificate in
//   /var/prosody, nginx and syslogd configs can include globs, and a copy of a secret file would keep the
//   secret readable wherever the admin loosened that directory; STATE is 0700 root;
// - per-generation directories let rollback(generation) restore exactly what that apply replaced, and the
//   oldest generations are pruned as a whole;
// - one JSON file per (generation, path), written atomically, needs no manifest to update.
import { closeSync, constants, fstatSync, openSync, readFileSync } from "node:fs";
import { lstat, mkdir, open, readdir, readFile, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { entryBytes, isTempFor, sha256, writeFileAtomic, writeJsonAtomic } from "@vmmeet/node";
import type { FileEntry } from "@vmmeet/shared";
import { isNotFound, type PendingAction } from "../state/store.js";
import type { AccountResolver } from "./accounts.js";
import { PathRefusedError, resolveUnderRoot } from "./paths.js";

/** created: did not exist; content: bytes differ; metadata: only mode/owner/group differ. */
export type FileChange = "created" | "content" | "metadata" | "unchanged";

export interface FilePlan {
  entry: FileEntry;
  change: FileChange;
  mode: number;
  uid: number;
  gid: number;
  bytes: Buffer;
  /** sha256 (hex) of `bytes`: what the file holds once the plan is carried out. */
  digest: string;
}

export interface BackupEntry {
  path: string;
  existed: boolean;
  mode?: number;
  uid?: number;
  gid?: number;
  /** base64 */
  content?: string;
  /** What the file's notify list asked for in the generation that replaced it (rollback restarts these). */
  services: Record<string, PendingAction>;
}

export interface FileWriterOptions {
  /** Prefix of every managed path ("/" on the VM). */
  root?: string;
  /** STATE/backup. */
  backupDir: string;
  accounts: AccountResolver;
}

/** Services a change of this file needs; restart wins over reload. */
export function notifyMap(entry: FileEntry): Record<string, PendingAction> {
  const out: Record<string, PendingAction> = {};
  for (const n of entry.notify) {
    if (out[n.service] !== "restart") out[n.service] = n.action;
  }
  return out;
}

export class FileWriter {
  readonly root: string;
  private readonly backupDir: string;
  private readonly accounts: AccountResolver;
  /**
   * Managed paths whose directory this process has already swept of stale temp files. Only a crash leaves
   * one (writeFileAtomic removes its temp file when it fails), so once per file and process is enough, and
   * an apply neither lists a directory such as /etc nor resolves the path again for every file it finds
   * unchanged.
   */
  private readonly swept = new Set<string>();

  constructor(opts: FileWriterOptions) {
    this.root = path.resolve(opts.root ?? "/");
    this.backupDir = opts.backupDir;
    this.accounts = opts.accounts;
  }

  /**
   * Read-only comparison with what is on disk. Throws PathRefusedError (escape, link, not a regular file)
   * and UnknownAccountError, so a desired state can be refused as a whole before anything is written.
   */
  async plan(entry: FileEntry): Promise<FilePlan> {
    const mode = Number.parseInt(entry.mode, 8);
    const uid = this.accounts.uid(entry.owner);
    const gid = this.accounts.gid(entry.group);
    const bytes = entryBytes(entry);
    const { target } = await resolveUnderRoot(this.root, entry.path, false);
    const cur = await readCurrent(target);
    const digest = sha256(bytes);
    let change: FileChange;
    if (!cur) change = "created";
    else if (sha256(cur.content) !== digest) change = "content";
    else if (cur.mode !== mode || cur.uid !== uid || cur.gid !== gid) change = "metadata";
    else change = "unchanged";
    return { entry, change, mode, uid, gid, bytes, digest };
  }

  /**
   * Makes the file match its plan. With a backup generation, the version on disk is saved first (once per
   * generation and path: a re-enforcement of the same generation must not overwrite what it replaced).
   */
  async write(plan: FilePlan, backupGeneration: number | null): Promise<void> {
    if (plan.change === "unchanged") return;
    const { target } = await resolveUnderRoot(this.root, plan.entry.path, true);
    await this.sweep(plan.entry.path, target);
    if (backupGeneration !== null) await this.backup(backupGeneration, plan.entry, target);
    if (plan.change === "metadata") {
      // Same bytes: fix owner and mode in place through a descriptor that cannot follow a link.
      const fd = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        await fd.chown(plan.uid, plan.gid);
        await fd.chmod(plan.mode);
        await fd.sync();
      } finally {
        await fd.close();
      }
      return;
    }
    await writeFileAtomic(target, plan.bytes, { mode: plan.mode, uid: plan.uid, gid: plan.gid });
  }

  /**
   * Removes temp files a crash left beside a managed file (between create and rename). Needed for files
   * found unchanged too: the crash may have come after a successful rename of an earlier attempt.
   */
  async removeTemps(managed: string): Promise<void> {
    if (this.swept.has(managed)) return;
    const { parent, target } = await resolveUnderRoot(this.root, managed, false);
    if (parent !== null) await this.sweep(managed, target);
  }

  private async sweep(managed: string, target: string): Promise<void> {
    if (this.swept.has(managed)) return;
    await removeStaleTemps(target);
    this.swept.add(managed);
  }

  private genDir(generation: number): string {
    return path.join(this.backupDir, String(generation));
  }

  private async backup(generation: number, entry: FileEntry, target: string): Promise<void> {
    const dir = this.genDir(generation);
    const file = path.join(dir, `${sha256(Buffer.from(entry.path))}.json`);
    if (await exists(file)) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const cur = await readCurrent(target);
    const b: BackupEntry = cur
      ? {
          path: entry.path,
          existed: true,
          mode: cur.mode,
          uid: cur.uid,
          gid: cur.gid,
          content: cur.content.toString("base64"),
          services: notifyMap(entry),
        }
      : { path: entry.path, existed: false, services: notifyMap(entry) };
    await writeJsonAtomic(file, b);
  }

  /** The backups of one generation (what its apply replaced), or [] when there are none. */
  async backups(generation: number): Promise<BackupEntry[]> {
    const dir = this.genDir(generation);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (isNotFound(e)) return [];
      throw e;
    }
    const out: BackupEntry[] = [];
    for (const n of names.filter((n) => n.endsWith(".json")).sort()) {
      out.push(JSON.parse(await readFile(path.join(dir, n), "utf8")) as BackupEntry);
    }
    return out;
  }

  /** Puts one backed-up file back (or removes a file that did not exist before). */
  async restore(b: BackupEntry): Promise<void> {
    const { target } = await resolveUnderRoot(this.root, b.path, b.existed);
    if (!b.existed) {
      await unlink(target).catch((e) => {
        if (!isNotFound(e)) throw e;
      });
      return;
    }
    await this.sweep(b.path, target);
    await writeFileAtomic(target, Buffer.from(b.content ?? "", "base64"), {
      mode: b.mode ?? 0o644,
      uid: b.uid ?? 0,
      gid: b.gid ?? 0,
    });
  }

  /** Keeps the backups of the newest `keep` generations. */
  async pruneBackups(keep: number): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.backupDir);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const gens = names
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => b - a);
    for (const g of gens.slice(keep)) await rm(this.genDir(g), { recursive: true, force: true });
  }
}

export interface Current {
  content: Buffer;
  mode: number;
  uid: number;
  gid: number;
}

/**
 * The file as it is, without following a link. Synchronous like resolveUnderRoot (paths.ts), for the same
 * reason: four thread-pool round trips per managed file and apply, for a file of a few kilobytes.
 * O_NONBLOCK: a FIFO put there after resolveUnderRoot's check must not hang the agent in open(2); fstat
 * then refuses it (the flag means nothing for a regular file).
 */
export async function readCurrent(target: string): Promise<Current | null> {
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if (isNotFound(e)) return null;
    if ((e as NodeJS.ErrnoException).code === "ELOOP") {
      throw new PathRefusedError(target, "is a symbolic link");
    }
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PathRefusedError(target, "exists and is not a regular file");
    return { content: readFileSync(fd), mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } finally {
    closeSync(fd);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** Temp files of this target left by a crash between create and rename. */
async function removeStaleTemps(target: string): Promise<void> {
  const dir = path.dirname(target);
  const base = path.basename(target);
  for (const n of await readdir(dir)) {
    if (isTempFor(n, base)) await rm(path.join(dir, n), { force: true });
  }
}
