import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { LogComponent } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { type ClassifyResult, GateScan, ruleTable, scanNeedles, UNMATCHED } from "./classify.js";
import { BOSH_DISCONNECT, NORMAL_DISCONNECT, UNENCRYPTED_DISCONNECT } from "./correlator.js";
import { LogClassifier } from "./pipeline.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const corpusLines: string[] = readFileSync(path.resolve(repoRoot, "test/fixtures/logs/corpus.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => (JSON.parse(l) as { line: string }).line)
  .filter((l) => !l.includes("\n"));

/** prosody sessions the correlator refines: a login then a disconnect, a probe, a BOSH session, a wrong password. */
const sessions = [
  "Sep 16 14:37:00 c2s60a5b549900  info    Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)",
  "Sep 16 14:37:01 c2s60a5b549900  info    Authenticated as focus@auth.jts.fips.de",
  "Sep 16 14:38:00 c2s5600beef  info    Client connected",
  "Sep 16 14:38:01 c2s5600beef  info    Client disconnected: connection closed",
  "Sep 16 14:39:00 bosh7f3a-11  info    New BOSH session, assigned it sid '7f3a-11'",
  "Sep 16 14:39:05 bosh7f3a-11  info    Client disconnected: connection closed",
  "Sep 16 14:40:00 c2s60b1aced0c0  info    Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)",
  "Sep 16 14:40:01 c2s60b1aced0c0  info    Client disconnected: connection closed",
  "Sep 16 15:00:00 c2s60a5b549900  info    Client disconnected: connection closed",
];

/** Lines no rule or level token holds, as most of a real log. */
const filler = [
  "Sep 16 14:36:20 mod_bosh\tinfo\tnothing to see here",
  "2026-12-06 12:00:00.000 INFO: [42] JvbDoctor.run#120: Health check passed in 3ms",
  "",
  "\r",
  "Sep 16 14:36:22 c2s60b1aced0c0  debug   Received[c2s]: <iq type='get' id='x'>",
];

/** The test log: every corpus line and session between filler, with CRLF endings here and there. */
function testLog(): string[] {
  const out: string[] = [];
  [...corpusLines, ...sessions].forEach((l, i) => {
    out.push(filler[i % filler.length] as string, i % 7 === 0 ? `${l}\r` : l);
  });
  return out;
}

interface Seen {
  results: ClassifyResult[];
  texts: string[];
}

/** A classifier that records every record it hands out. */
function recording(component: LogComponent, onUnmatched?: (n: number) => void) {
  const seen: Seen = { results: [], texts: [] };
  const classifier = new LogClassifier({
    component,
    release: 9646,
    onRecord: (r, t) => {
      seen.results.push(r);
      seen.texts.push(t);
    },
    ...(onUnmatched === undefined ? {} : { onUnmatched }),
  });
  return { seen, classifier };
}

function lineByLine(component: LogComponent, lines: readonly string[], maxLine: number): Seen {
  const { seen, classifier } = recording(component);
  for (const l of lines) classifier.push((l.endsWith("\r") ? l.slice(0, -1) : l).slice(0, maxLine));
  classifier.close();
  return seen;
}

/** The same lines through pushLines, cut into chunks of `per` lines, each chunk with text around it. */
function chunked(
  component: LogComponent,
  lines: readonly string[],
  per: number,
  maxLine: number,
  counted?: { n: number },
): Seen {
  const { seen, classifier } = recording(
    component,
    counted === undefined
      ? undefined
      : (n) => {
          counted.n += n;
        },
  );
  const before = "garbage before\n";
  for (let i = 0; i < lines.length; i += per) {
    const body = `${lines.slice(i, i + per).join("\n")}\n`;
    classifier.pushLines(
      `${before}${body}partial line after`,
      before.length,
      before.length + body.length,
      maxLine,
    );
  }
  classifier.close();
  return seen;
}

describe("LogClassifier.pushLines (the gate over a whole chunk)", () => {
  const lines = testLog();

  it.each(["prosody", "jicofo", "jvb", "nginx"] as const)(
    "%s: every record as push() gives it line by line, whatever the chunk size",
    (component) => {
      const expected = lineByLine(component, lines, Number.POSITIVE_INFINITY);
      expect(expected.results.filter((r) => r.signal !== null).length).toBeGreaterThan(1);
      for (const per of [1, 2, 5, 64, lines.length]) {
        const got = chunked(component, lines, per, Number.POSITIVE_INFINITY);
        expect(got.texts).toEqual(expected.texts);
        expect(got.results).toEqual(expected.results);
      }
    },
  );

  it("prosody: the session correlator sees the same history (a login, a probe, BOSH, a wrong password)", () => {
    const got = chunked("prosody", lines, 3, Number.POSITIVE_INFINITY);
    const refined = got.results.filter(
      (r) => r === NORMAL_DISCONNECT || r === UNENCRYPTED_DISCONNECT || r === BOSH_DISCONNECT,
    );
    expect(refined).toEqual([UNENCRYPTED_DISCONNECT, BOSH_DISCONNECT, NORMAL_DISCONNECT]);
    const last = got.texts.indexOf(sessions[7] as string);
    expect(got.results[last]).toMatchObject({ signal: "c2s-auth-failed-disconnect", label: "failed" });
  });

  it("onUnmatched counts the lines the gate turns away; the others still come one by one", () => {
    for (const component of ["prosody", "nginx"] as const) {
      const expected = lineByLine(component, lines, Number.POSITIVE_INFINITY);
      const counted = { n: 0 };
      const got = chunked(component, lines, 4, Number.POSITIVE_INFINITY, counted);
      expect(got.results.length + counted.n).toBe(expected.results.length);
      expect(counted.n).toBeGreaterThan(0);
      const signals = (s: Seen) => s.results.filter((r) => r.signal !== null);
      expect(signals(got)).toEqual(signals(expected));
    }
  });

  it("cuts each line to maxLine first: a needle past the cap is not seen, as line by line", () => {
    const long = `Sep 16 14:36:20 c2s5600beef  info    ${"x".repeat(100)} Client connected`;
    const capped = [long, sessions[2] as string];
    for (const maxLine of [60, 1000]) {
      const expected = lineByLine("prosody", capped, maxLine);
      const got = chunked("prosody", capped, 2, maxLine);
      expect(got.results).toEqual(expected.results);
      expect(got.texts).toEqual(expected.texts);
    }
    expect(lineByLine("prosody", capped, 60).results[0]).toBe(UNMATCHED);
    expect(lineByLine("prosody", capped, 1000).results[0]?.signal).toBe("c2s-client-connected");
  });
});

describe("GateScan", () => {
  it.each(["prosody", "jicofo", "jvb", "nginx"] as const)(
    "%s: hits exactly the lines the per-line gate lets in",
    (component) => {
      const table = ruleTable(component, 9646);
      const lines = testLog().map((l) => l.replace(/\r$/, ""));
      const text = `${lines.join("\n")}\n`;
      const perLine: number[] = [];
      lines.forEach((l, i) => {
        if (scanNeedles(table.prefilter, table.present, l) >= 0) perLine.push(i);
        table.present.fill(0);
      });
      const gate = new GateScan(table.prefilter, text, text.length);
      const hits: number[] = [];
      for (let from = 0; ; ) {
        const hit = gate.next(from);
        if (hit === -1) break;
        hits.push(text.slice(0, hit).split("\n").length - 1);
        from = text.indexOf("\n", hit) + 1;
      }
      expect(perLine.length).toBeGreaterThan(0);
      expect(hits).toEqual(perLine);
    },
  );
});
