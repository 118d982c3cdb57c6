// What a demo leaves behind, found and removed: each demo runs in its own sandbox directory,
// TMPDIR/vmmeet-demo-XXXXXX, holding demo.pid. Every process of a demo (coordinator, agents, rcctl's
// simulated services and their syslog loggers, which run in sessions of their own) names its sandbox in its
// command line or its environment, so a scan of /proc finds them all, even after the demo itself was killed
// with SIGKILL. Linux only, like the demo.
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";

export const SANDBOX_PREFIX = "vmmeet-demo-";
export const PID_FILE = "demo.pid";

/** Pids of the processes whose command line or environment mentions `dir` (not this process). */
export function processesOf(dir: string): number[] {
  const needle = Buffer.from(dir);
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${e}/cmdline`);
      if (cmdline.length === 0) continue; // a zombie or a kernel thread
      if (cmdline.includes(needle) || readFileSync(`/proc/${e}/environ`).includes(needle))
        out.push(Number(e));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** SIGKILL every process of the sandbox until none is left (5 s at most), then remove the directory. */
export async function sweep(dir: string): Promise<number> {
  let killed = 0;
  const deadline = Date.now() + 5000;
  for (;;) {
    const pids = processesOf(dir);
    if (pids.length === 0) break;
    if (Date.now() > deadline) throw new Error(`processes of ${dir} survived SIGKILL: ${pids.join(" ")}`);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
        killed += 1;
      } catch {
        // already gone
      }
    }
    await delay(50);
  }
  await rm(dir, { recursive: true, force: true });
  return killed;
}

/** Whether the demo that made a sandbox still runs (its pid alive, running this demo). */
async function demoAlive(dir: string): Promise<boolean> {
  const pid = Number((await readFile(path.join(dir, PID_FILE), "utf8").catch(() => "")).trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
  return cmdline.includes("demo/main.ts");
}

/** Sweeps every sandbox whose demo is gone; returns the directories removed and the processes killed. */
export async function sweepLeftovers(): Promise<{ dir: string; killed: number }[]> {
  const tmp = os.tmpdir();
  const swept: { dir: string; killed: number }[] = [];
  for (const name of await readdir(tmp)) {
    if (!name.startsWith(SANDBOX_PREFIX)) continue;
    const dir = path.join(tmp, name);
    if (await demoAlive(dir)) continue;
    swept.push({ dir, killed: await sweep(dir) });
  }
  return swept;
}
