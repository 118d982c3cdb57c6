// File plumbing for the state directory: private modes checked like ssh(1) checks ~/.ssh, writes that are
// atomic and durable, and a lock so that the CLI and the daemon never generate two CAs at once.
import { constants, type Stats } from "node:fs";
import { chmod, link, lstat, mkdir, open, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { type AtomicWriteOptions, writeFileAtomic } from "@vmmeet/node";

export const PRIVATE_FILE_MODE = 0o600;
export const PUBLIC_FILE_MODE = 0o644;
export const STATE_DIR_MODE = 0o700;

/** A problem with the state directory that the operator must fix; the message says how. */
export class StateDirError extends Error {}

/** Create the state directory (0700) or check that an existing one is private. */
export async function ensureStateDir(dir: string): Promise<void> {
  let st: Stats;
  try {
    st = await lstat(dir);
  } catch (err) {
    if (errno(err) !== "ENOENT") throw err;
    await mkdir(dir, { recursive: true, mode: STATE_DIR_MODE });
    // mkdir's mode is filtered by the umask; set it exactly.
    await chmod(dir, STATE_DIR_MODE);
    return;
  }
  if (!st.isDirectory()) throw new StateDirError(`state directory ${dir} exists but is not a directory`);
  // Root may use a state directory that belongs to the daemon's own user (_vmmeet on the host).
  checkPrivate(st, dir, "state directory", `chmod 700 ${dir}`, process.getuid?.() === 0 ? st.uid : undefined);
}

/**
 * The owner a file written into `dir` must get: on the host the daemon runs as _vmmeet and owns the state
 * directory, and root's `vmmeet init` or `render` must not leave files there that the daemon cannot read.
 * Undefined when nothing needs changing (not root, or root's own directory).
 */
async function daemonOwner(dir: string): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const st = await lstat(dir);
  return st.uid === 0 ? undefined : { uid: st.uid, gid: st.gid };
}

/**
 * Refuse material that others can read or that someone else owns, as ssh does for private keys: a
 * password that was readable by others must be considered leaked, so vmmeet does not silently tighten it.
 */
export function checkPrivate(st: Stats, file: string, what: string, fix: string, alsoOwner?: number): void {
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new StateDirError(
      `${what} ${file} is accessible by group or others (mode ${mode.toString(8).padStart(4, "0")}); ` +
        `it holds private keys and passwords. Run: ${fix}` +
        (what === "state directory" ? "" : " (and consider the old value exposed)"),
    );
  }
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid && st.uid !== 0 && st.uid !== alsoOwner) {
    throw new StateDirError(
      `${what} ${file} is owned by uid ${st.uid}, not by this user (uid ${uid}) or root`,
    );
  }
}

/**
 * Read a file, or undefined when it does not exist. With `privateWhat`, the open file must be private
 * (checked on the descriptor, so the check and the read concern the same file).
 */
export async function readStateFile(
  dir: string,
  name: string,
  privateWhat?: string,
): Promise<Buffer | undefined> {
  const file = path.join(dir, name);
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (err) {
    if (errno(err) === "ENOENT") return undefined;
    if (errno(err) === "ELOOP")
      throw new StateDirError(`${name} in ${dir} is a symbolic link; vmmeet refuses it`);
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new StateDirError(`${name} in ${dir} is not a regular file`);
    if (privateWhat !== undefined)
      checkPrivate(st, file, privateWhat, `chmod 600 ${file}`, (await daemonOwner(dir))?.uid);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

export type WriteOptions = AtomicWriteOptions;

/** Write `name` in `dir` atomically and durably (see writeFileAtomic); `dir` must exist. */
export async function writeStateFile(dir: string, name: string, data: string | Buffer, opts: WriteOptions) {
  const owner = await daemonOwner(dir);
  await writeFileAtomic(path.join(dir, name), data, owner ? { ...opts, ...owner } : opts);
}

/** Write `name` in `dir` atomically, readable and writable by its owner only (0600). */
export function writePrivateStateFile(dir: string, name: string, data: string | Buffer): Promise<void> {
  return writeStateFile(dir, name, data, { mode: PRIVATE_FILE_MODE });
}

/** `value` as indented JSON in `name` in `dir`, 0600 (secrets.json, enroll.json). */
export function writePrivateJson(dir: string, name: string, value: unknown): Promise<void> {
  return writePrivateStateFile(dir, name, `${JSON.stringify(value, null, 2)}\n`);
}

const LOCK_NAME = ".lock";
const inProcess = new Map<string, Promise<unknown>>();

/** A part of the options of the state's users (material, rotation, enrollment), which they pass on as is. */
export interface LockOptions {
  /** Give up after this long when another live process holds the lock (default 30 s). */
  lockTimeoutMs?: number;
}

/**
 * Run `fn` holding the state directory's lock (the directory must exist; see ensureStateDir): serialised within this process by a promise chain, and
 * across processes by an O_EXCL lock file holding the owner's pid. A lock file whose pid no longer exists
 * (a crashed vmmeet) is removed.
 */
export async function withStateLock<T>(
  dir: string,
  fn: () => Promise<T>,
  opts: LockOptions = {},
): Promise<T> {
  const key = path.resolve(dir);
  const previous = inProcess.get(key) ?? Promise.resolve();
  const run = previous
    .catch(() => {})
    .then(async () => {
      await acquireFileLock(key, opts.lockTimeoutMs ?? 30_000);
      try {
        return await fn();
      } finally {
        await unlink(path.join(key, LOCK_NAME)).catch(() => {});
      }
    });
  inProcess.set(key, run);
  try {
    return await run;
  } finally {
    if (inProcess.get(key) === run) inProcess.delete(key);
  }
}

async function acquireFileLock(dir: string, timeoutMs: number): Promise<void> {
  const file = path.join(dir, LOCK_NAME);
  const deadline = Date.now() + timeoutMs;
  // The lock file appears with its pid already inside (written to a temporary name, then link(2)ed), so a
  // reader never sees an empty lock and mistakes it for a stale one.
  const tmp = path.join(dir, `.lock.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  const fh = await open(tmp, "wx", PRIVATE_FILE_MODE);
  try {
    await fh.writeFile(`${process.pid}\n`);
  } finally {
    await fh.close();
  }
  try {
    for (;;) {
      try {
        await link(tmp, file);
        return;
      } catch (err) {
        if (errno(err) !== "EEXIST") throw err;
      }
      await waitForHolder(file, deadline);
    }
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

async function waitForHolder(file: string, deadline: number): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if (errno(err) === "ENOENT") return; // released meanwhile: try again
    throw err;
  }
  const holder = Number.parseInt(text.trim(), 10);
  // Our own pid cannot hold it (calls in this process are chained), so it is a leftover, as is a lock whose
  // process is gone. Two processes breaking the same stale lock at once could remove each other's fresh
  // one; vmmeet runs one daemon and an occasional CLI, so that window is accepted.
  if (!Number.isInteger(holder) || holder === process.pid || !isAlive(holder)) {
    await unlink(file).catch(() => {});
    return;
  }
  if (Date.now() > deadline) {
    throw new StateDirError(
      `${file} is held by process ${holder}; if that is not a running vmmeet, remove the file`,
    );
  }
  // Polling is the only portable way to wait for another process's lock file.
  await new Promise((resolve) => setTimeout(resolve, 50));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errno(err) === "EPERM";
  }
}

export function errno(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String(err.code) : undefined;
}
