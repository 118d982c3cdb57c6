import { type Clock, systemClock } from "./clock.js";

/*
 * Transport prefixes in front of a program's own text. On OpenBSD, rc.subr pipes jicofo's and
 * jvb's output through `logger -isp daemon.info -t NAME`, so every line of a JVM record becomes a
 * syslog line `Mmm dd hh:mm:ss host tag[pid]: text` (openbsd-services.md §2, §3 "Logs of
 * jicofo/jvb"); journald's short format looks the same, docker compose prepends `service_1  | `,
 * `docker logs -t` an RFC 3339 time stamp.
 */
const PREFIX =
  /(?:[\w.-]+ *\| )?(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)? )?(?:(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:[^\s:[\]]+ )?)?[^\s:[\]|]+\[\d+\]: |[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [^\s:[\]]+ [^\s:[\]]+: )?/y;

const SYSLOG_TAG =
  /^(?:[\w.-]+ *\| )?(?:\d{4}-\d\d-\d\dT\S+ )?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:[^\s:[\]]+ )?)?([^\s:[\]|]+)(?:\[\d+\])?: /;

/** Where the program's own text starts in a line (0 when the line has no known prefix). */
export function prefixLength(line: string): number {
  PREFIX.lastIndex = 0;
  return PREFIX.test(line) ? PREFIX.lastIndex : 0;
}

/**
 * The syslog tag of a line (`jicofo` in `Sep 16 14:45:24 host jicofo[123]: ...`), or undefined.
 * For shared files such as /var/log/daemon, where only one program's lines count.
 */
export function syslogTag(line: string): string | undefined {
  const m = SYSLOG_TAG.exec(line);
  if (m === null) return undefined;
  // A bare "INFO: message" is not a tag; a tag needs a pid or a syslog time stamp before it.
  if (!/\[\d+\]: /.test(m[0]) && !/^(?:[\w.-]+ *\| )?(?:\S+ )?[A-Z][a-z]{2} [ \d]\d /.test(m[0]))
    return undefined;
  return m[1];
}

// Continuation lines of a java.util.logging record: stack frames (a tab may arrive as "^I" after
// syslogd's control-character escaping), "... 12 more", "Caused by:", "Suppressed:", and the
// exception line that follows a message ending in ":" (Jitsi logs "Health check failed in 0ms:"
// and then "java.lang.Exception: ...").
const FRAME = /(?:\s|\^I)*(?:at [\w$./<>-]+\(|\.\.\. \d+ (?:more|common frames omitted))/y;
const CAUSE = /(?:\s|\^I)*(?:Caused by|Suppressed): /y;
const EXCEPTION = /(?:[a-z_][\w$]*\.)+[\w$]*(?:Exception|Error|Throwable)[\w$]*(?::\s|:?\s*$)/y;
// java.util.logging.SimpleFormatter default: "%1$tb %1$td, %1$tY %1$tl:%1$tM:%1$tS %1$Tp %2$s%n%4$s: %5$s%6$s%n";
// the month name and AM/PM marker are localized, the shape is not.
const JUL_HEADER =
  /[^\s\d,]{2,12} \d{1,2}, \d{4} \d{1,2}:\d\d:\d\d(?: [^\s\d]\S{0,11})? [\w$.]+(?: [\w$<>]+)?\s*$/y;
// Second line of that record: a (possibly localized) level name, a colon, the message.
const JUL_LEVEL = /[^\s:]{2,30}: /y;

function at(re: RegExp, line: string, offset: number): boolean {
  re.lastIndex = offset;
  return re.test(line);
}

export function isContinuation(line: string, offset = prefixLength(line)): boolean {
  const c = line.charCodeAt(offset);
  // Fast exit for the common case: Jitsi's own layout starts with "Jicofo"/"JVB" or a digit.
  if (c === 0x09 || c === 0x20 || c === 0x5e /* ^ */ || c === 0x2e /* . */) {
    return at(FRAME, line, offset) || at(CAUSE, line, offset);
  }
  if (c === 0x43 /* C */ || c === 0x53 /* S */) return at(CAUSE, line, offset);
  if (c >= 0x61 && c <= 0x7a) return at(FRAME, line, offset) || at(EXCEPTION, line, offset);
  return false;
}

export function isJulHeader(line: string, offset = prefixLength(line)): boolean {
  // A header holds no ": " of its own (its time is h:mm:ss); nearly every other line does.
  return line.indexOf(": ", offset) === -1 && at(JUL_HEADER, line, offset);
}

export interface RecordJoinerOptions {
  /** Receives each record: its raw lines joined with "\n". */
  onRecord: (text: string) => void;
  /**
   * Emit a pending record when no line arrived for this long (the last record of a burst has no
   * successor to end it). Default 1000 ms; 0 disables the timer (call flush()/close()).
   */
  flushAfterMs?: number;
  clock?: Clock;
  /** Lines kept per record; further stack frames are dropped. Default 200. */
  maxLines?: number;
}

/**
 * Turns raw jicofo/jvb lines into records: a java.util.logging SimpleFormatter record is two lines
 * (header, then "LEVEL: message"), Jitsi's own layout is one line; either may be followed by a
 * stack trace. Lines of prosody and nginx are records by themselves and need no joiner.
 */
export class RecordJoiner {
  private readonly onRecord: (text: string) => void;
  private readonly flushAfterMs: number;
  private readonly clock: Clock;
  private readonly maxLines: number;
  private lines: string[] = [];
  /** The pending record is a SimpleFormatter header still waiting for its level line. */
  private expectLevel = false;
  private lastPush = 0;
  private timer: unknown;
  private closed = false;

  constructor(opts: RecordJoinerOptions) {
    this.onRecord = opts.onRecord;
    this.flushAfterMs = opts.flushAfterMs ?? 1000;
    this.clock = opts.clock ?? systemClock;
    this.maxLines = opts.maxLines ?? 200;
  }

  push(line: string): void {
    if (this.closed) throw new Error("RecordJoiner: push after close");
    if (line.trim() === "") return;
    const offset = prefixLength(line);
    if (this.lines.length > 0) {
      if (this.expectLevel) {
        this.expectLevel = false;
        if (at(JUL_LEVEL, line, offset)) {
          this.append(line);
          return;
        }
      } else if (isContinuation(line, offset)) {
        this.append(line);
        return;
      }
      this.flush();
    }
    this.lines.push(line);
    this.expectLevel = isJulHeader(line, offset);
    this.touch();
  }

  /** Emits the pending record now. */
  flush(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.lines.length === 0) return;
    const text = this.lines.length === 1 ? (this.lines[0] as string) : this.lines.join("\n");
    this.lines = [];
    this.expectLevel = false;
    this.onRecord(text);
  }

  /** Emits the pending record and disarms the timer; idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private append(line: string): void {
    if (this.lines.length < this.maxLines) this.lines.push(line);
    this.touch();
  }

  private touch(): void {
    this.lastPush = this.clock.now();
    // One timer per idle period, not one per line: it re-arms itself for the remaining time.
    if (this.flushAfterMs > 0 && this.timer === undefined) this.arm(this.flushAfterMs);
  }

  private arm(ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.lines.length === 0) return;
      const idle = this.clock.now() - this.lastPush;
      if (idle >= this.flushAfterMs) this.flush();
      else this.arm(this.flushAfterMs - idle);
    }, ms);
  }
}
