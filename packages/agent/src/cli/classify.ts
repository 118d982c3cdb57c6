import { StringDecoder } from "node:string_decoder";
import type { LogComponent } from "@vmmeet/shared";
import type { ClassifyResult } from "../health/classify.js";
import { LogClassifier } from "../health/pipeline.js";

export const CLASSIFY_USAGE = `usage: vmmeet-agent classify --component prosody|jicofo|jvb|nginx [--release N] [--count]

Reads log lines on stdin and prints one JSON object per record:
  {"signal": NAME or null, "label": "healthy"|"degraded"|"failed"|"info", "explain": TEXT}
jicofo and jvb lines are joined into java.util.logging records (header, level line, stack trace)
first. --release is the jitsi-meet release number (e.g. 9646) where messages differ.
--count prints only totals at the end (like grep -c):
  {"records": N, "labels": {LABEL: N, ...}, "signals": {NAME: N, ...}}
`;

/** Exit code for usage errors (as rcctl(8) uses 2 for a bad name). */
export const EXIT_USAGE = 2;

interface Writer {
  write(chunk: string): boolean;
  once(event: "drain", listener: () => void): unknown;
}

type ParsedArgs =
  | { component: LogComponent; release: number | undefined; count: boolean }
  | { help: true }
  | { error: string };

/**
 * The components, as LogComponentSchema lists them (a test checks both agree). Kept local so
 * that the classify command does not load every zod schema at startup.
 */
export const CLASSIFY_COMPONENTS = [
  "prosody",
  "jicofo",
  "jvb",
  "nginx",
] as const satisfies readonly LogComponent[];
const COMPONENTS = CLASSIFY_COMPONENTS.join(", ");

function isComponent(s: string): s is LogComponent {
  return (CLASSIFY_COMPONENTS as readonly string[]).includes(s);
}

export function parseClassifyArgs(argv: readonly string[]): ParsedArgs {
  const args = argv[0] === "classify" ? argv.slice(1) : [...argv];
  let component: string | undefined;
  let release: string | undefined;
  let count = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === "-h" || a === "--help") return { help: true };
    if (a === "--count") {
      count = true;
      continue;
    }
    const eq = a.indexOf("=");
    const name = a.startsWith("--") && eq > 0 ? a.slice(0, eq) : a;
    if (name !== "--component" && name !== "--release")
      return { error: `unknown argument ${JSON.stringify(a)}` };
    let value: string | undefined;
    if (eq > 0 && a.startsWith("--")) value = a.slice(eq + 1);
    else {
      value = args[i + 1];
      i++;
    }
    if (value === undefined || value === "" || value.startsWith("--"))
      return { error: `${name} needs a value` };
    if (name === "--component") component = value;
    else release = value;
  }
  if (component === undefined) return { error: `missing --component (one of ${COMPONENTS})` };
  if (!isComponent(component)) {
    return { error: `--component must be one of ${COMPONENTS} (got ${JSON.stringify(component)})` };
  }
  let rel: number | undefined;
  if (release !== undefined) {
    if (!/^\d{1,6}$/.test(release)) {
      return {
        error: `--release must be a jitsi-meet release number such as 9646 (got ${JSON.stringify(release)})`,
      };
    }
    rel = Number(release);
  }
  return { component, release: rel, count };
}

/** JSON of a result without detail is the same every time: build it once per rule result. */
const jsonCache = new WeakMap<ClassifyResult, string>();

function toJsonLine(r: ClassifyResult): string {
  if (r.detail === undefined) {
    const hit = jsonCache.get(r);
    if (hit !== undefined) return hit;
  }
  const s = `${JSON.stringify({ signal: r.signal, label: r.label, explain: r.explain })}\n`;
  if (r.detail === undefined) jsonCache.set(r, s);
  return s;
}

const OUT_CHUNK = 1 << 16;
const MAX_LINE = 64 * 1024;

/**
 * `vmmeet-agent classify`: stdin lines -> one JSON object per record on stdout. Returns the exit
 * code (0, or 2 for a usage error); never calls process.exit.
 */
export async function runClassify(
  argv: readonly string[],
  stdin: AsyncIterable<Buffer | string>,
  stdout: Writer,
  stderr: Pick<Writer, "write"> = process.stderr,
): Promise<number> {
  const args = parseClassifyArgs(argv);
  if ("help" in args) {
    stdout.write(CLASSIFY_USAGE);
    return 0;
  }
  if ("error" in args) {
    stderr.write(`vmmeet-agent classify: ${args.error}\n${CLASSIFY_USAGE}`);
    return EXIT_USAGE;
  }

  const totals = args.count
    ? {
        records: 0,
        labels: { healthy: 0, degraded: 0, failed: 0, info: 0 },
        signals: new Map<string, number>(),
      }
    : undefined;
  let out = "";
  let inChunk = false;
  const drain = () => new Promise<void>((resolve) => stdout.once("drain", resolve));
  let blocked: Promise<void> | undefined;
  const writeOut = () => {
    if (out === "") return;
    if (!stdout.write(out) && blocked === undefined) {
      blocked = drain().then(() => {
        blocked = undefined;
      });
    }
    out = "";
  };

  const classifier = new LogClassifier({
    component: args.component,
    ...(args.release === undefined ? {} : { release: args.release }),
    ...(totals === undefined
      ? {}
      : {
          onUnmatched: (lines: number) => {
            totals.records += lines;
            totals.labels.info += lines;
          },
        }),
    onRecord: (r) => {
      if (totals !== undefined) {
        totals.records++;
        totals.labels[r.label]++;
        if (r.signal !== null) totals.signals.set(r.signal, (totals.signals.get(r.signal) ?? 0) + 1);
        return;
      }
      out += toJsonLine(r);
      // A record flushed by the joiner's idle timer (live input such as `tail -f`) is printed at once.
      if (!inChunk || out.length >= OUT_CHUNK) writeOut();
    },
  });

  const decoder = new StringDecoder("utf8");
  let rest = "";
  // A line longer than MAX_LINE is classified on its first MAX_LINE characters; the rest of it
  // is dropped (the same cap as the tailer's).
  let skipping = false;
  const feed = (text: string) => {
    let start = 0;
    if (skipping) {
      const nl = text.indexOf("\n");
      if (nl === -1) return text.length > MAX_LINE ? "" : text;
      skipping = false;
      start = nl + 1;
    }
    const last = text.lastIndexOf("\n");
    if (last >= start) {
      classifier.pushLines(text, start, last + 1, MAX_LINE);
      start = last + 1;
    }
    let tail = start === 0 ? text : text.slice(start);
    if (tail.length > MAX_LINE) {
      classifier.push(tail.slice(0, MAX_LINE));
      skipping = true;
      tail = "";
    }
    return tail;
  };

  try {
    for await (const chunk of stdin) {
      inChunk = true;
      const text = rest + (typeof chunk === "string" ? chunk : decoder.write(chunk));
      rest = feed(text);
      inChunk = false;
      writeOut();
      if (blocked !== undefined) await blocked;
    }
    rest += decoder.end();
    if (rest !== "" && !skipping) classifier.push(rest.endsWith("\r") ? rest.slice(0, -1) : rest);
  } finally {
    inChunk = true;
    classifier.close();
    inChunk = false;
    writeOut();
  }
  if (totals !== undefined) {
    const signals = Object.fromEntries(
      [...totals.signals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])),
    );
    out = `${JSON.stringify({ records: totals.records, labels: totals.labels, signals })}\n`;
    writeOut();
  }
  if (blocked !== undefined) await blocked;
  return 0;
}
