import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type LogComponent, LogComponentSchema } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { classify, compileRules, MIN_NEEDLE, scanNeedles } from "./classify.js";
import { RULES } from "./rules.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

interface CorpusLine {
  component: string;
  line: string;
  label: string;
  signal: string;
  version: string | null;
}

/** The records of a JSONL file of test/fixtures/logs. */
function fixture<T>(name: string): T[] {
  return readFileSync(path.resolve(repoRoot, "test/fixtures/logs", name), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as T);
}

const corpus = fixture<CorpusLine>("corpus.jsonl");

describe("corpus", () => {
  it("is the 77-line labelled corpus", () => {
    expect(corpus.length).toBe(77);
  });

  it.each(corpus.map((c, i) => [i + 1, c.component, c.signal, c] as const))(
    "line %i (%s) -> %s",
    (_n, _component, _signal, c) => {
      const r = classify(LogComponentSchema.parse(c.component), c.line);
      expect({ signal: r.signal, label: r.label }).toEqual({ signal: c.signal, label: c.label });
      expect(r.explain.length).toBeGreaterThan(10);
      if (r.label === "failed" || r.label === "degraded") expect(r.fix).toBeTruthy();
    },
  );

  it("never copies the line into a result", () => {
    for (const c of corpus) {
      const r = classify(LogComponentSchema.parse(c.component), c.line);
      for (const v of [r.explain, r.fix]) {
        if (v !== undefined) expect(c.line.includes(v)).toBe(false);
      }
      if (r.detail !== undefined) {
        expect(c.line.length - r.detail.length, r.detail).toBeGreaterThan(20);
        expect(r.detail.length).toBeLessThanOrEqual(120);
      }
    }
  });
});

describe("rule table", () => {
  it("every rule's regex matches only text that holds one of its needles (the prefilter is sound)", () => {
    // A match that holds none of the needles would be silently rejected by the prefilter.
    for (const [component, rules] of Object.entries(RULES)) {
      for (const rule of rules) {
        for (const c of corpus.filter((x) => x.component === component)) {
          const m = rule.re.exec(c.line);
          if (m !== null) {
            expect(
              rule.needles.some((n) => m[0].includes(n) || c.line.includes(n)),
              `${component}/${rule.signal}`,
            ).toBe(true);
          }
        }
        for (const n of rule.needles) expect(n.length, `${rule.signal} needle`).toBeGreaterThanOrEqual(2);
      }
    }
  });

  it("keeps the prefilter cheap: at most two needles shorter than MIN_NEEDLE per table", () => {
    for (const c of LogComponentSchema.options) {
      const p = compileRules(c).prefilter;
      expect(p.shortIds.length, c).toBeLessThanOrEqual(2);
      expect(p.m).toBeGreaterThanOrEqual(MIN_NEEDLE);
    }
  });

  it("the needle scan finds exactly the needles a naive search finds", () => {
    // Deterministic pseudo-random lines built from needle pieces, overlaps and noise.
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const c of LogComponentSchema.options) {
      const table = compileRules(c);
      const { needles } = table.prefilter;
      const pieces = [...needles, ...needles.map((n) => n.slice(0, n.length - 1)), " ", "ä", "x", "\t", "é€"];
      for (let i = 0; i < 3000; i++) {
        let line = "";
        const k = 1 + rnd(6);
        for (let j = 0; j < k; j++) line += pieces[rnd(pieces.length)];
        const found = scanNeedles(table.prefilter, table.present, line);
        const expected = needles.filter((n) => line.includes(n));
        const got = needles.filter((_, id) => table.present[id] === 1);
        table.present.fill(0);
        expect(got, JSON.stringify(line)).toEqual(expected);
        // -1: the line holds no needle and no level token (the prefilter turned it away).
        expect(found === -1 ? 0 : found).toBe(expected.length);
      }
    }
  });

  it("the gate lets in every level token of the catalog stage, alone in a line", () => {
    for (const c of LogComponentSchema.options) {
      const table = compileRules(c, 9646);
      for (const token of table.stage.tokens) {
        const line = `x ${token} y`;
        expect(scanNeedles(table.prefilter, table.present, line), `${c} ${JSON.stringify(token)}`).not.toBe(
          -1,
        );
        table.present.fill(0);
      }
    }
  });

  it("the gate's first alternation holds only parts that start with a capital letter (irregexp skips on them)", () => {
    for (const c of LogComponentSchema.options) {
      const { upper, lower, needles } = compileRules(c, 9646).prefilter;
      const parts = upper.source === "(?!)" ? [] : upper.source.split("|");
      for (const part of parts) expect(part, c).toMatch(/^[A-Z]/);
      // Every needle is in one of the two, whole or from its first capital letter on.
      for (const n of needles) {
        const i = n.search(/[A-Z]/);
        const inUpper = i !== -1 && parts.some((p) => p.replace(/\\(.)/g, "$1") === n.slice(i));
        expect(
          inUpper || lower.source.split("|").some((p) => p.replace(/\\(.)/g, "$1") === n),
          `${c} ${n}`,
        ).toBe(true);
      }
    }
  });

  it("compiles for every component with and without a release", () => {
    for (const component of LogComponentSchema.options) {
      expect(compileRules(component).rules.length).toBeGreaterThan(3);
      expect(compileRules(component, 9646).rules.length).toBeGreaterThan(3);
    }
  });

  it("unmatched lines are info with a null signal", () => {
    const r = classify("jicofo", "Jicofo 2024-01-01 10:00:00.000 INFO: [1] Something.else#1: nothing to see");
    expect(r).toMatchObject({ signal: null, label: "info" });
    expect(classify("nginx", "")).toMatchObject({ signal: null, label: "info" });
  });
});

/**
 * Variants the corpus does not hold: other prefixes, level names, users, domains, ports
 * (test/fixtures/logs/variants.jsonl: a line, its component, the signal it must get and what varies).
 */
const variants = fixture<{ component: LogComponent; line: string; signal: string | null }>(
  "variants.jsonl",
).map((v) => [v.component, v.line, v.signal] as const);

describe("variants keyed on the stable part", () => {
  it.each(variants)("%s: %s", (component, line, signal) => {
    expect(classify(component, line).signal).toBe(signal);
  });

  it("extracts details, not lines", () => {
    expect(
      classify("jicofo", "INFO: Added brewery instance: jvbbrewery@internal.auth.example.org/bridge-2")
        .detail,
    ).toBe("jvbbrewery@internal.auth.example.org/bridge-2");
    expect(
      classify("jvb", "Failed to initialize TCP harvester on port 4443: java.net.BindException").detail,
    ).toBe("4443");
    expect(classify("prosody", "c2s1 info Authenticated as focus@auth.example.org").detail).toBe(
      "focus@auth.example.org",
    );
    // BOSH sids are session credentials: never extracted.
    expect(
      classify("prosody", "mod_bosh\tinfo\tNew BOSH session, assigned it sid 'abc-def'").detail,
    ).toBeUndefined();
    // nginx request lines carry room names and tokens: never extracted.
    const r = classify(
      "nginx",
      '2024/01/01 [error] 1#1: *1 upstream timed out (110: x) while reading upstream, request: "GET /http-bind?token=SECRET HTTP/1.1"',
    );
    expect(JSON.stringify(r)).not.toContain("SECRET");
  });

  it("the same message classifies the same under different layouts", () => {
    const msg = "Added brewery instance: jvbbrewery@internal.auth.example.org/x";
    const layouts = [
      `Jicofo 2022-09-16 14:45:24.260 INFO: [35] BaseBrewery.addInstance#341: ${msg}`,
      `INFO: ${msg}`,
      `INFORMACIÓN: ${msg}`,
      `Sep 16 14:45:24 jicofo jicofo[1]: Jicofo 2022-09-16 14:45:24.260 INFO: [35] ${msg}`,
      `Sep 16 14:45:24 host jicofo.sh[4072]: ${msg}`,
      `jicofo_1  | Jicofo 2022-09-16 14:45:24.260 INFO: [35] ${msg}`,
      `2022-09-16T14:45:24.260Z ${msg}`,
    ];
    for (const l of layouts) expect(classify("jicofo", l).signal, l).toBe("brewery-instance-added");
  });
});

describe("releases", () => {
  const line =
    "focus.example.org:component  warn\tComponent not connected, bouncing error for: <iq to='focus.example.org' type='get'>";

  it("explains a focus component differently once jicofo is a client (release 5765)", () => {
    const old = classify("prosody", line, 5000);
    const cur = classify("prosody", line, 9646);
    const unknown = classify("prosody", line);
    for (const r of [old, cur, unknown])
      expect(r).toMatchObject({ signal: "component-not-connected", label: "failed" });
    expect(cur.fix).toContain("client_proxy");
    expect(old.fix).not.toContain("client_proxy");
    expect(unknown.explain).not.toBe(cur.explain);
    expect(cur.detail).toBe("focus.example.org");
  });
});

describe("multi-line records", () => {
  it("a SimpleFormatter header never hides the message", () => {
    const rec = "Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log\nINFO: Joined the room.";
    expect(classify("jicofo", rec).signal).toBe("brewery-room-joined");
    const info =
      "Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log\nINFO: Member left:55a71bd5";
    expect(classify("jicofo", info).signal).toBe("member-left");
    const none = "Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log\nINFO: nothing known";
    expect(classify("jicofo", none).signal).toBe("jul-simpleformatter-header");
  });

  // Each record: its lines, and what the whole record is classified as.
  it.each([
    {
      what: "prefers the cause over the message that announces it",
      component: "jvb",
      record: [
        "JVB 2020-10-22 13:52:16.903 WARNING: [20] MucClient.lambda$x#673: [MucClient id=shard hostname=localhost] error connecting",
        "org.jivesoftware.smack.SmackException$ConnectionException: The following addresses failed: 'localhost:5222' failed because: localhost/127.0.0.1 exception: java.net.ConnectException: Connection refused",
        "\tat org.jivesoftware.smack.tcp.XMPPTCPConnection.connectUsingConfiguration(XMPPTCPConnection.java:664)",
      ],
      expected: { signal: "xmpp-connection-refused", detail: "localhost:5222" },
    },
    {
      what: "the most severe line wins and stack frames are ignored",
      component: "jicofo",
      record: [
        "Jicofo 2020-04-25 10:09:56.623 SEVERE: [30] org.jitsi.jicofo.health.Health.log() Health check failed in PT0.005S:",
        "java.lang.RuntimeException: No operational bridges available (total bridge count: 0)",
        "\tat org.jivesoftware.smack.SmackException$NotConnectedException.<init>(SmackException.java:1)",
      ],
      expected: { signal: "no-operational-bridges", label: "failed" },
    },
  ] as const)("$what", ({ component, record, expected }) => {
    expect(classify(component, record.join("\n"))).toMatchObject(expected);
  });
});
