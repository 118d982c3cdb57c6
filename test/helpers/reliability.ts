// The reliability tests (test/reliability-*.test.ts) run at small counts in CI; `npm run reliability`
// (reliability/run.mjs) runs the same tests at full counts and collects the figures each one records here.
//
//   VMMEET_RELIABILITY=full          the counts instead of CI's
//   VMMEET_RELIABILITY_OUT=FILE      where recordFigure appends one JSON line per figure (unset: nowhere)
import { appendFile } from "node:fs/promises";
import v8 from "node:v8";
import vm from "node:vm";

export const FULL = process.env.VMMEET_RELIABILITY === "full";

/** CI's count, or the full run's. */
export function scale(ci: number, full: number): number {
  return FULL ? full : ci;
}

/** One row of the reliability table: what was done, how often, what was lost, how long until healthy. */
export interface ReliabilityFigure {
  fault: string;
  /** What `count` counts ("reconnect attempts", "frames", "lines"...). */
  what: string;
  count: number;
  /** Items lost (a file half-written, an event neither delivered nor counted as dropped...). 0 is the goal. */
  lost: number;
  /** From the end of the fault until healthy again (real milliseconds), when the fault has an end. */
  timeToHealthyMs?: number;
  cpuPercentOfCore?: number;
  /** Peak resident memory, or growth of it, in MB (say which in `details`). */
  memoryMB?: number;
  details?: Record<string, unknown>;
}

export async function recordFigure(f: ReliabilityFigure): Promise<void> {
  const out = process.env.VMMEET_RELIABILITY_OUT;
  if (!out) return;
  await appendFile(out, `${JSON.stringify({ ...f, scale: FULL ? "full" : "ci" })}\n`);
}

let gcFn: (() => void) | undefined;
/** The heap in use after a full garbage collection (memory that is really held, not garbage not yet collected). */
export function heapAfterGc(): number {
  if (gcFn === undefined) {
    v8.setFlagsFromString("--expose-gc");
    gcFn = vm.runInNewContext("gc") as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}
