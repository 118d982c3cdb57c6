// The log tailer's line work (tailer.ts reads the bytes): cutting the read chunks into lines, the
// per-second budget that skips a flood's lines over it, over-long lines cut at maxLineBytes, decoding,
// and handing each delivered line to onLine (the classifier's side), with the skips counted and reported.
import type { Clock } from "@vmmeet/node";

export interface LineInfo {
  /** The line was longer than maxLineBytes and was cut there (the rest is dropped). */
  readonly truncated: boolean;
}

/** The two LineInfos there are, shared rather than made for each line. */
const WHOLE: LineInfo = Object.freeze({ truncated: false });
const CUT: LineInfo = Object.freeze({ truncated: true });

/** What a tailer read but did not deliver since its last report (LogTailerOptions.onSkipped). */
export interface SkipReport {
  /** Complete lines not delivered because the second's budget (maxLinesPerSecond) was spent. */
  lines: number;
  /** Lines longer than maxLineBytes: their first maxLineBytes were delivered, the rest not. */
  cut: number;
  /** Bytes read and not delivered (skipped lines and the rest of cut ones). */
  bytes: number;
  /** Lines delivered over the same time (so a report says "N of M lines"). */
  delivered: number;
  /** When the first of them was read (the tailer's clock). */
  since: number;
}

export interface LineCutterOptions {
  onLine: (line: string, info: LineInfo) => void;
  onError: (err: unknown) => void;
  clock: Clock;
  maxLineBytes: number;
  maxLinesPerSecond: number;
  maxBusyMsPerSecond: number;
  onSkipped: ((r: SkipReport) => void) | undefined;
  skipReportMs: number;
  /** CPU time in ms (default: cpuTimeMs). */
  cpuMs?: (() => number) | undefined;
}

type CpuUsage = () => { user: number; system: number };
/**
 * The main thread's CPU time where Node has process.threadCpuUsage (Node 23.9 and later), else the whole
 * process's: then the budget also pays for V8's collector and compiler threads, which run beside the lines
 * and can spend it on a loaded machine while the lines themselves cost little.
 */
const cpuUsage: CpuUsage =
  (process as unknown as { threadCpuUsage?: CpuUsage }).threadCpuUsage?.bind(process) ??
  process.cpuUsage.bind(process);

export function cpuTimeMs(): number {
  const u = cpuUsage();
  return (u.user + u.system) / 1000;
}

export const EMPTY: Buffer = Buffer.alloc(0);
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/g;
/**
 * bytes[start, end) as a string: UTF-8 with U+FFFD for each invalid sequence, without a trailing CR or a
 * leading byte-order mark (as a TextDecoder's decode() of the line), control characters as U+FFFD. Decoded
 * in place in the read buffer, without a Buffer view of the line.
 */
function decodeLine(bytes: Buffer, start: number, end: number): string {
  if (end > start && bytes[end - 1] === 13) end--;
  if (end - start >= 3 && bytes[start] === 0xef && bytes[start + 1] === 0xbb && bytes[start + 2] === 0xbf)
    start += 3;
  return bytes.toString("utf8", start, end).replace(CONTROL, "\uFFFD");
}

/**
 * Cuts what the tailer reads into lines and delivers them within the budget. Its state between two reads
 * is the partial last line (`pending`) and whether the rest of the current line is being skipped
 * (`skipping`): the tailer commits its offset before the partial line, with `skipping`.
 */
export class LineCutter {
  /** Bytes of the partial last line (not yet delivered, not committed). */
  pending: Buffer = EMPTY;
  skipping = false;
  /** Lines delivered so far (whether a poll found any). */
  linesRead = 0;
  /** Totals since start (status and tests). */
  readonly totals = { delivered: 0, skippedLines: 0, cutLines: 0, skippedBytes: 0 };
  /**
   * The current second of the line budget: when it began, how many lines it delivered, and the time spent
   * on them: wall time (busyMs) and CPU time (cpuMs).
   */
  private budget = { windowStart: Number.NEGATIVE_INFINITY, lines: 0, busyMs: 0, cpuMs: 0 };
  private readonly cpuMs: () => number;
  /** Skipped since the last report. */
  private skipped: SkipReport = { lines: 0, cut: 0, bytes: 0, delivered: 0, since: 0 };
  /** When a report last carried lines over the budget, and cut lines. */
  private lastSkipReportAt = { lines: Number.NEGATIVE_INFINITY, cut: Number.NEGATIVE_INFINITY };

  constructor(private readonly options: LineCutterOptions) {
    this.cpuMs = options.cpuMs ?? cpuTimeMs;
  }

  /** Forgets the partial line: the tailer moves to another file (or resumes where `skipping` says). */
  reset(pending: Buffer = EMPTY, skipping = false): void {
    this.pending = pending;
    this.skipping = skipping;
  }

  /** A chunk just read: its complete lines are delivered or skipped, the rest kept as the partial line. */
  chunk(chunk: Buffer): void {
    const now = this.options.clock.now();
    if (now - this.budget.windowStart >= 1000)
      this.budget = { windowStart: now, lines: 0, busyMs: 0, cpuMs: 0 };
    const began = { wall: performance.now(), cpu: this.cpuMs() };
    try {
      this.consumeLines(chunk, began);
    } finally {
      this.budget.busyMs += performance.now() - began.wall;
      this.budget.cpuMs += this.cpuMs() - began.cpu;
    }
  }

  /** The file ended without a newline and will not grow any more: its last line is complete. */
  flushPartial(truncated: boolean): void {
    if (this.pending.length > 0 && !this.skipping) this.emit(this.pending, 0, this.pending.length, truncated);
    this.pending = EMPTY;
    this.skipping = false;
  }

  /** Hands what was skipped to onSkipped: at once the first time, then at most once per skipReportMs and kind. */
  reportSkipped(force: boolean): void {
    const s = this.skipped;
    if (s.lines === 0 && s.cut === 0 && s.bytes === 0) return;
    const now = this.options.clock.now();
    const due = (kind: "lines" | "cut") =>
      s[kind] > 0 && now - this.lastSkipReportAt[kind] >= this.options.skipReportMs;
    if (!force && !due("lines") && !due("cut")) return;
    if (s.lines > 0) this.lastSkipReportAt.lines = now;
    if (s.cut > 0) this.lastSkipReportAt.cut = now;
    this.skipped = { lines: 0, cut: 0, bytes: 0, delivered: 0, since: 0 };
    try {
      this.options.onSkipped?.(s);
    } catch (err) {
      this.options.onError(err);
    }
  }

  /**
   * The second's budget is spent: its lines, or its CPU time. The budget bounds the CPU the lines cost, so
   * it is counted in CPU time: on a loaded machine the process waits for a core in the middle of a line,
   * and counting that wall time skipped the lines of a busy second (a reconnect and the lines that show it
   * over, say) while they had cost next to nothing. Wall time is the cheap first test (never less than the
   * CPU time of the one thread that runs the lines); CPU time is read only once it says the budget is spent.
   */
  private overBudget(began: { wall: number; cpu: number }): boolean {
    if (this.budget.lines >= this.options.maxLinesPerSecond) return true;
    const max = this.options.maxBusyMsPerSecond;
    if (this.budget.busyMs + (performance.now() - began.wall) < max) return false;
    return this.budget.cpuMs + (this.cpuMs() - began.cpu) >= max;
  }

  private consumeLines(chunk: Buffer, began: { wall: number; cpu: number }): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(10, start);
      if (nl === -1) break;
      if (this.skipping) {
        this.skipping = false;
        this.skip(nl - start, 0);
      } else if (this.overBudget(began)) {
        // Over the second's budget: not decoded, not classified, counted.
        this.skip(this.pending.length + nl - start, 1);
        this.pending = EMPTY;
      } else if (this.pending.length > 0) {
        const line = Buffer.concat([this.pending, chunk.subarray(start, nl)]);
        this.pending = EMPTY;
        this.deliver(line, 0, line.length);
      } else {
        this.deliver(chunk, start, nl);
      }
      start = nl + 1;
    }
    if (start >= chunk.length) return;
    if (this.skipping) {
      this.skip(chunk.length - start, 0);
      return;
    }
    // A partial line: keep a copy (the read buffer is reused), cut it when it grows too long.
    const rest = chunk.subarray(start);
    const max = this.options.maxLineBytes;
    if (this.pending.length + rest.length > max) {
      const whole = this.pending.length + rest.length;
      const head = Buffer.concat([this.pending, rest]).subarray(0, max);
      this.pending = EMPTY;
      this.skipping = true;
      this.skip(whole - max, 0, 1);
      this.emit(head, 0, max, true);
      return;
    }
    this.pending = this.pending.length === 0 ? Buffer.from(rest) : Buffer.concat([this.pending, rest]);
  }

  /** Delivers the line bytes[start, end), cut at maxLineBytes. */
  private deliver(bytes: Buffer, start: number, end: number): void {
    const max = this.options.maxLineBytes;
    if (end - start > max) {
      this.skip(end - start - max, 0, 1);
      this.emit(bytes, start, start + max, true);
    } else this.emit(bytes, start, end, false);
  }

  private skip(bytes: number, lines: number, cut = 0): void {
    if (bytes === 0 && lines === 0 && cut === 0) return;
    const s = this.skipped;
    if (s.lines === 0 && s.cut === 0 && s.bytes === 0) {
      s.since = this.options.clock.now();
      // The report counts the lines delivered from the first skip on.
      s.delivered = 0;
    }
    s.lines += lines;
    s.cut += cut;
    s.bytes += bytes;
    this.totals.skippedLines += lines;
    this.totals.cutLines += cut;
    this.totals.skippedBytes += bytes;
  }

  private emit(bytes: Buffer, start: number, end: number, truncated: boolean): void {
    try {
      this.linesRead++;
      this.budget.lines++;
      this.totals.delivered++;
      this.skipped.delivered++;
      this.options.onLine(decodeLine(bytes, start, end), truncated ? CUT : WHOLE);
    } catch (err) {
      this.options.onError(err);
    }
  }
}
