import { EventEmitter } from "node:events";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { ClassifyOutputSchema, LogComponentSchema } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { CLASSIFY_COMPONENTS, EXIT_USAGE, parseClassifyArgs, runClassify } from "./classify.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");
const corpus = readFileSync(path.resolve(repoRoot, "test/fixtures/logs/corpus.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l !== "")
  .map((l) => JSON.parse(l) as { component: string; line: string; signal: string; label: string });

/** A stdout that can refuse writes (backpressure) until drained. */
class Sink extends EventEmitter {
  text = "";
  refuse = 0;
  write(chunk: string): boolean {
    this.text += chunk;
    if (this.refuse > 0) {
      this.refuse--;
      setImmediate(() => this.emit("drain"));
      return false;
    }
    return true;
  }
  get objects(): unknown[] {
    return this.text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l));
  }
}

async function run(argv: string[], input: (string | Buffer)[]) {
  const out = new Sink();
  const err = new Sink();
  const code = await runClassify(argv, Readable.from(input), out, err);
  return { code, out, err };
}

/** What the command printed on stdout for `input`; it must exit 0. */
async function classified(argv: string[], input: (string | Buffer)[]): Promise<Sink> {
  const { code, out } = await run(argv, input);
  expect(code).toBe(0);
  return out;
}

/** What the printed objects must be, in order: each with its signal and label. */
const labelled = (...expected: [signal: string | null, label: string][]) =>
  expected.map(([signal, label]) => expect.objectContaining({ signal, label }));

describe("runClassify", () => {
  it("prints one JSON object per prosody line with the corpus' signals", async () => {
    const lines = corpus.filter((c) => c.component === "prosody");
    const out = await classified(["--component", "prosody"], [lines.map((c) => c.line).join("\n") + "\n"]);
    const objs = out.objects;
    expect(objs.length).toBe(lines.length);
    for (const o of objs) expect(() => ClassifyOutputSchema.parse(o)).not.toThrow();
    // The correlator may refine disconnects (lines of one session); every other line keeps its label.
    expect(objs.map((o) => (o as { signal: string }).signal)).toEqual(lines.map((c) => c.signal));
  });

  it("joins java.util.logging records for jicofo", async () => {
    const input = [
      "Mar 19, 2021 6:15:08 PM org.jitsi.utils.logging2.LoggerImpl log\n",
      "INFO: Joined the room.\n",
      "Mar 19, 2021 6:15:09 PM org.jitsi.utils.logging2.LoggerImpl log\nINFO: Added brewery instance: jvbbrewery@internal.auth.x/1\n",
      "Jicofo 2020-04-25 10:09:56.623 SEVERE: [30] Health.log() Health check failed in PT0.005S:\n",
      "java.lang.RuntimeException: No operational bridges available (total bridge count: 0)\n\tat a.B.c(B.java:1)\n",
    ];
    const out = await classified(["classify", "--component=jicofo"], input);
    expect(out.objects).toEqual(
      labelled(
        ["brewery-room-joined", "healthy"],
        ["brewery-instance-added", "healthy"],
        ["no-operational-bridges", "failed"],
      ),
    );
    expect(Object.keys(out.objects[0] as object).sort()).toEqual(["explain", "label", "signal"]);
  });

  it("handles CRLF, a last line without newline, chunks split inside a UTF-8 character", async () => {
    const text = "c2s1 info Authenticated as focus@auth.exämple.org\r\nnothing here\r\nClient connected";
    const buf = Buffer.from(text, "utf8");
    const cut = buf.indexOf(0xc3) + 1; // inside "ä"
    const { out } = await run(["--component", "prosody"], [buf.subarray(0, cut), buf.subarray(cut)]);
    expect(out.objects.map((o) => (o as { signal: string | null }).signal)).toEqual([
      "c2s-authenticated-focus",
      null,
      "c2s-client-connected",
    ]);
  });

  it("waits for drain when stdout refuses", async () => {
    const out = new Sink();
    out.refuse = 3;
    const many = Array.from({ length: 50 }, () => `${"Client connected\n".repeat(2000)}`);
    const code = await runClassify(["--component", "prosody"], Readable.from(many), out, new Sink());
    expect(code).toBe(0);
    expect(out.refuse).toBe(0);
    expect(out.text.split("\n").length - 1).toBe(100_000);
  });

  it("caps very long lines", async () => {
    const long = `Client connected ${"x".repeat(200_000)}`;
    const { out } = await run(
      ["--component", "prosody"],
      [long.slice(0, 70_000), long.slice(70_000), "\nClient connected\n"],
    );
    expect(out.objects.length).toBe(2);
  });

  it.each([
    [[], /missing --component/],
    [["--component"], /--component needs a value/],
    [["--component", "web"], /--component must be one of prosody, jicofo, jvb, nginx \(got "web"\)/],
    [["--component", "jvb", "--release", "latest"], /--release must be a jitsi-meet release number/],
    [["--component", "jvb", "--verbose"], /unknown argument "--verbose"/],
  ])("usage error %j -> exit 2", async (argv, msg) => {
    const { code, out, err } = await run(argv, []);
    expect(code).toBe(EXIT_USAGE);
    expect(err.text).toMatch(msg);
    expect(err.text).toContain("usage: vmmeet-agent classify");
    expect(out.text).toBe("");
  });

  it("--help prints usage and exits 0", async () => {
    const out = await classified(["--help"], []);
    expect(out.text).toContain("--component");
  });

  it("--count prints totals only", async () => {
    const lines = corpus.filter((c) => c.component === "jvb").map((c) => c.line);
    const out = await classified(["--component", "jvb", "--count"], [`${lines.join("\n")}\n`]);
    expect(out.objects.length).toBe(1);
    const totals = out.objects[0] as {
      records: number;
      labels: Record<string, number>;
      signals: Record<string, number>;
    };
    expect(Object.values(totals.labels).reduce((a, b) => a + b, 0)).toBe(totals.records);
    expect(totals.signals["port-bind-failed"]).toBeGreaterThanOrEqual(1);
    expect(totals.signals["srtp-native-loaded"]).toBe(1);
  });

  it("prints an unknown warning of a German JVM as degraded, explained by template, not by value", async () => {
    const input = [
      "JVB 2024-06-01 08:00:00.000 WARNUNG: [7] Foo.bar#1: token=Zq7secret not accepted\n",
      "JVB 2024-06-01 08:00:00.000 SCHWERWIEGEND: [7] MainKt.main#80: An uncaught exception occurred in thread=main\n",
      "JVB 2024-06-01 08:00:00.000 INFORMATION: [7] Foo.bar#1: nothing to see\n",
    ];
    const out = await classified(["--component", "jvb"], input);
    expect(out.objects).toEqual(
      labelled(["unrecognised-warning", "degraded"], ["uncaught-exception", "failed"], [null, "info"]),
    );
    expect(out.text).not.toContain("Zq7secret");
  });

  it("knows the same components as the shared schema", () => {
    expect([...CLASSIFY_COMPONENTS]).toEqual(LogComponentSchema.options);
  });

  it("parses --release", () => {
    expect(parseClassifyArgs(["--component", "prosody", "--release", "9646"])).toEqual({
      component: "prosody",
      release: 9646,
      count: false,
    });
  });
});
