// Every managed absolute path lives under a root ("/" on the VM, a temp dir in tests). A path from the
// network must not leave that root: not lexically ("..", already refused by pathRefusal), and not through a
// symbolic link in its parent chain (/etc/jicofo -> /etc would make /etc/jicofo/x write /etc/x, and a link
// to / from a test root would write the real system). The agent runs as root, so this is the line between
// "configure jicofo" and "write /etc/master.passwd".
import { chmodSync, lstatSync, mkdirSync, realpathSync, type Stats } from "node:fs";
import path from "node:path";
import { isNotFound } from "../state/store.js";

/** The path is not one the agent may write (outside the root, through a link, not a regular file). */
export class PathRefusedError extends Error {
  override readonly name = "PathRefusedError";
  constructor(
    readonly managedPath: string,
    readonly reason: string,
  ) {
    super(`${managedPath}: ${reason}`);
  }
}

function within(root: string, p: string): boolean {
  return p === root || p.startsWith(root.endsWith("/") ? root : `${root}/`);
}

export interface Resolved {
  /** Real (symlink-free) path of the parent directory; null when some of it does not exist yet. */
  parent: string | null;
  /** The file's path below the real parent, or the lexical path under root when the parent is missing. */
  target: string;
}

/**
 * Resolves an absolute managed path under `root`. With `create`, missing parent directories are made 0755
 * one by one (each new component is a real directory, so it cannot escape). Every existing component is
 * lstat'ed; a symbolic link is followed only when its real target stays under the real root. The final
 * parent is realpath'ed and checked again, and the file itself must not be a link or a non-regular file.
 *
 * The file system calls are synchronous: a handful of lstat(2) on a local disk take microseconds, while
 * each asynchronous one is a round trip through libuv's thread pool. Every managed file is resolved on each
 * apply, drift check and status, and these round trips were the largest part of an unchanged apply's CPU
 * time after rcctl's process starts (measured with --cpu-prof under bench/push.mjs).
 */
export async function resolveUnderRoot(root: string, managed: string, create: boolean): Promise<Resolved> {
  if (!managed.startsWith("/")) throw new PathRefusedError(managed, "not an absolute path");
  const parts = managed.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === ".." || p === ".")) throw new PathRefusedError(managed, "contains '.' or '..'");
  const base = parts.pop();
  if (base === undefined) throw new PathRefusedError(managed, "is the root directory");
  const realRoot = realpathSync.native(root);
  let cur = realRoot;
  for (const part of parts) {
    const next = path.join(cur, part);
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      if (!create) return { parent: null, target: path.join(realRoot, ...parts, base) };
      mkdirSync(next, { mode: 0o755 });
      chmodSync(next, 0o755); // mkdir's mode is filtered by the umask
      cur = next;
      continue;
    }
    if (st.isSymbolicLink()) {
      let real: string | null = null;
      try {
        real = realpathSync.native(next);
      } catch {
        // dangling (or a loop): refused below
      }
      if (real === null)
        throw new PathRefusedError(managed, `${linkName(realRoot, next)} is a dangling link`);
      if (!within(realRoot, real)) {
        throw new PathRefusedError(managed, `${linkName(realRoot, next)} is a link leading outside the root`);
      }
      cur = real;
      continue;
    }
    if (!st.isDirectory())
      throw new PathRefusedError(managed, `${linkName(realRoot, next)} is not a directory`);
    cur = next;
  }
  const realParent = realpathSync.native(cur);
  if (!within(realRoot, realParent))
    throw new PathRefusedError(managed, "parent directory is outside the root");
  const target = path.join(realParent, base);
  try {
    const st = lstatSync(target);
    if (st.isSymbolicLink()) throw new PathRefusedError(managed, "is a symbolic link");
    if (!st.isFile()) throw new PathRefusedError(managed, "exists and is not a regular file");
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  return { parent: realParent, target };
}

function linkName(realRoot: string, p: string): string {
  return `/${path.relative(realRoot, p)}`;
}
