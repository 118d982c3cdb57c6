import { ManualClock } from "@vmmeet/node";
import { describe, expect, it } from "vitest";
import { isContinuation, isJulHeader, prefixLength, RecordJoiner, syslogTag } from "./joiner.js";

function joinAll(lines: string[]): string[] {
  const out: string[] = [];
  const j = new RecordJoiner({ onRecord: (t) => out.push(t), flushAfterMs: 0 });
  for (const l of lines) j.push(l);
  j.close();
  return out;
}

describe("prefixes", () => {
  it.each([
    ["Sep 16 14:45:24 jicofo jicofo[123]: Jicofo 2022-09-16 x", "Jicofo 2022-09-16 x", "jicofo"],
    ["Sep  6 04:05:06 jvb jvb[9]: \tat org.x.Y.z(Y.java:1)", "\tat org.x.Y.z(Y.java:1)", "jvb"],
    ["jicofo.sh[4072]: Jicofo 2018-04-19 x", "Jicofo 2018-04-19 x", "jicofo.sh"],
    ["Sep 16 14:45:24 host jicofo: INFO: hello", "INFO: hello", "jicofo"],
    ["web_1      | 2021/05/20 15:17:54 [error] x", "2021/05/20 15:17:54 [error] x", undefined],
    ["2022-09-16T14:45:24.260123Z Jicofo x", "Jicofo x", undefined],
    // The edges of each part.
    ["jvb_1 | Sep 16 14:45:24 host jvb[2]: x", "x", "jvb"],
    [`${"a".repeat(64)} | x`, "x", undefined],
    ["2022-09-16T 1:45Z x", "1:45Z x", undefined],
    [`2022-09-16T14:45:24.${"1".repeat(19)}Z x`, "x", undefined],
    ["2022-09-16T14:45:24Z Sep 16 14:45:24 jicofo[1]: x", "x", "jicofo"],
    ["Sep 16 14:45:24 hôst jvb-ä[77]: x", "x", "jvb-ä"],
    // A stamp without a tag is no prefix, after a compose name too.
    ["jvb_1 | Sep 16 14:45:24 x", "Sep 16 14:45:24 x", undefined],
  ])("%s", (line, message, tag) => {
    expect(line.slice(prefixLength(line))).toBe(message);
    expect(syslogTag(line)).toBe(tag);
  });

  // No prefix at all: the line is the message, and there is no syslog tag.
  it.each([
    // Jitsi's own layout, a SimpleFormatter record's lines.
    "Jicofo 2022-09-16 14:45:24.260 INFO: [35] x",
    "JVB 2022-09-16 14:45:24.260 INFO: [35] x",
    "INFO: Joined the room.",
    `${"a".repeat(65)} | x`,
    "Mar 19, 2021 6:15:08 PM org.jitsi.Foo log",
    // Just past the edges of each part.
    `2022-09-16T14:45:24.${"1".repeat(20)}Z x`,
    "Sep 16 14:45:24 jicofo: x",
    "Sep 16 14:45:24 host: x",
    "Sep 16 14:45:24 host prosody[x]: x",
    "Sep 1614:45:24 host jvb[2]: x",
    "jicofo: INFO: x",
    "jicofo[]: x",
  ])("%s", (line) => {
    expect(prefixLength(line)).toBe(0);
    expect(syslogTag(line)).toBeUndefined();
  });
});

describe("line kinds", () => {
  it("recognizes continuations", () => {
    for (const l of [
      "\tat org.jitsi.jicofo.Main.main(Main.kt:12)",
      "    at java.base/java.lang.Thread.run(Thread.java:829)",
      "^Iat org.jitsi.Foo$bar$1.invokeSuspend(Foo.kt:3)",
      "\t... 12 more",
      "Caused by: java.net.ConnectException: Connection refused",
      "java.lang.RuntimeException: No operational bridges available (total bridge count: 0)",
      "org.jivesoftware.smack.SmackException$NotConnectedException: The connection is no longer connected.",
      "java.lang.Exception: Failed to bind single-port",
      "Sep 16 14:45:24 jicofo jicofo[1]: \tat org.x.Y.z(Y.java:1)",
    ]) {
      expect(isContinuation(l), l).toBe(true);
    }
    for (const l of [
      "Jicofo 2022-09-16 14:45:24.260 INFO: [35] x",
      "INFO: Joined the room.",
      "Mar 19, 2021 6:15:08 PM org.jitsi.Foo log",
      "SEVERE: Failed",
      "at the moment nothing",
    ]) {
      expect(isContinuation(l), l).toBe(false);
    }
  });

  it("recognizes SimpleFormatter headers, localized too", () => {
    expect(isJulHeader("Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log")).toBe(true);
    expect(isJulHeader("Sept. 16, 2022 2:45:24 NACHM. org.jitsi.videobridge.Main main")).toBe(true);
    expect(isJulHeader("Sep 16 14:45:24 jvb jvb[7]: Sep 16, 2022 2:45:24 PM org.ice4j.Foo bar")).toBe(true);
    expect(isJulHeader("Jicofo 2022-09-16 14:45:24.260 INFO: [35] Foo: bar")).toBe(false);
  });
});

describe("RecordJoiner", () => {
  it("joins a two-line SimpleFormatter record, localized level included", () => {
    expect(
      joinAll([
        "Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log",
        "INFO: Joined the room.",
        "Mar 19, 2021 6:15:09 PM org.jitsi.utils.logging2.LoggerImpl log",
        "SCHWERWIEGEND: Failed to connect/login",
        "Caused by: java.net.ConnectException: Connection refused",
        "\tat org.x.Y.z(Y.java:1)",
      ]),
    ).toEqual([
      "Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log\nINFO: Joined the room.",
      "Mar 19, 2021 6:15:09 PM org.jitsi.utils.logging2.LoggerImpl log\nSCHWERWIEGEND: Failed to connect/login\n" +
        "Caused by: java.net.ConnectException: Connection refused\n\tat org.x.Y.z(Y.java:1)",
    ]);
  });

  it("keeps Jitsi's one-line layout one record each and attaches stack traces", () => {
    const lines = [
      "Jicofo 2020-04-25 10:09:56.623 SEVERE: [30] Health.log() Health check failed in PT0.005S:",
      "java.lang.RuntimeException: No operational bridges available (total bridge count: 0)",
      "\tat org.jitsi.jicofo.health.Health.check(Health.kt:1)",
      "Jicofo 2020-04-25 10:09:57.000 INFO: [30] Foo.bar() next",
      "Jicofo 2020-04-25 10:09:58.000 INFO: [30] Foo.bar() last",
    ];
    const out = joinAll(lines);
    expect(out).toEqual([lines.slice(0, 3).join("\n"), lines[3], lines[4]]);
  });

  it("joins through syslog prefixes (logger -t jicofo puts one on every line)", () => {
    const p = "Sep 16 14:45:24 jicofo jicofo[4711]: ";
    const out = joinAll([
      `${p}Sep 16, 2022 2:45:24 PM org.jitsi.jicofo.xmpp.XmppProvider doConnect`,
      `${p}WARNING: Failed to connect/login`,
      `${p}\tat org.jivesoftware.smack.tcp.XMPPTCPConnection.connect(XMPPTCPConnection.java:1)`,
      `${p}Jicofo 2022-09-16 14:45:25.000 INFO: [1] x`,
    ]);
    expect(out.length).toBe(2);
    expect(out[0]?.split("\n").length).toBe(3);
  });

  it("a header not followed by a level line stands alone", () => {
    const out = joinAll([
      "Mar 19, 2021 6:15:08 PM org.jitsi.Foo log",
      "Jicofo 2022-09-16 14:45:25.000 INFO: [1] x",
    ]);
    expect(out.length).toBe(2);
  });

  it("caps very long stack traces", () => {
    const out: string[] = [];
    const j = new RecordJoiner({ onRecord: (t) => out.push(t), flushAfterMs: 0, maxLines: 5 });
    j.push("Jicofo 2020-04-25 10:09:56.623 SEVERE: [30] x:");
    for (let i = 0; i < 50; i++) j.push(`\tat a.B.c(B.java:${i})`);
    j.close();
    expect(out[0]?.split("\n").length).toBe(5);
  });

  it("flushes the last record after an idle period, with one timer per idle period", () => {
    const clock = new ManualClock(1000);
    const out: string[] = [];
    const j = new RecordJoiner({ onRecord: (t) => out.push(t), flushAfterMs: 500, clock });
    j.push("Jicofo 2020-04-25 10:09:56.623 SEVERE: [30] x:");
    clock.advance(400);
    j.push("java.lang.Exception: boom");
    expect(clock.pending).toBe(1);
    clock.advance(400); // the timer fired at 500 ms, saw a newer line and re-armed for 1000 ms
    expect(out).toEqual([]);
    clock.advance(199);
    expect(out).toEqual([]);
    clock.advance(1); // one idle period without lines: emitted
    expect(out).toEqual(["Jicofo 2020-04-25 10:09:56.623 SEVERE: [30] x:\njava.lang.Exception: boom"]);
    expect(clock.pending).toBe(0);
    j.close();
    expect(out.length).toBe(1);
  });

  it("close() flushes, disarms and is idempotent", () => {
    const clock = new ManualClock();
    const out: string[] = [];
    const j = new RecordJoiner({ onRecord: (t) => out.push(t), clock });
    j.push("INFO: a");
    j.close();
    j.close();
    expect(out).toEqual(["INFO: a"]);
    expect(clock.pending).toBe(0);
    expect(() => j.push("x")).toThrow(/after close/);
  });
});
