import { type Clock, systemClock } from "@vmmeet/node";

/*
 * Transport prefixes in front of a program's own text. On OpenBSD, rc.subr pipes jicofo's and
 * jvb's output through `logger -isp daemon.info -t NAME`, so every line of a JVM record becomes a
 * syslog line `Mmm dd hh:mm:ss host tag[pid]: text` (docs/openbsd-rc.md §2, §3 "Logs of
 * jicofo/jvb"); journald's short format looks the same, docker compose prepends `service_1  | `,
 * `docker logs -t` an RFC 3339 time stamp. Accepted: [compose] [rfc3339] then either
 * `stamp [host] tag[pid]: `, `stamp host tag: ` or `tag[pid]: `.
 *
 * Sticky regexes, tested at an offset: this runs on every line, and the daemon runs without V8's
 * optimizing compiler (rc.d/vmmeet_agent), where irregexp's native code is several times faster
 * than a JavaScript loop over the characters.
 */
/** `service_1  | ` (docker compose): up to 64 of [A-Za-z0-9_.-], blanks, "| ". */
const COMPOSE = /[\w.-]{1,64} *\| /y;
/** `2024-01-02T03:04:05.678Z ` (docker logs -t): the first blank after the "T" ends it, within 40. */
const RFC3339 = /\d[\s\S]{3}-[\s\S]{2}-[\s\S]{2}T(?=[\s\S]{2}:)[^ ]{0,29} /y;
/** `Mmm dd hh:mm:ss ` (syslog, journald short format). */
const STAMP = /[A-Z][\s\S]{2} [ \d]\d \d[\s\S]:[\s\S]{2}:[\s\S]\d /y;
/** A syslog tag or host: printable, not blank, ":", "[", "]" or "|". */
const NAME_SOURCE = String.raw`[^\0- :[\]|\x7f]+`;
const NAME = new RegExp(NAME_SOURCE, "y");
const TAG_WITH_PID = new RegExp(String.raw`${NAME_SOURCE}\[\d+\]: `, "y");
const TAG = new RegExp(String.raw`${NAME_SOURCE}(?:\[\d+\])?: `, "y");
const HOST = new RegExp(`${NAME_SOURCE} `, "y");
/**
 * One of the parts parsePrefix() tries at the start of a line: a compose name, an RFC 3339 stamp, a
 * syslog stamp, a tag with its pid. One test turns away the lines without a prefix (Jitsi's own
 * layout: "Jicofo 2024-...", "JVB 2024-...") instead of four.
 */
const PREFIX_START = new RegExp([COMPOSE, RFC3339, STAMP, TAG_WITH_PID].map((r) => r.source).join("|"), "y");

function at(re: RegExp, line: string, offset: number): boolean {
  re.lastIndex = offset;
  return re.test(line);
}

/**
 * Every accepted prefix in one sticky regex: where it ends is where the program's text starts. The
 * same parts in the same order as parseTag() below tries them one by one (each part has at most one
 * way to match, so the regex's backtracking finds what the steps find; a stamp without a tag is not
 * a prefix), in one call instead of up to six: on OpenBSD every jicofo and jvb line has one.
 */
const PREFIX = new RegExp(
  `(?:${COMPOSE.source})?(?:${RFC3339.source})?(?:${STAMP.source}(?:${TAG_WITH_PID.source}|${HOST.source}${TAG.source})|${TAG_WITH_PID.source})?`,
  "y",
);

function parsePrefix(line: string): number {
  // Jitsi's own layout ("Jicofo 2024-...", "JVB 2024-...": no transport prefix), most lines of a
  // log that reaches the agent unprefixed: PREFIX_START cannot match them, and one startsWith is
  // cheaper than a regex call.
  if (line.startsWith("Jicofo 2") || line.startsWith("JVB 2")) return 0;
  if (!at(PREFIX_START, line, 0)) return 0;
  at(PREFIX, line, 0);
  return PREFIX.lastIndex;
}

/** Where the tag of the last parseTag() starts (-1: the line has none). */
let scratchTagStart = -1;

/** parsePrefix() step by step, noting where the syslog tag starts. */
function parseTag(line: string): number {
  scratchTagStart = -1;
  if (!at(PREFIX_START, line, 0)) return 0;
  let off = at(COMPOSE, line, 0) ? COMPOSE.lastIndex : 0;
  if (at(RFC3339, line, off)) off = RFC3339.lastIndex;
  if (at(STAMP, line, off)) {
    const p = STAMP.lastIndex;
    if (at(TAG_WITH_PID, line, p)) {
      scratchTagStart = p;
      return TAG_WITH_PID.lastIndex;
    }
    // `stamp host tag[pid]: ` or `stamp host tag: `
    if (at(HOST, line, p) && at(TAG, line, HOST.lastIndex)) {
      scratchTagStart = HOST.lastIndex;
      return TAG.lastIndex;
    }
    return off;
  }
  if (at(TAG_WITH_PID, line, off)) {
    scratchTagStart = off;
    return TAG_WITH_PID.lastIndex;
  }
  return off;
}

/** Where the program's own text starts in a line (0 when the line has no known prefix). */
export function prefixLength(line: string): number {
  return parsePrefix(line);
}

/**
 * The syslog tag of a line (`jicofo` in `Sep 16 14:45:24 host jicofo[123]: ...`), or undefined.
 * For shared files such as /var/log/daemon, where only one program's lines count.
 */
export function syslogTag(line: string): string | undefined {
  parseTag(line);
  if (scratchTagStart === -1) return undefined;
  at(NAME, line, scratchTagStart);
  return line.slice(scratchTagStart, NAME.lastIndex);
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

export function isContinuation(line: string, offset = parsePrefix(line)): boolean {
  const c = line.charCodeAt(offset);
  // Fast exit for the common case: Jitsi's own layout starts with "Jicofo"/"JVB" or a digit.
  if (c === 0x09 || c === 0x20 || c === 0x5e /* ^ */ || c === 0x2e /* . */) {
    return at(FRAME, line, offset) || at(CAUSE, line, offset);
  }
  if (c === 0x43 /* C */ || c === 0x53 /* S */) return at(CAUSE, line, offset);
  if (c >= 0x61 && c <= 0x7a) return at(FRAME, line, offset) || at(EXCEPTION, line, offset);
  return false;
}

export function isJulHeader(line: string, offset = parsePrefix(line)): boolean {
  // A header holds no ": " of its own (its time is h:mm:ss); nearly every other line does.
  return line.indexOf(": ", offset) === -1 && at(JUL_HEADER, line, offset);
}

export interface RecordJoinerOptions {
  /** Receives each record: its raw lines joined with "\n", and how many lines it has. */
  onRecord: (text: string, lines: number) => void;
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
  private readonly onRecord: (text: string, lines: number) => void;
  private readonly flushAfterMs: number;
  private readonly clock: Clock;
  private readonly maxLines: number;
  /** First line of the pending record (undefined: none pending). */
  private head: string | undefined;
  /** Further lines of the pending record (reused between records). */
  private readonly more: string[] = [];
  /** The pending record is a SimpleFormatter header still waiting for its level line. */
  private expectLevel = false;
  /** Bumped by every line: the idle timer compares it instead of reading the clock per line. */
  private seq = 0;
  private timer: unknown;
  private closed = false;

  constructor(options: RecordJoinerOptions) {
    this.onRecord = options.onRecord;
    this.flushAfterMs = options.flushAfterMs ?? 1000;
    this.clock = options.clock ?? systemClock;
    this.maxLines = options.maxLines ?? 200;
  }

  push(line: string): void {
    if (this.closed) throw new Error("RecordJoiner: push after close");
    if (isBlank(line)) return;
    const offset = parsePrefix(line);
    if (this.head !== undefined) {
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
    this.head = line;
    this.expectLevel = isJulHeader(line, offset);
    this.touch();
  }

  /** Emits the pending record now. (The idle timer stays armed: it ends itself when idle.) */
  flush(): void {
    const head = this.head;
    if (head === undefined) return;
    const n = 1 + this.more.length;
    const text = n === 1 ? head : `${head}\n${this.more.join("\n")}`;
    this.head = undefined;
    if (n > 1) this.more.length = 0;
    this.expectLevel = false;
    this.onRecord(text, n);
  }

  /** Emits the pending record and disarms the timer; idempotent. */
  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.closed = true;
  }

  private append(line: string): void {
    if (this.more.length + 1 < this.maxLines) this.more.push(line);
    this.touch();
  }

  private touch(): void {
    this.seq++;
    if (this.flushAfterMs > 0 && this.timer === undefined) this.arm(this.seq);
  }

  /**
   * One timer per idle period, not one per line: when it fires after lines kept arriving, it
   * re-arms for another period, so a record is emitted between flushAfterMs and twice that after
   * its last line.
   */
  private arm(seen: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      if (this.head === undefined) return;
      if (this.seq === seen) this.flush();
      else this.arm(this.seq);
    }, this.flushAfterMs);
  }
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13) return false;
  }
  return true;
}
