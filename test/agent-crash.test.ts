// Crash safety of the apply engine: SIGKILL the agent (with the rcctl it is running) at random moments of
// an apply that rewrites several large files from version A to B. Afterwards each managed file must be
// entirely A or entirely B, with the mode of that version (never partial, never missing), and applying
// again must converge to B and restart jicofo - which only the pending mark can tell the agent when the
// kill came after the last file write and before the restart.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lenientAccounts } from "../packages/agent/src/reconcile/accounts.js";
import { ApplyEngine } from "../packages/agent/src/reconcile/engine.js";
import { Rcctl } from "../packages/agent/src/services/rcctl.js";
import { doubleProcesses, killDoubleProcesses, makeRcctl, writeRcScript } from "./doubles/rcctl/index.js";
import {
  CRASH_FILES,
  type CrashArgs,
  crashContent,
  crashDesired,
  type Version,
} from "./helpers/crash-apply.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const RUNS = 50;
const WORKERS = 5;
/** Every Nth recovery goes through engine.start() (finish pending, enforce the persisted state) first. */
const START_EVERY = 4;

let base: string;
let helper: string;
const roots: string[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "vmmeet-crash-"));
  // One bundle instead of `node --import tsx` per child: the same sources, started in ~0.1 s instead of
  // ~0.6 s, which is what keeps 50 runs within the time budget.
  helper = path.join(base, "crash-apply.mjs");
  await build({
    entryPoints: [path.join(HERE, "helpers/crash-apply.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    outfile: helper,
    logLevel: "error",
    banner: {
      js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    },
  });
  await writeFile(
    path.join(base, "sleeper.sh"),
    "trap 'kill $! 2>/dev/null; exit 0' TERM\ntrap '' HUP\nwhile :; do sleep 3600 & wait $!; done\n",
  );
});

afterAll(async () => {
  for (const r of roots) await killDoubleProcesses(r);
  await rm(base, { recursive: true, force: true });
});

interface Worker {
  root: string;
  stateDir: string;
  rcctl: string;
  daemon: string;
}

async function setupWorker(i: number): Promise<Worker> {
  const root = path.join(base, `w${i}`, "root");
  await mkdir(root, { recursive: true });
  roots.push(root);
  const rcctl = await makeRcctl(root);
  const daemon = `/bin/sh ${path.join(base, "sleeper.sh")}`;
  await writeRcScript(root, "jicofo", { daemon, reload: false, timeout: 5 });
  return { root, stateDir: path.join(base, `w${i}`, "state"), rcctl, daemon };
}

function engineFor(w: Worker) {
  return new ApplyEngine({
    root: w.root,
    stateDir: w.stateDir,
    services: new Rcctl({ path: w.rcctl, timeoutMs: 20_000 }),
    accounts: lenientAccounts(),
  });
}

function jicofoPids(w: Worker): number[] {
  return doubleProcesses(w.root)
    .filter((p) => p.kind === "daemon" && p.cmdline.startsWith(w.daemon))
    .map((p) => p.pid);
}

/** Which version each managed file holds entirely (content and mode), or what is wrong with it. */
async function versions(w: Worker): Promise<string[]> {
  const out: string[] = [];
  for (const f of CRASH_FILES) {
    const p = path.join(w.root, f.path);
    let data: Buffer;
    let mode: number;
    try {
      data = await readFile(p);
      mode = (await stat(p)).mode & 0o7777;
    } catch {
      out.push(`${f.path} missing`);
      continue;
    }
    const v = (["A", "B"] as const).find((x) => data.equals(crashContent(f, x)));
    if (!v) out.push(`${f.path} partial (${data.length} bytes)`);
    else if (mode !== Number.parseInt(f.mode[v], 8))
      out.push(`${f.path} is ${v} with mode ${mode.toString(8)}`);
    else out.push(v);
  }
  return out;
}

async function tempFiles(w: Worker): Promise<string[]> {
  const dirs = [...new Set(CRASH_FILES.map((f) => path.dirname(path.join(w.root, f.path))))];
  const names = await Promise.all(
    dirs.map(async (d) => (await readdir(d)).filter((n) => n.includes("vmmeet-tmp"))),
  );
  return names.flat();
}

const pendingExists = (w: Worker) =>
  stat(path.join(w.stateDir, "pending.json")).then(
    () => true,
    () => false,
  );

interface ChildRun {
  killed: boolean;
  /** Uninterrupted runs: the apply's duration, and the time between its first and last file write. */
  ms?: number;
  writesMs?: number;
}

/** When to kill: `ms` after the child says ready, or after it logs its first file write. */
interface Kill {
  after: "ready" | "first-write";
  ms: number;
}

/**
 * Runs the helper in its own process group and SIGKILLs the group at the chosen moment (the agent and
 * the rcctl it may be running die together, like on a crash; the daemons, detached by rcctl, live on).
 */
function runChild(w: Worker, version: Version, generation: number, kill: Kill | null): Promise<ChildRun> {
  const args: CrashArgs = { root: w.root, stateDir: w.stateDir, rcctl: w.rcctl, version, generation };
  const child = spawn(process.execPath, [helper, JSON.stringify(args)], {
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  let killed = false;
  let armed = false;
  const arm = () => {
    if (armed || !kill) return;
    armed = true;
    setTimeout(() => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      killed = true;
      process.kill(-child.pid!, "SIGKILL");
    }, kill.ms);
  };
  return new Promise((resolve, reject) => {
    child.stderr.on("data", (d: Buffer) => {
      err += d;
      if (kill?.after === "first-write" && err.includes('"file written"')) arm();
    });
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      if (kill?.after === "ready" && out.includes("ready")) arm();
    });
    child.once("error", reject);
    child.once("close", (code) => {
      if (killed) return resolve({ killed: true });
      const done = /\{"done":true,"ms":(\d+),"outcome":"applied"\}/.exec(out);
      if (code !== 0 || !done) return reject(new Error(`crash-apply exited ${code}: ${err}${out}`));
      const written = err
        .split("\n")
        .filter((l) => l.includes('"file written"'))
        .map((l) => (JSON.parse(l) as { time: number }).time);
      resolve({ killed: false, ms: Number(done[1]), writesMs: Math.max(...written) - Math.min(...written) });
    });
  });
}

describe("apply under SIGKILL", () => {
  // ~45 s alone on two cores; the limit leaves room for a loaded machine running the other test files.
  it(`leaves every file entirely A or B and converges afterwards (${RUNS} kills)`, {
    timeout: 180_000,
  }, async () => {
    const workers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => setupWorker(i)));
    await Promise.all(
      workers.map(async (w) =>
        expect((await engineFor(w).apply(crashDesired("A"), 1)).outcome).toBe("applied"),
      ),
    );
    // One uninterrupted run: how long an apply takes and when its file writes end bound the kill moments.
    const cal = await runChild(workers[0]!, "B", 2, null);
    expect(await versions(workers[0]!)).toEqual(CRASH_FILES.map(() => "B"));
    await engineFor(workers[0]!).apply(crashDesired("A"), 3);
    const applyMs = cal.ms!;
    const writesMs = Math.max(cal.writesMs!, 10);

    const stats = { killed: 0, finished: 0, pendingLeft: 0, mixed: 0, tempLeft: 0, viaStart: 0 };
    let started = 0;
    let stop = false;
    // allSettled, and every worker stops after the first failure: no worker may still be starting
    // daemons when afterAll kills them.
    const settled = await Promise.allSettled(
      workers
        .map(async (w, wi) => {
          let cur: Version = "A";
          let generation = 10;
          while (started < RUNS && !stop) {
            const run = started++;
            const to: Version = cur === "A" ? "B" : "A";
            generation++;
            const [pidBefore] = jicofoPids(w);
            expect(pidBefore, "jicofo runs before the apply").toBeDefined();
            // Half the kills aim at the file writes (a short phase, but the one atomicity is about), half
            // anywhere in the apply.
            const kill: Kill =
              run % 2 === 0
                ? { after: "first-write", ms: Math.random() * writesMs * 1.5 }
                : { after: "ready", ms: Math.random() * applyMs * 1.1 };
            const at = kill.ms;
            const r = await runChild(w, to, generation, kill);
            if (r.killed) stats.killed++;
            else stats.finished++;

            const after = await versions(w);
            expect(
              after.every((v) => v === "A" || v === "B"),
              `worker ${wi}, run ${run}, kill ${at.toFixed(0)} ms after ${kill.after}: ${after.join(", ")}`,
            ).toBe(true);
            if (new Set(after).size > 1) stats.mixed++;
            if (await pendingExists(w)) stats.pendingLeft++;
            if ((await tempFiles(w)).length > 0) stats.tempLeft++;

            // The agent again (a new engine: nothing in memory survives a crash).
            const e = engineFor(w);
            if (run % START_EVERY === 0) {
              stats.viaStart++;
              await e.start();
              expect((await versions(w)).every((v) => v === "A" || v === "B")).toBe(true);
            }
            const res = await e.apply(crashDesired(to), generation);
            expect(res.outcome, JSON.stringify(res)).toBe("applied");
            expect(await versions(w)).toEqual(CRASH_FILES.map(() => to));
            expect(await pendingExists(w)).toBe(false);
            expect(await tempFiles(w), "temp files a kill left are removed").toEqual([]);
            const pids = jicofoPids(w);
            expect(pids, "exactly one jicofo runs after converging").toHaveLength(1);
            // Every file jicofo is notified of differs between A and B: whenever the kill came, jicofo must
            // have been restarted since (by the killed apply, or by the recovery).
            expect(
              pids[0],
              `jicofo was not restarted after run ${run} (kill ${at.toFixed(0)} ms after ${kill.after})`,
            ).not.toBe(pidBefore);
            cur = to;
          }
        })
        .map((p) =>
          p.catch((e: unknown) => {
            stop = true;
            throw e;
          }),
        ),
    );
    const failure = settled.find((x) => x.status === "rejected");
    if (failure) throw failure.reason;
    console.log(`crash test: apply ${applyMs} ms, file writes span ${writesMs} ms; ${JSON.stringify(stats)}`);
    expect(stats.killed + stats.finished).toBe(RUNS);
    // The kills must really interrupt applies, and some must leave work pending.
    expect(stats.killed).toBeGreaterThan(RUNS * 0.6);
    expect(stats.pendingLeft).toBeGreaterThan(0);
  });
});
