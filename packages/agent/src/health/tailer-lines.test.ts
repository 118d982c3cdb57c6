// The log tailer's line work (tailer-lines.ts) seen through a LogTailer: over-long lines cut, bytes
// decoded, and the per-second budget that skips a flood's lines and reports them.
import { appendFileSync, writeFileSync } from "node:fs";
import { ManualClock } from "@vmmeet/node";
import { describe, expect, it } from "vitest";
import { lines, log, manual, text, track, useTailerFiles } from "../../../../test/helpers/log-tailer.js";
import { MemoryOffsetStore } from "./offsetStore.js";
import { LogTailer, type SkipReport } from "./tailer.js";

useTailerFiles();

describe("LogTailer, lines cut and decoded", () => {
  it("cuts very long lines, marks them, and skips their rest even across polls", async () => {
    const h = manual(new MemoryOffsetStore(), { maxLineBytes: 100 });
    writeFileSync(log, `${"x".repeat(250)}\nshort\n${"y".repeat(150)}`);
    await h.tailer.poll();
    appendFileSync(log, `${"y".repeat(60)}\nnext\n`);
    await h.tailer.poll();
    expect(h.lines).toEqual(["x".repeat(100), "short", "y".repeat(100), "next"]);
    expect(h.infos.map((i) => i.truncated)).toEqual([true, false, true, false]);
  });

  it("replaces invalid UTF-8 and control characters, keeps tabs and valid UTF-8", async () => {
    writeFileSync(log, Buffer.from([0x66, 0xff, 0x00, 0x67, 0x09, 0xc3, 0xa4, 0x1b, 0x0a]));
    const h = manual(new MemoryOffsetStore());
    await h.tailer.poll();
    expect(h.lines).toEqual(["f\uFFFD\uFFFDg\t\u00e4\uFFFD"]);
  });

  it("drops a byte-order mark opening a line and the CR of a CRLF, keeps a CR inside a line as U+FFFD", async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    writeFileSync(log, Buffer.concat([bom, Buffer.from("one\r\ntw\ro\n"), bom, bom, Buffer.from("x\n")]));
    const h = manual(new MemoryOffsetStore());
    await h.tailer.poll();
    expect(h.lines).toEqual(["one", "tw\uFFFDo", "\uFEFFx"]);
  });
});

describe("LogTailer under a flood", () => {
  it("delivers at most maxLinesPerSecond lines a second, counts the rest, and reports them", async () => {
    const clock = new ManualClock(0);
    const reports: SkipReport[] = [];
    const h = manual(new MemoryOffsetStore(), {
      clock,
      maxLinesPerSecond: 100,
      skipReportMs: 60_000,
      onSkipped: (r) => reports.push(r),
    });
    writeFileSync(log, text(lines("a", 250)));
    await h.tailer.poll();
    // The first 100 of the second are delivered, in order; 150 are counted, not decoded.
    expect(h.lines).toEqual(lines("a", 100));
    expect(reports).toEqual([{ lines: 150, cut: 0, bytes: 150 * 4, delivered: 0, since: 0 }]);
    // The same second: everything is over the budget; reported later (one report a minute at most).
    appendFileSync(log, text(["b0"]));
    await h.tailer.poll();
    expect(h.lines).toHaveLength(100);
    expect(reports).toHaveLength(1);
    // The next second has a budget again; health lines come through.
    clock.advance(1000);
    appendFileSync(log, text(lines("c", 3)));
    await h.tailer.poll();
    expect(h.lines.slice(100)).toEqual(["c0", "c1", "c2"]);
    expect(h.tailer.totals).toMatchObject({ delivered: 103, skippedLines: 151 });
    clock.advance(60_000);
    await h.tailer.poll();
    expect(reports[1]).toMatchObject({ lines: 1, delivered: 3, since: 0 });
    await h.tailer.stop();
    expect(reports).toHaveLength(2);
  });

  /**
   * 200 lines through a tailer with a 20 ms budget a second, each costing `line` in onLine; `cpuMs` is the
   * tailer's CPU clock (default: the real one).
   */
  async function budgeted(line: () => void, cpuMs?: () => number) {
    const reports: SkipReport[] = [];
    let delivered = 0;
    const tailer = new LogTailer({
      path: log,
      store: new MemoryOffsetStore(),
      startAt: "start",
      clock: new ManualClock(0),
      maxBusyMsPerSecond: 20,
      cpuMs,
      onSkipped: (r) => reports.push(r),
      onLine: () => {
        delivered++;
        line();
      },
    });
    track(tailer);
    writeFileSync(log, text(lines("a", 200)));
    await tailer.poll();
    return { delivered, reports };
  }

  it("also stops delivering once the second's time budget is spent in onLine", async () => {
    // A costly line (one whose signal sets off a lot): 2 ms of CPU, on the real CPU clock.
    const { delivered, reports } = await budgeted(() => {
      const until = performance.now() + 2;
      while (performance.now() < until);
    });
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(200);
    expect(reports).toEqual([
      { lines: 200 - delivered, cut: 0, bytes: expect.any(Number), delivered: 0, since: 0 },
    ]);
  });

  /**
   * 200 lines, each 2 ms of wall time off the CPU (as when the process waits for a core) and `cpuPerLine` ms
   * on a CPU clock of the test's own: the real one counts every thread of the process (V8's collector and
   * compiler too, where Node has no per-thread figure), and on a loaded machine those alone could spend the
   * 20 ms in the 400 ms this waits.
   */
  async function offCpu(cpuPerLine: number) {
    let cpuMs = 0;
    const blocked = new Int32Array(new SharedArrayBuffer(4));
    return budgeted(
      () => {
        Atomics.wait(blocked, 0, 0, 2);
        cpuMs += cpuPerLine;
      },
      () => cpuMs,
    );
  }

  it("counts the time budget in CPU time: time spent waiting (a loaded machine) skips nothing", async () => {
    // 400 ms of wall time, 2 ms of CPU.
    expect(await offCpu(0.01)).toEqual({ delivered: 200, reports: [] });
  });

  it("stops at the line whose CPU time spends the budget", async () => {
    // 0.5 ms of CPU a line: the 40th line spends the 20 ms.
    expect(await offCpu(0.5)).toEqual({
      delivered: 40,
      reports: [{ lines: 160, cut: 0, bytes: expect.any(Number), delivered: 0, since: 0 }],
    });
  });

  it("counts what it skipped of a line longer than maxLineBytes, with no newline in sight", async () => {
    const reports: SkipReport[] = [];
    const h = manual(new MemoryOffsetStore(), {
      maxLineBytes: 100,
      maxBytesPerPoll: 1000,
      onSkipped: (r) => reports.push(r),
    });
    writeFileSync(log, "x".repeat(5000));
    for (let i = 0; i < 5; i++) await h.tailer.poll();
    expect(h.lines).toEqual(["x".repeat(100)]);
    appendFileSync(log, "yyy\nafter\n");
    await h.tailer.poll();
    await h.tailer.stop();
    expect(h.lines).toEqual(["x".repeat(100), "after"]);
    const sum = reports.reduce((a, r) => ({ cut: a.cut + r.cut, bytes: a.bytes + r.bytes }), {
      cut: 0,
      bytes: 0,
    });
    expect(sum).toEqual({ cut: 1, bytes: 4900 + 3 });
  });
});
