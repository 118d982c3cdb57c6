// Crash-safe file replacement, the one implementation for the agent (managed files, its state, pf and vm.conf
// candidates, the certificate) and the coordinator (the generation store, the secrets and enrollment state).
// A reader (a daemon restarted after a crash, or vmmeet itself) must see either the old or the new file,
// never a torn one: write a temp file in the same directory (rename(2) is atomic only within one file
// system), fsync it, rename it over the target, then fsync the directory so the rename itself survives a
// power loss.
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { link, mkdir, open, rename, unlink } from "node:fs/promises";
import path from "node:path";

export interface AtomicWriteOptions {
  /** Permission bits of the new file (e.g. 0o640), set exactly (not filtered by the umask). */
  mode: number;
  /** Numeric owner, set before the file gets its name; left as the creating process' when absent. */
  uid?: number;
  gid?: number;
  /** Create only: fail with EEXIST when the file exists (link(2) instead of rename(2)). */
  exclusive?: boolean;
}

/**
 * Temp files are dot-files beside the target so a crash leaves nothing that a daemon might read as config.
 * Their names end in ".tmp" so that a listing of a state directory tells them apart at a glance.
 */
export const TEMP_MARK = ".vmmeet-tmp-";

export function tempNameFor(target: string): string {
  return path.join(
    path.dirname(target),
    `.${path.basename(target)}${TEMP_MARK}${randomBytes(6).toString("hex")}.tmp`,
  );
}

/** Whether a directory entry is one of our temp files for `basename` (left over by a crash). */
export function isTempFor(entry: string, basename: string): boolean {
  return entry.startsWith(`.${basename}${TEMP_MARK}`);
}

/** fsync(2) of a directory: a rename, link or unlink in it survives a power loss once this returns. */
export async function fsyncDir(dir: string): Promise<void> {
  const fd = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fd.sync();
  } finally {
    await fd.close();
  }
}

/** Write `target` atomically and durably in its existing directory (see the top of this file). */
export async function writeFileAtomic(
  target: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions,
): Promise<void> {
  const tmp = tempNameFor(target);
  // O_EXCL: never reuse or follow something already there. 0600 until owner and mode are set, so nobody
  // else can open it while it is partially written; the final mode is set before the rename makes it
  // visible under the real name (chown first: it clears set-id bits).
  const fd = await open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  let named = false;
  try {
    try {
      if (opts.uid !== undefined && opts.gid !== undefined) await fd.chown(opts.uid, opts.gid);
      await fd.chmod(opts.mode);
      await fd.writeFile(data);
      await fd.sync();
    } finally {
      await fd.close();
    }
    if (opts.exclusive) {
      await link(tmp, target);
      named = true;
      await unlink(tmp);
    } else {
      await rename(tmp, target);
      named = true;
    }
    await fsyncDir(path.dirname(target));
  } finally {
    if (!named) await unlink(tmp).catch(() => {});
  }
}

/** writeFileAtomic that first creates the directory (0700) when it is missing. */
export async function writeFileAtomicIn(
  target: string,
  data: Uint8Array | string,
  opts: AtomicWriteOptions,
): Promise<void> {
  await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
  await writeFileAtomic(target, data, opts);
}

/** JSON state files: 0600, atomic, indented, one trailing newline. */
export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
}

/** Appends one line and fsyncs it (creating the file 0600 and its directory 0700): no accepted line is lost. */
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
