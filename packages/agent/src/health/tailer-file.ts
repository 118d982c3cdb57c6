// The log tailer's file handling (tailer.ts follows the log): opening a log only when it is a regular
// file reached without a symbolic link, and the hash of its leading bytes that recognizes it after a
// rotation or a restart.
import { constants, type Stats } from "node:fs";
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

export async function hashPrefix(fh: FileHandle, len: number): Promise<string> {
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return sha256(buf.subarray(0, got));
}

export interface Current {
  fh: FileHandle;
  ino: number;
  /** Next byte to read. */
  pos: number;
  fpLen: number;
  fpHash: string;
  /** Size at the last poll (the fingerprint is re-checked when it changes). */
  lastSize: number;
}
