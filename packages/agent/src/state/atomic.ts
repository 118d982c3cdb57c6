// Crash-safe file replacement. A reader (a daemon restarted after a crash, or the agent itself) must see
// either the old or the new file, never a torn one: write a temp file in the same directory (rename(2) is
// atomic only within one file system), fsync it, rename it over the target, then fsync the directory so
// the rename itself survives a power loss.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import path from "node:path";

export interface AtomicWriteOptions {
  /** Permission bits of the new file (e.g. 0o640). */
  mode: number;
  /** Numeric owner; left as the creating process' when absent. */
  uid?: number;
  gid?: number;
}

/** Temp files are dot-files beside the target so a crash leaves nothing that a daemon might read as config. */
export const TEMP_MARK = ".vmmeet-tmp-";

export function tempNameFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}${TEMP_MARK}${randomBytes(6).toString("hex")}`,
  );
}

/** Whether a directory entry is one of our temp files for `basename` (left over by a crash). */
export function isTempFor(entry: string, basename: string): boolean {
  return entry.startsWith(`.${basename}${TEMP_MARK}`);
}

export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

export async function writeFileAtomic(target: string, data: Uint8Array | string, opts: AtomicWriteOptions) {
  const tmp = tempNameFor(target);
  // O_EXCL: never reuse or follow something already there. 0600 until owner and mode are set, so nobody
  // else can open it while it is partially written; the final mode is set before the rename makes it
  // visible under the real name (chown first: it clears set-id bits).
  const fd = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let renamed = false;
  try {
    try {
      if (opts.uid !== undefined && opts.gid !== undefined) await fd.chown(opts.uid, opts.gid);
      await fd.chmod(opts.mode);
      await fd.writeFile(data);
      await fd.sync();
    } finally {
      await fd.close();
    }
    await rename(tmp, target);
    renamed = true;
    await fsyncDir(path.dirname(target));
  } finally {
    if (!renamed) await unlink(tmp).catch(() => {});
  }
}

/** JSON state files: 0600, atomic. */
export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}
