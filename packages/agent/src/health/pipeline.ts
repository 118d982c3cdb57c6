import type { Clock } from "@vmmeet/node";
import type { HealthSignal, LogComponent } from "@vmmeet/shared";
import {
  type ClassifyResult,
  classifyLine,
  classifyRecordText,
  GateScan,
  type RuleTable,
  ruleTable,
  UNMATCHED,
} from "./classify.js";
import { SessionCorrelator } from "./correlator.js";
import { RecordJoiner } from "./joiner.js";

export interface LogClassifierOptions {
  component: LogComponent;
  /** jitsi-meet release number (e.g. 9646), where message meanings differ between releases. */
  release?: number;
  /** Receives every record (one line, or a joined java.util.logging record) with its result. */
  onRecord: (result: ClassifyResult, text: string) => void;
  /**
   * When set, pushLines hands the lines its chunk gate turns away (no rule, no level: `info` with no
   * signal, UNMATCHED) here as a count instead of one onRecord call each (`classify --count`).
   */
  onUnmatched?: (lines: number) => void;
  /** For the joiner's idle flush (jicofo, jvb). */
  clock?: Clock;
  /** See RecordJoinerOptions.flushAfterMs. */
  flushAfterMs?: number;
}

/**
 * Raw log lines in, classified records out: joins java.util.logging records for jicofo and jvb,
 * classifies, and for prosody refines disconnects with the session's history.
 */
export class LogClassifier {
  private readonly table: RuleTable;
  private readonly onRecord: (result: ClassifyResult, text: string) => void;
  private readonly onUnmatched: ((lines: number) => void) | undefined;
  private readonly joiner: RecordJoiner | undefined;
  private readonly correlator: SessionCorrelator | undefined;

  constructor(options: LogClassifierOptions) {
    this.table = ruleTable(options.component, options.release);
    this.onRecord = options.onRecord;
    this.onUnmatched = options.onUnmatched;
    if (options.component === "jicofo" || options.component === "jvb") {
      this.joiner = new RecordJoiner({
        onRecord: (text, lines) => this.emit(text, lines > 1),
        ...(options.clock === undefined ? {} : { clock: options.clock }),
        ...(options.flushAfterMs === undefined ? {} : { flushAfterMs: options.flushAfterMs }),
      });
    }
    if (options.component === "prosody") this.correlator = new SessionCorrelator();
  }

  push(line: string): void {
    if (this.joiner !== undefined) this.joiner.push(line);
    else if (line !== "") this.emit(line, false);
  }

  /**
   * The whole lines of text[from, to) (each ends with "\n", a "\r" before it dropped; `to` is just
   * past one), as push() takes them one at a time, each cut to its first `maxLine` characters.
   * Without a joiner (prosody, nginx) the gate runs over the chunk: the lines it finds nothing in
   * are `info` without being cut out and classified one by one, which costs more than grep's whole
   * pass. A line without a signal never changes the session correlator, so it is skipped there too.
   */
  pushLines(text: string, from: number, to: number, maxLine = Number.POSITIVE_INFINITY): void {
    const joiner = this.joiner;
    if (joiner !== undefined) {
      // Every line, as the CLI cut them before (inline: the daemon runs without the optimizing compiler).
      for (let start = from; start < to; ) {
        const nl = text.indexOf("\n", start);
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        joiner.push(text.slice(start, end - start > maxLine ? start + maxLine : end));
        start = nl + 1;
      }
      return;
    }
    const gate = new GateScan(this.table.prefilter, text, to);
    let start = from;
    while (start < to) {
      const hit = gate.next(start);
      const candidate = hit === -1 ? to : text.lastIndexOf("\n", hit) + 1;
      if (this.onUnmatched === undefined) {
        while (start < candidate) {
          const nl = text.indexOf("\n", start);
          const end = lineEnd(text, start, nl);
          if (end > start) this.onRecord(UNMATCHED, text.slice(start, Math.min(end, start + maxLine)));
          start = nl + 1;
        }
      } else if (start < candidate) {
        this.onUnmatched(countLines(text, start, candidate));
        start = candidate;
      }
      if (hit === -1) return;
      const nl = text.indexOf("\n", hit);
      const end = lineEnd(text, start, nl);
      if (end > start) this.emit(text.slice(start, Math.min(end, start + maxLine)), false);
      start = nl + 1;
    }
  }

  /** Emits a pending joined record now. */
  flush(): void {
    this.joiner?.flush();
  }

  /** Flushes and disarms the joiner's timer; idempotent. */
  close(): void {
    this.joiner?.close();
  }

  private emit(text: string, multiLine: boolean): void {
    let r = multiLine ? classifyRecordText(this.table, text) : classifyLine(this.table, text);
    if (this.correlator !== undefined) r = this.correlator.refine(text, r);
    this.onRecord(r, text);
  }
}

/** The lines of text[from, to) (whole lines) that are not empty once a "\r" before their "\n" is dropped. */
function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let start = from; start < to; ) {
    const nl = text.indexOf("\n", start);
    if (lineEnd(text, start, nl) > start) n++;
    start = nl + 1;
  }
  return n;
}

/** Where the line at `start` ending at the "\n" at `nl` ends without its "\r". */
function lineEnd(text: string, start: number, nl: number): number {
  return nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
}

/** The wire form of a classified record, or null when it carries no signal. */
export function toHealthSignal(
  component: LogComponent,
  result: ClassifyResult,
  at: Date,
  source?: string,
): HealthSignal | null {
  if (result.signal === null) return null;
  return {
    component,
    signal: result.signal,
    label: result.label,
    explain: result.explain,
    ...(result.fix === undefined ? {} : { fix: result.fix }),
    ...(result.detail === undefined ? {} : { detail: result.detail }),
    ...(source === undefined ? {} : { source }),
    at: at.toISOString(),
  };
}
