// LogTailers under test (packages/agent/src/health/tailer*.test.ts): a fresh directory per test holding the
// log and the offsets' state file, tailers driven step by step, and every tailer stopped after its test.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach } from "vitest";
import type { OffsetStore } from "../../packages/agent/src/health/offsetStore.js";
import { type LineInfo, LogTailer, type LogTailerOptions } from "../../packages/agent/src/health/tailer.js";

/** The current test's directory, its log file and state file (set before each test). */
export let dir = "";
export let log = "";
export let stateFile = "";
const tailers: LogTailer[] = [];

/** Registers the hooks that give each test of the calling file its own directory. */
export function useTailerFiles(): void {
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "vmmeet-tail-"));
    log = path.join(dir, "jicofo");
    stateFile = path.join(dir, "state", "offsets.json");
  });
  afterEach(async () => {
    await Promise.all(tailers.splice(0).map((t) => t.stop()));
    rmSync(dir, { recursive: true, force: true });
  });
}

/** Stops the tailer after the test. */
export function track(tailer: LogTailer): LogTailer {
  tailers.push(tailer);
  return tailer;
}

export interface Harness {
  tailer: LogTailer;
  lines: string[];
  infos: LineInfo[];
  errors: unknown[];
}

/** A tailer of `log` from its start, driven by explicit poll() calls (no timer): each step is deterministic. */
export function manual(store: OffsetStore, options: Partial<LogTailerOptions> = {}): Harness {
  const h: Harness = { tailer: undefined as unknown as LogTailer, lines: [], infos: [], errors: [] };
  h.tailer = track(
    new LogTailer({
      path: log,
      store,
      startAt: "start",
      onLine: (l, i) => {
        h.lines.push(l);
        h.infos.push(i);
      },
      onError: (e) => h.errors.push(e),
      ...options,
    }),
  );
  return h;
}

export const lines = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
export const text = (ls: string[]) => ls.map((l) => `${l}\n`).join("");
