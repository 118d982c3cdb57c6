import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  copyFileSync,
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { ManualClock } from "@vmmeet/node";
import { describe, expect, it } from "vitest";
import {
  dir,
  type Harness,
  lines,
  log,
  manual,
  stateFile,
  text,
  useTailerFiles,
} from "../../../../test/helpers/log-tailer.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import { JsonFileOffsetStore, MemoryOffsetStore, type OffsetStore } from "./offsetStore.js";
import { type LogTailerOptions, NotARegularFileError } from "./tailer.js";

useTailerFiles();

/**
 * A tailer woken by writes on a manual clock (poll interval 1 s) over a file holding `first`, after its
 * first poll (a timer's): the next one is armed for t = 1000.
 */
async function wokenAfterFirstPoll(
  first: string,
  wakeGapMs: number,
  store: OffsetStore = new MemoryOffsetStore(),
) {
  writeFileSync(log, first);
  const clock = new ManualClock(0);
  const h = manual(store, { clock, pollIntervalMs: 1000, wakeOnWrite: true, wakeGapMs });
  h.tailer.start();
  clock.advance(0);
  await waitFor(() => clock.nextAt === 1000, { what: "the first poll done, the next one armed" });
  return { clock, h };
}

describe("LogTailer, timer-driven", () => {
  it("follows a file through a newsyslog rotation (rename, new file, late writes to the old one)", async () => {
    writeFileSync(log, text(lines("old", 3)));
    const h = manual(new MemoryOffsetStore(), { pollIntervalMs: 10 });
    h.tailer.start();
    await waitFor(() => h.lines.length === 3, { what: "first lines" });
    appendFileSync(log, text(lines("before-rename", 2)));
    renameSync(log, `${log}.0`);
    // syslogd keeps writing to the renamed file until newsyslog's SIGHUP
    appendFileSync(`${log}.0`, text(lines("late", 2)));
    writeFileSync(log, "Sep 16 15:00:00 jicofo newsyslog[1]: logfile turned over\n");
    appendFileSync(log, text(lines("new", 3)));
    await waitFor(() => h.lines.length === 11, { what: "all lines" });
    expect(h.lines).toEqual([
      ...lines("old", 3),
      ...lines("before-rename", 2),
      ...lines("late", 2),
      "Sep 16 15:00:00 jicofo newsyslog[1]: logfile turned over",
      ...lines("new", 3),
    ]);
    expect(h.errors).toEqual([]);
  });

  it("waits for a missing file and reads it from the start once it appears", async () => {
    const h = manual(new MemoryOffsetStore(), { pollIntervalMs: 10, startAt: "end" });
    h.tailer.start();
    await h.tailer.poll();
    writeFileSync(log, text(["first", "second"]));
    await waitFor(() => h.lines.length === 2, { what: "lines of the new file" });
    expect(h.lines).toEqual(["first", "second"]);
  });

  it("owns one timer: stop() clears it, is idempotent, and start() after stop() does nothing", async () => {
    writeFileSync(log, "x\n");
    const clock = new ManualClock();
    const h = manual(new MemoryOffsetStore(), { clock, pollIntervalMs: 1000 });
    h.tailer.start();
    h.tailer.start();
    expect(clock.pending).toBe(1);
    const p1 = h.tailer.stop();
    const p2 = h.tailer.stop();
    expect(p1).toBe(p2);
    await p1;
    expect(clock.pending).toBe(0);
    h.tailer.start();
    expect(clock.pending).toBe(0);
  });
});

describe("LogTailer, woken by writes (wakeOnWrite)", () => {
  it("reads a new line long before its next poll is due", async () => {
    writeFileSync(log, "");
    const h = manual(new MemoryOffsetStore(), { pollIntervalMs: 600_000, wakeOnWrite: true });
    h.tailer.start();
    await h.tailer.poll();
    appendFileSync(log, text(["Added brewery instance: jvbbrewery@internal.auth.example.org/jvb1"]));
    await waitFor(() => h.lines.length === 1, {
      what: "the line, read on the write (the interval is 10 minutes)",
    });
    appendFileSync(log, text(["second"]));
    await waitFor(() => h.lines.length === 2, { what: "the next line" });
    expect(h.errors).toEqual([]);
  });

  it("a write after a quiet spell is read at once; then woken polls are wakeGapMs apart", async () => {
    const { clock, h } = await wokenAfterFirstPoll("x\n", 250);
    clock.advance(100);
    appendFileSync(log, "y\n");
    await waitFor(() => clock.nextAt === 100, { what: "the write bringing the next poll forward to now" });
    clock.advance(0);
    await waitFor(() => h.lines.length === 2 && clock.nextAt === 1100, { what: "the woken poll" });
    clock.advance(50);
    appendFileSync(log, "z\n");
    await waitFor(() => clock.nextAt === 350, { what: "the next write: one gap after the woken poll" });
    expect(clock.pending).toBe(1);
    clock.advance(200);
    await waitFor(() => h.lines.length === 3, { what: "the third line" });
    expect(h.lines).toEqual(["x", "y", "z"]);
  });
});

describe("LogTailer, a woken poll that finds nothing", () => {
  it("does not delay the next line by a gap", async () => {
    const { clock, h } = await wokenAfterFirstPoll("a\n", 200);
    clock.advance(100);
    utimesSync(log, new Date(), new Date()); // an event without new lines (as the second event of one write)
    await waitFor(() => clock.nextAt === 100, { what: "the event bringing a poll forward" });
    clock.advance(0);
    await waitFor(() => clock.nextAt === 1100, { what: "the woken poll, which found nothing" });
    expect(h.lines).toEqual(["a"]);
    clock.advance(50);
    appendFileSync(log, "b\n");
    await waitFor(() => clock.nextAt === 150, {
      what: "the next line read at once, no gap after an empty poll",
    });
    clock.advance(0);
    await waitFor(() => h.lines.length === 2, { what: "the line" });
    expect(h.lines).toEqual(["a", "b"]);
  });
});

describe("LogTailer, offsets of woken polls", () => {
  it("polls brought forward by writes save the offset at most once per poll interval", async () => {
    const saved: number[] = [];
    const store = new MemoryOffsetStore();
    const counting: OffsetStore = {
      load: (f) => store.load(f),
      save: async (f, st) => {
        saved.push(st.offset);
        await store.save(f, st);
      },
    };
    const { clock, h } = await wokenAfterFirstPoll("a\n", 200, counting);
    expect(saved).toEqual([2]); // the first poll, a timer's, saves
    clock.advance(100);
    appendFileSync(log, "b\n");
    await waitFor(() => clock.nextAt === 100, { what: "the write bringing the poll forward" });
    clock.advance(0);
    await waitFor(() => h.lines.length === 2 && clock.nextAt === 1100, { what: "the woken poll" });
    expect(saved).toEqual([2]); // read, not saved: the last save is less than an interval old
    clock.advance(1000); // the interval's poll saves
    await waitFor(() => saved.length === 2, { what: "the interval's save" });
    expect(saved).toEqual([2, 4]);
    await h.tailer.stop();
    expect(saved.at(-1)).toBe(4);
  });
});

describe("LogTailer, step by step", () => {
  it.each([
    ["starts at the end of an existing file unless told otherwise", "history\n", "fresh\n"],
    ["starting at the end inside a line skips that line's rest", "history\nhalf-wri", "tten\nfresh\n"],
  ])("%s", async (_, before, appended) => {
    writeFileSync(log, before);
    const h = manual(new MemoryOffsetStore(), { startAt: "end" });
    await h.tailer.poll();
    appendFileSync(log, appended);
    await h.tailer.poll();
    expect(h.lines).toEqual(["fresh"]);
  });

  it("keeps a partial last line until its newline arrives and never commits past it", async () => {
    const store = new MemoryOffsetStore();
    writeFileSync(log, "a1\na2-par");
    const h = manual(store);
    await h.tailer.poll();
    expect(h.lines).toEqual(["a1"]);
    expect((await store.load(log))?.offset).toBe(3);
    appendFileSync(log, "t\r\n");
    await h.tailer.poll();
    expect(h.lines).toEqual(["a1", "a2-part"]);
    expect((await store.load(log))?.offset).toBe(12);
  });

  it("handles copy-truncate: unread lines come from the copy, then the truncated file from 0", async () => {
    writeFileSync(log, text(lines("a", 3)));
    const h = manual(new MemoryOffsetStore());
    await h.tailer.poll();
    appendFileSync(log, `${text(lines("b", 2))}b-partial`);
    copyFileSync(log, `${log}.0`);
    truncateSync(log, 0);
    appendFileSync(log, text(lines("c", 2)));
    await h.tailer.poll();
    expect(h.lines).toEqual([...lines("a", 3), ...lines("b", 2), "b-partial", ...lines("c", 2)]);
  });

  it("notices a file rewritten in place under the same inode", async () => {
    writeFileSync(log, text(["one", "two"]));
    const h = manual(new MemoryOffsetStore());
    await h.tailer.poll();
    // truncate and refill past the old offset before the next poll: only the content tells
    truncateSync(log, 0);
    appendFileSync(log, text(["THREE-is-longer", "FOUR"]));
    await h.tailer.poll();
    expect(h.lines).toEqual(["one", "two", "THREE-is-longer", "FOUR"]);
  });
});

describe("LogTailer restarts (new instance, same state file)", () => {
  it("no line lost or duplicated across restarts, a partial line and a rotation while down", async () => {
    const seen: string[] = [];
    const run = async (steps: () => Promise<void> | void) => {
      const h = manual(new JsonFileOffsetStore(stateFile));
      await h.tailer.poll();
      await steps();
      await h.tailer.poll();
      await h.tailer.stop();
      seen.push(...h.lines);
    };
    writeFileSync(log, text(lines("a", 3)));
    await run(() => appendFileSync(log, `${text(lines("b", 2))}c-par`));
    // down: the partial line completes, more lines arrive, newsyslog rotates, new lines arrive
    appendFileSync(log, `tial\n${text(lines("d", 2))}`);
    renameSync(log, `${log}.0`);
    writeFileSync(log, text(lines("e", 2)));
    await run(() => appendFileSync(log, text(lines("f", 1))));
    // down again: nothing happens; a third run reads nothing twice
    await run(() => undefined);
    appendFileSync(log, text(lines("g", 1)));
    await run(() => undefined);
    expect(seen).toEqual([
      ...lines("a", 3),
      ...lines("b", 2),
      "c-partial",
      ...lines("d", 2),
      ...lines("e", 2),
      ...lines("f", 1),
      ...lines("g", 1),
    ]);
    const state = JSON.parse(await readFile(stateFile, "utf8"));
    expect(Object.keys(state.files)).toEqual([log]);
  });

  /** A new tailer on the same state file (an agent started again) after its first poll. */
  async function afterStart(options: Partial<LogTailerOptions> = {}): Promise<Harness> {
    const h = manual(new JsonFileOffsetStore(stateFile), options);
    await h.tailer.poll();
    return h;
  }

  /** An agent's run that polled once and stopped (its offset saved). */
  async function oneRun(options: Partial<LogTailerOptions> = {}): Promise<Harness> {
    const h = await afterStart(options);
    await h.tailer.stop();
    return h;
  }

  it("copy-truncate while the agent was down", async () => {
    writeFileSync(log, text(lines("a", 2)));
    const h1 = await oneRun();
    appendFileSync(log, text(lines("b", 2)));
    copyFileSync(log, `${log}.0`);
    truncateSync(log, 0);
    appendFileSync(log, text(lines("c", 1)));
    const h2 = await afterStart();
    expect([...h1.lines, ...h2.lines]).toEqual([...lines("a", 2), ...lines("b", 2), ...lines("c", 1)]);
  });

  it("renamed while down and not recreated yet: drains the old file once", async () => {
    writeFileSync(log, text(lines("a", 1)));
    const h1 = await oneRun();
    appendFileSync(log, text(lines("b", 1)));
    renameSync(log, `${log}.0`);
    const h2 = await oneRun();
    const h3 = await afterStart();
    writeFileSync(log, text(lines("c", 1)));
    await h3.tailer.poll();
    expect([...h1.lines, ...h2.lines, ...h3.lines]).toEqual(["a0", "b0", "c0"]);
  });

  it("a long line's skipped rest survives a restart", async () => {
    writeFileSync(log, "z".repeat(150));
    const h1 = await oneRun({ maxLineBytes: 100 });
    appendFileSync(log, "zzz\nafter\n");
    const h2 = await afterStart({ maxLineBytes: 100 });
    expect([...h1.lines, ...h2.lines]).toEqual(["z".repeat(100), "after"]);
  });

  it("ignores a damaged state file", async () => {
    writeFileSync(log, text(["x"]));
    await oneRun();
    writeFileSync(stateFile, "{not json");
    const h2 = await afterStart({ startAt: "end" });
    appendFileSync(log, "y\n");
    await h2.tailer.poll();
    expect(h2.lines).toEqual(["y"]);
  });
});

describe("LogTailer reading a large backlog", () => {
  it("lets the event loop run while it reads a large backlog", async () => {
    let turns = 0;
    let reading = true;
    const turn = () => {
      turns++;
      if (reading) setImmediate(turn);
    };
    const atLine: number[] = [];
    const h = manual(new MemoryOffsetStore(), {
      maxLinesPerSecond: 1_000_000,
      maxBusyMsPerSecond: 1_000_000,
      onLine: () => atLine.push(turns),
    });
    writeFileSync(log, text(lines(`${"x".repeat(90)}-`, 30_000))); // about 3 MiB
    setImmediate(turn);
    await h.tailer.poll();
    reading = false;
    expect(atLine).toHaveLength(30_000);
    // Lines of the later mebibytes are delivered after the event loop ran again.
    expect(atLine.at(-1)).toBeGreaterThan(atLine[0] as number);
  });
});

describe("LogTailer and hostile files", () => {
  it("does not read a log path replaced by a symlink, and says so once", async () => {
    const secret = path.join(dir, "master.passwd");
    writeFileSync(secret, "root:$2b$10$secret:0:0::0:0:Charlie &:/root:/bin/ksh\n");
    symlinkSync(secret, log);
    const h = manual(new MemoryOffsetStore());
    for (let i = 0; i < 3; i++) await h.tailer.poll();
    expect(h.lines).toEqual([]);
    expect(h.errors).toHaveLength(1);
    expect(h.errors[0]).toBeInstanceOf(NotARegularFileError);
    expect((h.errors[0] as Error).message).toMatch(/is a symbolic link/);
  });

  it("moves off a log that became a symlink without reading the link's target", async () => {
    const secret = path.join(dir, "master.passwd");
    writeFileSync(secret, "root:secret\n");
    writeFileSync(log, text(["one"]));
    const h = manual(new MemoryOffsetStore(), { rotationGracePolls: 1 });
    await h.tailer.poll();
    rmSync(log);
    symlinkSync(secret, log);
    for (let i = 0; i < 4; i++) await h.tailer.poll();
    expect(h.lines).toEqual(["one"]);
    expect(h.errors.filter((e) => e instanceof NotARegularFileError)).toHaveLength(1);
    // A regular file again: read from its start.
    rmSync(log);
    writeFileSync(log, text(["two"]));
    for (let i = 0; i < 2; i++) await h.tailer.poll();
    expect(h.lines).toEqual(["one", "two"]);
  });

  it("neither waits on a FIFO nor reads a directory in the log's place", async () => {
    execFileSync("mkfifo", [log]);
    const h = manual(new MemoryOffsetStore());
    await h.tailer.poll();
    expect(h.errors[0]).toBeInstanceOf(NotARegularFileError);
    rmSync(log);
    mkdirSync(log);
    await h.tailer.poll();
    await h.tailer.poll();
    expect(h.errors.map((e) => (e as NotARegularFileError).kind)).toEqual(["a FIFO", "a directory"]);
    expect(h.lines).toEqual([]);
  });
});
