// Follows one log file (LogTailer): what a poll does (rotation and copy-truncate, reading, offsets committed
// to the store). When it polls (the interval's timer, woken by writes) is tailer-schedule.ts; the line work
// (cutting, the budget, skipping, decoding, the hand-off to onLine) tailer-lines.ts; opening and recognizing
// a file, tailer-file.ts.
import { lstatSync, readSync } from "node:fs";
import { type FileHandle, readdir } from "node:fs/promises";
import path from "node:path";
import { setImmediate } from "node:timers/promises";
import { type Clock, sha256, systemClock } from "@vmmeet/node";
import type { OffsetStore, TailState } from "./offsetStore.js";
import {
  type Current,
  hashPrefix,
  isEnoent,
  NotARegularFileError,
  openLog,
  readPrefix,
  samePrefix,
} from "./tailer-file.js";
import { EMPTY, LineCutter, type LineInfo, type SkipReport } from "./tailer-lines.js";
import { PollSchedule } from "./tailer-schedule.js";

export { NotARegularFileError } from "./tailer-file.js";
export type { LineInfo, SkipReport } from "./tailer-lines.js";

export interface LogTailerOptions {
  /** The log file, followed by name (e.g. /var/log/daemon, /var/log/jicofo). */
  path: string;
  store: OffsetStore;
  /** Receives each complete line, decoded (invalid UTF-8 and control characters become U+FFFD). */
  onLine: (line: string, info: LineInfo) => void;
  /** I/O errors (other than a missing file) and exceptions thrown by onLine. */
  onError?: (err: unknown) => void;
  pollIntervalMs?: number;
  clock?: Clock;
  /** Default 64 KiB. */
  maxLineBytes?: number;
  /** Leading bytes hashed to recognize the file. Default 1024. */
  fingerprintBytes?: number;
  /**
   * Where to begin in a file that exists at start() and that the store knows nothing about:
   * "end" (default: do not replay old history as fresh health) or "start". Files that appear
   * later (created, or rotated in) are always read from the start.
   */
  startAt?: "start" | "end";
  /** Bytes read per poll at most; a backlog continues on the next tick. Default 8 MiB. */
  maxBytesPerPoll?: number;
  /**
   * Polls to keep draining a renamed file after its name points at a new one, while it still
   * grows (syslogd writes to the old file until newsyslog's SIGHUP). Default 5.
   */
  rotationGracePolls?: number;
  /**
   * Also poll as soon as the file is written (fs.watch: inotify on Linux, kqueue on OpenBSD), at most
   * once per `wakeGapMs`, so that a line is read within milliseconds rather than up to a poll interval
   * later (a rollout's health gate waits on such a line). The interval's polls go on regardless: they
   * are what notices rotations and what works where fs.watch does not. Default false.
   */
  wakeOnWrite?: boolean;
  /**
   * Default 100 ms: a busy log is read at most 10 times a second (plus the interval's polls), not once per
   * write, and a rollout's gate still sees jicofo's brewery lines soon (cost and gain: bench/README.md,
   * "Log tailer").
   */
  wakeGapMs?: number;
  /**
   * Lines delivered per second at most (default 5,000). A component that floods its log (20,000 lines/s
   * for a minute, say: a reconnect loop, a debug level left on) must not take the agent's CPU with it: past
   * the budget, the second's remaining lines are read (to find where they end) but neither decoded nor
   * classified, and counted in a SkipReport. Memory never depends on the flood: one 64 KiB read buffer and
   * at most maxLineBytes of a partial line.
   */
  maxLinesPerSecond?: number;
  /**
   * CPU milliseconds per second at most spent delivering lines (in onLine: decoding, classifying, what the
   * signals set off), default 100: a tenth of a core. Lines differ in cost (one that carries a signal costs
   * more than one that matches nothing), so a line count alone does not bound the CPU; past this, the
   * second's remaining lines are skipped and counted as over the budget. CPU time, not wall time: time
   * spent waiting for a core on a loaded machine costs the agent nothing (tailer-lines.ts overBudget).
   */
  maxBusyMsPerSecond?: number;
  /**
   * The CPU time, in ms, that maxBusyMsPerSecond counts (default: the thread's where Node has
   * process.threadCpuUsage, else the process's, user + system). Tests pass a clock of their own.
   */
  cpuMs?: () => number;
  /**
   * Called with what was skipped (over the budget, or the rest of an over-long line): after the poll that
   * first skipped, then at most once per skipReportMs for each kind of skipping (over the budget; the rest of an
   * over-long line) while it goes on: two reports a minute at most. Default: nothing.
   */
  onSkipped?: (report: SkipReport) => void;
  /** Default 60 s. */
  skipReportMs?: number;
}

const CHUNK = 64 * 1024;
/** Bytes a poll reads in one go before it lets the event loop run (a multiple of CHUNK). */
const YIELD_BYTES = 16 * CHUNK;

/**
 * Follows a log file by name, as newsyslog(8) rotation requires (docs/openbsd-rc.md §4): keeps
 * the fd open and polls stat(path); when the name points at another inode the old fd is drained
 * to EOF first (lines written between the rename and syslogd's reopen land there), then the new
 * file is read from 0. A size below the offset means copy-truncate: the copy (a sibling such as
 * log.0 with the same leading bytes) is read from the offset first. Offsets (inode, offset and a
 * hash of the first bytes) are committed to the store only up to the last complete line delivered,
 * so after a stop and start no line is read twice or missed, including a rotation that happened
 * while the agent was down (the renamed file is found by its fingerprint). After a crash, lines read
 * since the last save (at most one poll interval of them, see #poll) are read again.
 */
export class LogTailer {
  private readonly file: string;
  private readonly store: OffsetStore;
  private readonly onError: (err: unknown) => void;
  private readonly pollIntervalMs: number;
  private readonly clock: Clock;
  private readonly fingerprintBytes: number;
  private readonly startAt: "start" | "end";
  private readonly maxBytesPerPoll: number;
  private readonly rotationGracePolls: number;

  private cur: Current | undefined;
  /** The line work: the partial line, skipping, the budget, onLine (tailer-lines.ts). */
  private readonly lines: LineCutter;
  /** The store's state has been consulted (only the first open resumes from it). */
  private resumed = false;
  /** Polls since the name was seen pointing at another file (undefined: no rotation seen). */
  private rotatedFor: number | undefined;
  /**
   * Where a drained renamed file ended, committed while no current file exists (so a restart
   * before the new file appears does not drain it again).
   */
  private orphan: TailState | undefined;
  private lastSaved = "";
  private inFlight: Promise<void> | undefined;
  private started = false;
  private stopping: Promise<void> | undefined;
  private backlog = false;
  /** When it polls: the interval's timer, brought forward by writes (tailer-schedule.ts). */
  private readonly schedule: PollSchedule;
  private lastCommitAt = Number.NEGATIVE_INFINITY;
  /** The one read buffer, reused by every read (the line cutter copies what it keeps). */
  private readBuffer: Buffer | undefined;
  /** The last NotARegularFileError reported: reported once, not at every poll. */
  private refused: string | undefined;

  constructor(options: LogTailerOptions) {
    this.file = options.path;
    this.store = options.store;
    this.onError = options.onError ?? (() => undefined);
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    this.fingerprintBytes = options.fingerprintBytes ?? 1024;
    this.startAt = options.startAt ?? "end";
    this.maxBytesPerPoll = options.maxBytesPerPoll ?? 8 * 1024 * 1024;
    this.rotationGracePolls = options.rotationGracePolls ?? 5;
    this.schedule = new PollSchedule({
      file: this.file,
      clock: this.clock,
      pollIntervalMs: this.pollIntervalMs,
      wakeOnWrite: options.wakeOnWrite ?? false,
      wakeGapMs: options.wakeGapMs ?? 100,
      poll: (woken) => this.#poll(!woken || this.clock.now() - this.lastCommitAt >= this.pollIntervalMs),
      linesRead: () => this.lines.linesRead,
      backlog: () => this.backlog,
      currentIno: () => this.cur?.ino,
    });
    this.lines = new LineCutter({
      onLine: options.onLine,
      onError: this.onError,
      clock: this.clock,
      maxLineBytes: options.maxLineBytes ?? 64 * 1024,
      maxLinesPerSecond: options.maxLinesPerSecond ?? 5000,
      maxBusyMsPerSecond: options.maxBusyMsPerSecond ?? 100,
      onSkipped: options.onSkipped,
      skipReportMs: options.skipReportMs ?? 60_000,
      cpuMs: options.cpuMs,
    });
  }

  /** Totals since start (status and tests). */
  get totals(): LineCutter["totals"] {
    return this.lines.totals;
  }

  /** Starts polling (the first poll runs at once). Calling it again does nothing. */
  start(): void {
    if (this.started || this.stopping !== undefined) return;
    this.started = true;
    this.schedule.start();
  }

  /** Stops polling, commits the offset and closes the file. Idempotent; resolves when done. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.schedule.stop();
      await this.inFlight;
      this.lines.reportSkipped(true);
      try {
        await this.commit();
      } catch (err) {
        this.onError(err);
      }
      const fh = this.cur?.fh;
      this.cur = undefined;
      await fh?.close().catch(() => undefined);
    })();
    return this.stopping;
  }

  /** One poll: what start()'s timer runs. Concurrent calls share the poll in flight. */
  poll(): Promise<void> {
    return this.#poll(true);
  }

  /**
   * commit: save the offset after reading. Polls that writes brought forward save it at most once per
   * poll interval (a busy log would otherwise cost an fsync'd state write every wakeGapMs); so after a
   * crash (not a stop) up to one poll interval of lines can be read again.
   */
  #poll(commit: boolean): Promise<void> {
    if (this.stopping !== undefined && this.inFlight === undefined) return Promise.resolve();
    this.inFlight ??= this.pollOnce(commit)
      .then(
        () => {
          this.refused = undefined;
        },
        (err) => {
          if (err instanceof NotARegularFileError) {
            if (this.refused === err.message) return;
            this.refused = err.message;
          }
          this.onError(err);
        },
      )
      .finally(() => {
        this.lines.reportSkipped(false);
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private async pollOnce(commit = true): Promise<void> {
    this.backlog = false;
    if (this.cur === undefined) {
      await this.openFirst();
      if (this.cur === undefined) return;
    }
    const cur = this.cur;
    // lstat: a link put where the log was is another file (the tailer moves to it, and refuses it).
    // Synchronous, as the reads are (tailer-file.ts readPrefix); undefined: no such file.
    const st = lstatSync(this.file, { throwIfNoEntry: false });
    if (st !== undefined && st.ino === cur.ino) {
      // Check identity before reading at the offset: after a truncate or an in-place rewrite the
      // bytes at the offset belong to other lines.
      this.rotatedFor = undefined;
      await this.checkSameFile(cur, st.size);
      await this.readAvailable(this.cur as Current);
    } else {
      // Renamed away (st undefined: not recreated yet) or replaced: the old fd still receives the
      // writes until syslogd reopens, so drain it, and switch once it is quiet.
      const read = await this.readAvailable(cur);
      if (st !== undefined && !this.backlog) {
        this.rotatedFor = this.rotatedFor === undefined ? 0 : this.rotatedFor + 1;
        if (this.rotatedFor > 0 && (read === 0 || this.rotatedFor >= this.rotationGracePolls)) {
          await this.readAvailable(cur, Number.POSITIVE_INFINITY);
          this.lines.flushPartial(false);
          await cur.fh.close().catch(() => undefined);
          this.cur = undefined;
          this.rotatedFor = undefined;
          await this.openFresh();
          if (this.cur !== undefined) await this.readAvailable(this.cur);
        }
      }
    }
    if (commit) {
      this.lastCommitAt = this.clock.now();
      await this.commit();
    }
  }

  /** First open: resume from the store, or begin per startAt. */
  private async openFirst(): Promise<void> {
    const first = !this.resumed;
    const state = first ? await this.store.load(this.file) : undefined;
    this.resumed = true;
    let fh: FileHandle;
    try {
      fh = await openLog(this.file);
    } catch (err) {
      if (!isEnoent(err)) throw err;
      // Renamed while we were down and not recreated yet: drain the renamed file if it is there.
      if (state !== undefined) await this.drainSibling(state, undefined);
      return;
    }
    const { size, ino } = await fh.stat();
    if (state !== undefined) {
      const prefix =
        state.ino === ino && size >= state.offset && Math.min(state.fpLen, size) === state.fpLen
          ? readPrefix(fh, state.fpLen)
          : undefined;
      if (prefix !== undefined && sha256(prefix) === state.fpHash) {
        const { fpLen, fpHash } = state;
        this.cur = { fh, ino, pos: state.offset, fpLen, fpHash, fpBytes: prefix, lastSize: -1 };
        this.schedule.watchCurrent();
        this.lines.skipping = state.skipping;
        this.extendFingerprint(this.cur, size);
        return;
      }
      // Rotated (or truncated) while we were down: finish the old file, then this one from 0.
      await this.drainSibling(state, ino);
      await this.adopt(fh, ino, 0, size);
      return;
    }
    if (!(first && this.startAt === "end") || size === 0) {
      await this.adopt(fh, ino, 0, size);
      return;
    }
    await this.adopt(fh, ino, size, size);
    // Starting at the end inside a line still being written: skip its rest, never emit a fragment.
    const last = Buffer.alloc(1);
    await fh.read(last, 0, 1, size - 1);
    if (last[0] !== 10) this.lines.skipping = true;
  }

  /** A file that appeared or was rotated in: from its start. */
  private async openFresh(): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await openLog(this.file);
    } catch (err) {
      if (isEnoent(err)) return;
      throw err;
    }
    const s = await fh.stat();
    await this.adopt(fh, s.ino, 0, s.size);
  }

  private async adopt(fh: FileHandle, ino: number, pos: number, size: number): Promise<void> {
    this.orphan = undefined;
    this.lines.reset();
    const fpLen = Math.min(size, this.fingerprintBytes);
    const fpBytes = readPrefix(fh, fpLen);
    this.cur = { fh, ino, pos, fpLen, fpHash: sha256(fpBytes), fpBytes, lastSize: size };
    this.schedule.watchCurrent();
  }

  /** Same inode: detect copy-truncate and in-place rewrites, keep the fingerprint growing. */
  private async checkSameFile(cur: Current, size: number): Promise<void> {
    if (size === cur.lastSize) return;
    cur.lastSize = size;
    const truncated = size < cur.pos;
    const rewritten = !truncated && cur.fpLen > 0 && !samePrefix(cur);
    if (truncated || rewritten) {
      // copy-truncate: the lines between our offset and the truncation are in the copy.
      const copied = await this.drainSibling(
        { ino: -1, offset: cur.pos, fpLen: cur.fpLen, fpHash: cur.fpHash, skipping: this.lines.skipping },
        cur.ino,
        this.lines.pending,
      );
      if (!copied) this.lines.flushPartial(true);
      await this.adopt(cur.fh, cur.ino, 0, size);
      await this.readAvailable(this.cur as Current);
      return;
    }
    this.extendFingerprint(cur, size);
  }

  private extendFingerprint(cur: Current, size: number): void {
    if (cur.fpLen >= this.fingerprintBytes || size <= cur.fpLen) return;
    const len = Math.min(size, this.fingerprintBytes);
    // Only extend while the known prefix is unchanged; otherwise checkSameFile handles it.
    if (cur.fpLen > 0 && !samePrefix(cur)) return;
    cur.fpBytes = readPrefix(cur.fh, len);
    cur.fpHash = sha256(cur.fpBytes);
    cur.fpLen = len;
  }

  /**
   * Finds the file that continues `state` under another name (newsyslog renamed it to log.0, or a
   * copy-truncate copied it there): a sibling named like the log whose leading bytes hash to the
   * state's fingerprint and that is at least offset long. Reads it from the offset to its end.
   * Compressed archives (log.0.gz) are not read.
   */
  private async drainSibling(
    state: TailState,
    excludeIno: number | undefined,
    pending: Buffer = EMPTY,
  ): Promise<boolean> {
    if (state.fpLen === 0 && state.ino < 0) return false;
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return false;
    }
    const candidates = names
      .filter((n) => n.startsWith(`${base}.`) && !/\.(?:gz|bz2|xz|zst)$/.test(n))
      .sort();
    for (const name of candidates) {
      const p = path.join(dir, name);
      let fh: FileHandle | undefined;
      try {
        fh = await openLog(p);
        const s = await fh.stat();
        if (s.ino === excludeIno || s.size < state.offset) continue;
        // Without a fingerprint (nothing was read yet) only the inode can tell.
        const match =
          state.fpLen > 0
            ? s.size >= state.fpLen && hashPrefix(fh, state.fpLen) === state.fpHash
            : s.ino === state.ino;
        if (!match) continue;
        this.lines.reset(pending, state.skipping);
        const tmp: Current = {
          fh,
          ino: s.ino,
          pos: state.offset,
          fpLen: 0,
          fpHash: "",
          fpBytes: EMPTY,
          lastSize: s.size,
        };
        await this.readAvailable(tmp, Number.POSITIVE_INFINITY);
        this.lines.flushPartial(false);
        const fpLen = Math.min(s.size, this.fingerprintBytes);
        this.orphan = {
          ino: s.ino,
          offset: tmp.pos,
          fpLen,
          fpHash: hashPrefix(fh, fpLen),
          skipping: false,
        };
        return true;
      } catch (err) {
        if (!isEnoent(err) && !(err instanceof NotARegularFileError)) this.onError(err);
      } finally {
        await fh?.close().catch(() => undefined);
      }
    }
    return false;
  }

  /**
   * Reads from cur.pos to EOF (or the poll budget) and delivers complete lines. Synchronous reads into one
   * buffer (tailer-file.ts readPrefix says why); a regular file's short read is its end for now, and what
   * is written after it is the next poll's. A long read (a backlog, a rotated file drained to its end)
   * lets the event loop run after each YIELD_BYTES.
   */
  private async readAvailable(cur: Current, budget = this.maxBytesPerPoll): Promise<number> {
    let total = 0;
    this.readBuffer ??= Buffer.allocUnsafe(CHUNK);
    const buf = this.readBuffer;
    while (total < budget) {
      const want = Math.min(CHUNK, budget - total);
      const bytesRead = readSync(cur.fh.fd, buf, 0, want, cur.pos);
      cur.pos += bytesRead;
      total += bytesRead;
      if (bytesRead > 0) this.lines.chunk(buf.subarray(0, bytesRead));
      if (bytesRead < want) return total;
      if (total % YIELD_BYTES === 0) await setImmediate();
    }
    this.backlog = true;
    return total;
  }

  private async commit(): Promise<void> {
    const cur = this.cur;
    const state: TailState | undefined =
      cur === undefined
        ? this.orphan
        : {
            ino: cur.ino,
            offset: cur.pos - this.lines.pending.length,
            fpLen: cur.fpLen,
            fpHash: cur.fpHash,
            skipping: this.lines.skipping,
          };
    if (state === undefined) return;
    const key = JSON.stringify(state);
    if (key === this.lastSaved) return;
    await this.store.save(this.file, state);
    this.lastSaved = key;
  }
}
