// When the log tailer polls (tailer.ts does the poll): its one timer at the poll interval, brought forward
// by writes to the file (fs.watch) at most once per wakeGapMs, and the one watcher on the file being read.
import { type FSWatcher, watch } from "node:fs";
import type { Clock } from "@vmmeet/node";

export interface PollScheduleOptions {
  /** The log file, followed by name (LogTailerOptions.path). */
  file: string;
  clock: Clock;
  pollIntervalMs: number;
  /** Bring a poll forward when the file is written (LogTailerOptions.wakeOnWrite). */
  wakeOnWrite: boolean;
  wakeGapMs: number;
  /** Runs one poll; `woken`: a write brought it forward. Never rejects. */
  poll: (woken: boolean) => Promise<void>;
  /** Lines delivered so far (only a woken poll that found lines starts a gap). */
  linesRead: () => number;
  /** The last poll stopped at its byte budget: the next one runs at once. */
  backlog: () => boolean;
  /** The inode being read, if any (the watcher follows it). */
  currentIno: () => number | undefined;
}

export class PollSchedule {
  private timer: unknown;
  /** When the timer set by schedule() fires, and when the last poll a write brought forward began. */
  private timerDue = Number.POSITIVE_INFINITY;
  private lastWokenPollAt = Number.NEGATIVE_INFINITY;
  /** A write was seen during the poll in flight: poll again (after the gap) when it ends. */
  private wokeDuringPoll = false;
  /** Watches the inode being read; replaced when the tailer moves to another file. */
  private watcher: { ino: number; w: FSWatcher } | undefined;
  private stopped = false;

  constructor(private readonly options: PollScheduleOptions) {}

  /** The first poll runs at once. */
  start(): void {
    this.schedule(0);
  }

  /** No poll is started after this (one in flight ends on its own); the watcher is closed. */
  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) {
      this.options.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.unwatch();
  }

  /**
   * Keeps one fs.watch on the inode being read, set up as the file is opened (before it is read: a write
   * in between would otherwise wake nobody); a failing fs.watch leaves the interval's polls.
   */
  watchCurrent(): void {
    if (!this.options.wakeOnWrite || this.stopped) return;
    const ino = this.options.currentIno();
    if (ino === undefined) {
      this.unwatch();
      return;
    }
    if (this.watcher?.ino === ino) return;
    this.unwatch();
    try {
      // The name may already point at another file than the one read (rotated): then the old one is
      // drained by the interval's polls, and the new one gets its watcher once the tailer moves to it.
      const w = watch(this.options.file, { persistent: false }, () => this.wake());
      w.on("error", () => {
        w.close();
        if (this.watcher?.w === w) this.watcher = undefined;
      });
      this.watcher = { ino, w };
    } catch {
      // ENOENT between the poll and here, or no fs.watch on this platform: polling only.
    }
  }

  private schedule(ms: number, woken = false): void {
    const { clock, pollIntervalMs } = this.options;
    this.timerDue = clock.now() + ms;
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Number.POSITIVE_INFINITY;
      const now = clock.now();
      const before = this.options.linesRead();
      this.wokeDuringPoll = false;
      void this.options.poll(woken).then(() => {
        // Only a woken poll that found lines starts a gap: the poll a write event during the previous one
        // asked for often finds nothing (that poll had read it), and must not delay the next single line.
        if (woken && this.options.linesRead() !== before) this.lastWokenPollAt = now;
        if (this.stopped) return;
        this.watchCurrent();
        if (this.options.backlog()) this.schedule(0);
        else if (this.wokeDuringPoll) this.schedule(Math.min(this.wakeDelay(), pollIntervalMs), true);
        else this.schedule(pollIntervalMs);
      });
    }, ms);
  }

  /**
   * The file was written: bring the next poll forward. The first write after a quiet spell is read at
   * once; while writes keep coming, woken polls are at least wakeGapMs apart.
   */
  private wake(): void {
    if (this.stopped) return;
    if (this.timer === undefined) {
      // A poll is in flight: it reschedules when done.
      this.wokeDuringPoll = true;
      return;
    }
    const delay = this.wakeDelay();
    if (this.options.clock.now() + delay >= this.timerDue) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.schedule(delay, true);
  }

  /** How long a poll brought forward by a write waits: until wakeGapMs after the last one that found lines. */
  private wakeDelay(): number {
    return Math.max(0, this.lastWokenPollAt + this.options.wakeGapMs - this.options.clock.now());
  }

  private unwatch(): void {
    this.watcher?.w.close();
    this.watcher = undefined;
  }
}
