// A private mount namespace for a test (root only: unshare -m), to give a sandboxed VM or the coordinator
// a small file system of their own (a tmpfs of a few KiB as /etc/jicofo or as the state directory) without
// touching the machine's mounts. A holder process (`unshare --mount --propagation private sleep`) keeps the
// namespace alive; programs run inside it through nsenter(1), and the test reads and writes its files from
// outside through /proc/HOLDER/root, which resolves paths in the holder's mounts.
import { execFile } from "node:child_process";
import { readlinkSync } from "node:fs";
import { promisify } from "node:util";
import { type CapturedChild, type Cleanups, type SpawnOptions, spawnCaptured } from "./processes.js";
import { waitFor } from "./wait.js";

const run = promisify(execFile);

export interface MountNamespace {
  pid: number;
  /** The path, as seen from outside, of `p` inside the namespace. */
  view(p: string): string;
  /** Mounts a tmpfs of `size` (e.g. "64k") on `dir` (which must exist), inside the namespace only. */
  tmpfs(dir: string, size: string, mode?: string): Promise<void>;
  /** `node ARGS` inside the namespace, output captured. */
  spawnNode(args: string[], opts?: SpawnOptions): CapturedChild;
}

export async function mountNamespace(cleanups: Cleanups): Promise<MountNamespace> {
  const holder = spawnCaptured("unshare", ["--mount", "--propagation", "private", "sleep", "100000"], {
    cleanups,
  });
  const pid = holder.pid!;
  const own = readlinkSync("/proc/self/ns/mnt");
  await waitFor(
    () => {
      if (holder.exited()) throw new Error(`unshare -m failed (root only): ${holder.output()}`);
      try {
        return readlinkSync(`/proc/${pid}/ns/mnt`) !== own;
      } catch {
        return false;
      }
    },
    { what: "the mount namespace" },
  );
  const enter = ["--target", String(pid), "--mount", "--"];
  return {
    pid,
    view: (p) => `/proc/${pid}/root${p}`,
    tmpfs: async (dir, size, mode = "0755") => {
      await run("nsenter", [
        ...enter,
        "mount",
        "-t",
        "tmpfs",
        "-o",
        `size=${size},mode=${mode}`,
        "tmpfs",
        dir,
      ]);
    },
    // nsenter starts the program in the namespace's root directory unless told otherwise (--wd).
    spawnNode: (args, opts = {}) =>
      spawnCaptured(
        "nsenter",
        [...(opts.cwd ? [`--wd=${opts.cwd}`] : []), ...enter, process.execPath, ...args],
        opts,
      ),
  };
}
