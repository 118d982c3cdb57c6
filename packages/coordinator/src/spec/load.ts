// Reading a spec file: YAML -> migrations -> zod schema with its cross-field rules. Every problem comes back
// at once, each with its spec path and, when the YAML has that node, the file and line.
import { readFile } from "node:fs/promises";
import {
  componentReleases,
  JITSI_RELEASES,
  jitsiRelease,
  SPEC_VERSION,
  type Spec,
  SpecSchema,
} from "@vmmeet/shared";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from "yaml";
import type { z } from "zod";

export interface SpecProblem {
  /** Dotted path with indexes in brackets, e.g. nodes[2].address; "" for the document itself. */
  path: string;
  message: string;
  file: string;
  line?: number;
}

export type SpecResult =
  | { ok: true; spec: Spec; warnings: SpecProblem[] }
  | { ok: false; problems: SpecProblem[] };

/** Upgrades from older spec versions: MIGRATIONS[n] turns a version n document into version n + 1. */
export const MIGRATIONS: Record<number, (raw: Record<string, unknown>) => Record<string, unknown>> = {};

export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out;
}

/** `path: message (file:line)` — the one format the CLI prints. */
export function formatProblem(p: SpecProblem): string {
  const where = p.line !== undefined ? ` (${p.file}:${p.line})` : "";
  return `${p.path === "" ? "(spec)" : p.path}: ${p.message}${where}`;
}

/** `path: warning: message (file:line)`: a warning, in the same shape as a problem. */
export function formatWarning(p: SpecProblem): string {
  return formatProblem({ ...p, message: `warning: ${p.message}` });
}

export async function loadSpecFile(file: string): Promise<SpecResult> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file (create one with 'vmmeet init')" : (err as Error).message;
    return { ok: false, problems: [{ path: "", message: why, file }] };
  }
  return parseSpecText(text, file);
}

export function parseSpecText(text: string, file: string): SpecResult {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((e) => ({
        path: "",
        // prettyErrors appends " at line L, column C:" and a code frame; the line goes in its own field.
        message: `YAML: ${(e.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
        file,
        line: e.linePos?.[0]?.line,
      })),
    };
  }
  // An alias whose anchor is not set before it (`*name` without an earlier `&name`) parses without an error
  // but has no value: toJS() throws. Said like the other YAML problems, at the alias's line.
  let raw: unknown;
  try {
    raw = doc.toJS();
  } catch (err) {
    let line: number | undefined;
    visit(doc, {
      Alias(_, alias) {
        if (line === undefined && alias.resolve(doc) === undefined && alias.range)
          line = lines.linePos(alias.range[0]).line;
      },
    });
    return { ok: false, problems: [{ path: "", message: `YAML: ${(err as Error).message}`, file, line }] };
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return {
      ok: false,
      problems: [{ path: "", message: "must be a YAML mapping (see 'vmmeet init')", file, line: 1 }],
    };
  }
  const lineOf = (path: readonly PropertyKey[]): number | undefined => {
    // Walk as deep as the document goes: a missing key is reported at its parent.
    for (let depth = path.length; depth >= 0; depth--) {
      const node = doc.getIn(path.slice(0, depth) as unknown[], true) as Node | undefined;
      if (node && (isMap(node) || isSeq(node) || isScalar(node)) && node.range)
        return lines.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const migrated = migrate(raw as Record<string, unknown>);
  if ("problem" in migrated)
    return {
      ok: false,
      problems: [{ path: "version", message: migrated.problem, file, line: lineOf(["version"]) }],
    };
  const parsed = SpecSchema.safeParse(migrated.raw);
  if (!parsed.success) {
    return { ok: false, problems: issuesToProblems(parsed.error.issues, file, lineOf) };
  }
  return {
    ok: true,
    spec: parsed.data,
    warnings: specWarnings(parsed.data).map((w) => ({ ...w, file, line: lineOf(w.pathParts) })),
  };
}

function issuesToProblems(
  issues: z.core.$ZodIssue[],
  file: string,
  lineOf: (path: readonly PropertyKey[]) => number | undefined,
): SpecProblem[] {
  const seen = new Set<string>();
  const out: SpecProblem[] = [];
  for (const issue of issues) {
    const message = issueMessage(issue);
    const key = `${formatPath(issue.path)}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path: formatPath(issue.path), message, file, line: lineOf(issue.path) });
  }
  return out;
}

function issueMessage(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "unrecognized_keys":
      return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} (check the spelling; see the spec reference in README.md)`;
    case "invalid_type":
      if (issue.input === undefined) return `is required (${issue.expected})`;
      return `must be ${issue.expected === "number" ? "a number" : issue.expected === "array" ? "a list" : issue.expected === "object" ? "a mapping" : `a ${issue.expected}`}`;
    case "invalid_value":
      return issue.values.length === 1 && issue.message.startsWith("Invalid input")
        ? `must be ${JSON.stringify(issue.values[0])}`
        : issue.message.startsWith("Invalid")
          ? // Sorted: zod lists "13" before "0.11" (integer-like keys come first in a JS object).
            `must be one of ${[...issue.values]
              .map((v) => JSON.stringify(v))
              .sort()
              .join(", ")}`
          : issue.message;
    case "invalid_union":
      return issue.message.startsWith("Invalid") ? "does not match any allowed form" : issue.message;
    case "too_small":
      return issue.message.startsWith("Too small")
        ? `must be at least ${String(issue.minimum)}`
        : issue.message;
    case "too_big":
      return issue.message.startsWith("Too big") ? `must be at most ${String(issue.maximum)}` : issue.message;
    default:
      return issue.message;
  }
}

function migrate(raw: Record<string, unknown>): { raw: Record<string, unknown> } | { problem: string } {
  let doc = raw;
  let version = doc.version;
  if (version === undefined) return { problem: `is required (this vmmeet reads version ${SPEC_VERSION})` };
  if (typeof version !== "number" || !Number.isInteger(version) || version < 1)
    return { problem: "must be a positive integer" };
  if (version > SPEC_VERSION)
    return { problem: `${version} is newer than this vmmeet understands (${SPEC_VERSION}); upgrade vmmeet` };
  while (version < SPEC_VERSION) {
    const step = MIGRATIONS[version];
    if (!step) return { problem: `no migration from version ${version}` };
    doc = { ...step(doc), version: version + 1 };
    version += 1;
  }
  return { raw: doc };
}

type Warning = Omit<SpecProblem, "file" | "line"> & { pathParts: PropertyKey[] };

/**
 * Pairings the release table does not know to work: prosody with the plugins release (the prosody
 * versions docker-jitsi-meet ran it with), a JDK newer than a jicofo or jvb release was built for, and
 * components of different releases. (A JDK too old to start them is an error: the schema's rule.)
 */
export function releaseWarnings(spec: Spec): Warning[] {
  const out: Warning[] = [];
  const r = componentReleases(spec.jitsi.release);
  const perComponent = typeof spec.jitsi.release === "object";
  const at = (component: string): PropertyKey[] =>
    perComponent ? ["jitsi", "release", component] : ["jitsi", "release"];
  const plugins = jitsiRelease(r.plugins);
  if (plugins && !plugins.prosody.includes(spec.jitsi.prosody)) {
    const known = JITSI_RELEASES.filter((x) => x.prosody.includes(spec.jitsi.prosody)).map((x) => x.release);
    out.push({
      path: "jitsi.prosody",
      pathParts: ["jitsi", "prosody"],
      message: `prosody ${spec.jitsi.prosody} with the prosody plugins of release ${r.plugins} is an untested pairing: that release is known to work with prosody ${plugins.prosody.join(", ")}${known.length > 0 ? `; prosody ${spec.jitsi.prosody} with releases ${known.join(", ")}` : ""}`,
    });
  }
  for (const component of ["jicofo", "jvb"] as const) {
    const row = jitsiRelease(r[component]);
    if (row && spec.jitsi.java > Math.max(...row.java)) {
      out.push({
        path: "jitsi.java",
        pathParts: ["jitsi", "java"],
        message: `${component} of release ${row.release} was built for Java ${row.java.join(" or ")}, not ${spec.jitsi.java}`,
      });
      break;
    }
  }
  if (perComponent && r.jicofo !== r.jvb) {
    out.push({
      path: "jitsi.release.jvb",
      pathParts: at("jvb"),
      message: `jicofo ${r.jicofo} with jvb ${r.jvb}: jicofo and the bridges of one release are what upstream tests together`,
    });
  }
  return out;
}

/** Legal but worth a word: printed by validate, never fatal. */
function specWarnings(spec: Spec): Warning[] {
  const out: Warning[] = [...releaseWarnings(spec)];
  if (spec.bridgeChannel === "none") {
    out.push({
      path: "bridgeChannel",
      pathParts: ["bridgeChannel"],
      message:
        "no bridge channel: SCTP is unavailable on OpenBSD, so without colibri websockets dominant-speaker and last-N signalling do not work (the paper's setup; set colibri-websocket to have them)",
    });
  }
  return out;
}
