import { ManualClock } from "@vmmeet/node";
import { ErrorCode } from "@vmmeet/shared";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { BAD_FRAME_CLOSE_LIMIT, BAD_FRAME_REPLY_LIMIT, BadFrameCounter } from "./badFrames.js";

function setup() {
  const clock = new ManualClock(1_000_000);
  const lines: { msg: string; code?: string; repeated?: number }[] = [];
  const logger = pino({ level: "warn" }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const counter = new BadFrameCounter(clock, logger);
  counter.newLink();
  /** `n` invalid frames at once: their verdicts. */
  const burst = (n: number) =>
    Array.from({ length: n }, () => counter.note(ErrorCode.badFrame, "not JSON").verdict);
  return { clock, lines, counter, burst };
}

describe("BadFrameCounter", () => {
  it("answers the first invalid frames of a minute, drops the next ones, and closes the link past the limit", () => {
    const { counter, burst } = setup();
    const verdicts = burst(BAD_FRAME_CLOSE_LIMIT + 1);
    expect(verdicts.slice(0, BAD_FRAME_REPLY_LIMIT).every((v) => v === "reply")).toBe(true);
    expect(verdicts.slice(BAD_FRAME_REPLY_LIMIT, BAD_FRAME_CLOSE_LIMIT).every((v) => v === "drop")).toBe(
      true,
    );
    expect(verdicts.at(-1)).toBe("close");
    expect(counter.dropped).toBe(BAD_FRAME_CLOSE_LIMIT - BAD_FRAME_REPLY_LIMIT);
  });

  it("starts a new window after a minute, and on a new link", () => {
    const { clock, counter, burst } = setup();
    burst(BAD_FRAME_REPLY_LIMIT);
    clock.advance(60_001);
    expect(burst(1)).toEqual(["reply"]);
    burst(BAD_FRAME_REPLY_LIMIT);
    expect(burst(1)).toEqual(["drop"]);
    counter.newLink();
    expect(burst(1)).toEqual(["reply"]);
  });

  it("logs one line per kind and minute, whatever the links, then says how many more came", () => {
    const { clock, lines, counter, burst } = setup();
    burst(5);
    counter.newLink();
    burst(5);
    expect(lines.map((l) => l.msg)).toEqual(["invalid frame from coordinator"]);
    counter.note(ErrorCode.tooLarge, "too large");
    expect(lines.map((l) => l.code)).toEqual([ErrorCode.badFrame, ErrorCode.tooLarge]);
    clock.advance(60_001);
    burst(1);
    expect(lines.at(-1)).toMatchObject({ code: ErrorCode.badFrame, repeated: 9 });
  });
});
