import type { HealthSignal, LogComponent } from "@vmmeet/shared";
import {
  type ClassifyResult,
  classifyLine,
  classifyRecordText,
  type RuleTable,
  ruleTable,
} from "./classify.js";
import type { Clock } from "./clock.js";
import { SessionCorrelator } from "./correlator.js";
import { RecordJoiner } from "./joiner.js";

export interface LogClassifierOptions {
  component: LogComponent;
  /** jitsi-meet release number (e.g. 9646), where message meanings differ between releases. */
  release?: number;
  /** Receives every record (one line, or a joined java.util.logging record) with its result. */
  onRecord: (result: ClassifyResult, text: string) => void;
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
  private readonly joiner: RecordJoiner | undefined;
  private readonly correlator: SessionCorrelator | undefined;

  constructor(opts: LogClassifierOptions) {
    this.table = ruleTable(opts.component, opts.release);
    this.onRecord = opts.onRecord;
    if (opts.component === "jicofo" || opts.component === "jvb") {
      this.joiner = new RecordJoiner({
        onRecord: (text, lines) => this.emit(text, lines > 1),
        ...(opts.clock === undefined ? {} : { clock: opts.clock }),
        ...(opts.flushAfterMs === undefined ? {} : { flushAfterMs: opts.flushAfterMs }),
      });
    }
    if (opts.component === "prosody") this.correlator = new SessionCorrelator();
  }

  push(line: string): void {
    if (this.joiner !== undefined) this.joiner.push(line);
    else if (line !== "") this.emit(line, false);
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
