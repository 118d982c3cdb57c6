// The log tailer's file handling (tailer.ts follows the log): opening a log only when it is a regular
// file reached without a symbolic link, and the hash of its leading bytes that recognizes it after a
// rotation or a restart.
import { constants, readSync, type Stats } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { sha256 } from "@vmmeet/node";

export function isEnoent(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === "ENOENT";
}

/**
 * A log is read only when it is a regular file reached without following a link in its last component: a
 * log path replaced by a symlink (to /etc/master.passwd, say) is not read, nor is a FIFO waited on
 * (O_NONBLOCK: open(2) of a FIFO without a writer would block a thread-pool thread for good).
 */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

export class NotARegularFileError extends Error {
  constructor(
    readonly file: string,
    readonly kind: string,
  ) {
    super(`${file} is ${kind}, not a regular file: not read`);
  }
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return "a directory";
  if (st.isFIFO()) return "a FIFO";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}

/** Opens a log for reading, or throws NotARegularFileError (ENOENT passes through). */
export async function openLog(file: string): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(file, OPEN_FLAGS);
  } catch (err) {
    // O_NOFOLLOW on a symbolic link fails with ELOOP (Linux, OpenBSD's open(2)); EMLINK on some BSDs.
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === "ELOOP" || code === "EMLINK") throw new NotARegularFileError(file, "a symbolic link");
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close().catch(() => undefined);
    throw new NotARegularFileError(file, fileKind(st));
  }
  return fh;
}

/**
 * The first `len` bytes of the file (fewer if it is shorter). Read with a synchronous call, as are the
 * polls' reads (tailer.ts readAvailable): a log is a local regular file (openLog), and a thread-pool round
 * trip costs more than the read itself.
 */
export function readPrefix(fh: FileHandle, len: number): Buffer {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const bytesRead = readSync(fh.fd, buf, got, len - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/** sha256 (hex) of the first `len` bytes: the fingerprint the offset store keeps. */
export function hashPrefix(fh: FileHandle, len: number): string {
  return sha256(readPrefix(fh, len));
}

export interface Current {
  fh: FileHandle;
  ino: number;
  /** Next byte to read. */
  pos: number;
  fpLen: number;
  fpHash: string;
  /** The bytes fpHash is the hash of: each poll compares them, not their hash. */
  fpBytes: Buffer;
  /** Size at the last poll (the fingerprint is re-checked when it changes). */
  lastSize: number;
}

/** The file still begins with the bytes its fingerprint was taken of. */
export function samePrefix(cur: Current): boolean {
  return readPrefix(cur.fh, cur.fpLen).equals(cur.fpBytes);
}
