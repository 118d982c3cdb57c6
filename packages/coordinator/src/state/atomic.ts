// Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory. After a
// kill -9 at any moment the path holds the old or the new content, never a mix. The one implementation
// for the coordinator: the generation store (this folder) and the secrets/enroll state files
// (secrets/files.ts writeStateFile) both write through replaceFileAtomic.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, rename, unlink } from "node:fs/promises";
import path from "node:path";

export interface ReplaceOptions {
  /** Permission bits of the new file, set exactly (not filtered by the umask). */
  mode: number;
  /** Create only: fail with EEXIST when the file exists (link(2) instead of rename(2)). */
  exclusive?: boolean;
  /** Owner of the new file, set before it gets its name (root writing for the daemon's user). */
  owner?: { uid: number; gid: number };
}

/**
 * Write `file` atomically and durably in its existing directory: a temporary file beside it, fsync,
 * rename (or link for an exclusive create), then fsync of the directory so the new name survives a crash.
 */
export async function replaceFileAtomic(
  file: string,
  data: string | Uint8Array,
  opts: ReplaceOptions,
): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", opts.mode);
  try {
    try {
      await fh.chmod(opts.mode);
      if (opts.owner) await fh.chown(opts.owner.uid, opts.owner.gid);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.exclusive) {
      await link(tmp, file);
      await unlink(tmp);
    } else {
      await rename(tmp, file);
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fsyncDir(dir);
}

/** replaceFileAtomic that first creates the directory (0700) when it is missing. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await replaceFileAtomic(file, data, { mode });
}

export async function fsyncDir(dir: string): Promise<void> {
  const dh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dh.sync();
  } catch (err) {
    // Some file systems refuse fsync(2) on a directory (EINVAL); the rename itself has happened.
    if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
  } finally {
    await dh.close();
  }
}

/** Appends one line and fsyncs it: the audit log loses no accepted entry. */
export async function appendLine(file: string, line: string): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, "a", 0o600);
  try {
    await fh.write(`${line}\n`);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
