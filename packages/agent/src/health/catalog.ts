import type { HealthLabel, LogComponent } from "@vmmeet/shared";
import { CATALOG, type CatalogEntry } from "./catalog.gen.js";
import { CATALOG_RULES, type CatalogRule } from "./catalogRules.js";
import { JUL_LEVEL_NAMES } from "./julLevels.gen.js";
import { RULES } from "./rules.js";

/**
 * The second stage of the classifier: a line no rule matched but that carries a level of warning or
 * higher (or starts with an exception class) is never silently `info`. The line is looked up among
 * the components' own log statements (catalog.gen.ts, compiled from their source): by the
 * `Class.method` Jicofo and the videobridge print, which survives rewording between releases, and by
 * the message template. A catalog entry that a rule covers gets that rule's signal; any other line
 * gets `unrecognised-error` or `unrecognised-warning`, with an explanation that quotes only the
 * catalog's template and where it is printed, never a value of the line (values may hold secrets).
 */

/** What a covered catalog entry, or a rule, means: the part of a result that is the same every time. */
export interface Meaning {
  readonly signal: string;
  readonly label: HealthLabel;
  readonly explain: string;
  readonly fix?: string;
}

export type Severity = "E" | "W" | "X";

export interface CompiledEntry {
  readonly severity: "E" | "W";
  readonly where: string;
  readonly template: string;
  /** The template's longest literal piece: a line must hold it to match. */
  readonly needle: string;
  /** The template as a regular expression ({} -> any text); undefined when it has too little text. */
  readonly re: RegExp | undefined;
  /** The rule that covers this entry (first in table order), if any. */
  readonly owner: Meaning | undefined;
}

export interface CatalogIndex {
  readonly component: LogComponent;
  readonly entries: readonly CompiledEntry[];
  /** Entries by where (Class.method for Java; empty for prosody and nginx). */
  readonly byWhere: ReadonlyMap<string, readonly CompiledEntry[]>;
  /** Finds the level of a line: group 1 is the level name. */
  readonly level: RegExp;
  /** Tokens a line must hold for `level` (or EXCEPTION) to match, for the classifier's prefilter. */
  readonly levelTokens: readonly string[];
}

/** Templates with less literal text than this are matched by where only (e.g. "{}", "Error: {}"). */
const MIN_TEMPLATE_TEXT = 8;

export interface Selector {
  readonly severity: "E" | "W" | undefined;
  readonly where: RegExp;
  readonly text: string | undefined;
}

/**
 * A selector of rule data: "[E |W ]Where[: template text]". Where is Class.method (Java), the Lua
 * module or the nginx C function, `*` matching any run of characters; the text is part of the
 * template; E or W limits it to errors or warnings.
 */
export function parseSelector(sel: string): Selector {
  let rest = sel;
  let severity: "E" | "W" | undefined;
  if (rest.startsWith("E ") || rest.startsWith("W ")) {
    severity = rest[0] as "E" | "W";
    rest = rest.slice(2);
  }
  const i = rest.indexOf(": ");
  const where = i === -1 ? rest : rest.slice(0, i);
  const text = i === -1 ? undefined : rest.slice(i + 2);
  const re = new RegExp(`^${where.split("*").map(escapeRe).join(".*")}$`);
  return { severity, where: re, text };
}

export function selects(sel: Selector, e: CatalogEntry): boolean {
  return (
    (sel.severity === undefined || sel.severity === e[0]) &&
    sel.where.test(e[1]) &&
    (sel.text === undefined || e[2].includes(sel.text))
  );
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The template as a regex: literal pieces in order, any text for each {}. */
export function templateRegex(template: string): RegExp | undefined {
  const pieces = template.split("{}").map((p) => p.trim());
  const text = pieces.join("");
  if (text.length < MIN_TEMPLATE_TEXT) return undefined;
  const body = pieces
    .filter((p) => p !== "")
    .map((p) => p.split(/\s+/).map(escapeRe).join("\\s+"))
    .join("[^\\n]*?");
  return new RegExp(body);
}

function longestPiece(template: string): string {
  let best = "";
  for (const p of template.split("{}")) {
    const t = p.trim().split("\n")[0] ?? "";
    if (t.length > best.length) best = t;
  }
  return best;
}

/** Every rule of a component that names catalog entries, in the order they claim them. */
export function coveringRules(component: LogComponent): readonly (Meaning & { covers: readonly string[] })[] {
  const out: (Meaning & { covers: readonly string[] })[] = [];
  for (const r of RULES[component]) {
    if (r.covers !== undefined && r.covers.length > 0)
      out.push({
        signal: r.signal,
        label: r.label,
        explain: r.explain,
        ...(r.fix === undefined ? {} : { fix: r.fix }),
        covers: r.covers,
      });
  }
  for (const r of CATALOG_RULES[component] as readonly CatalogRule[]) out.push(r);
  return out;
}

/** The rule that covers a catalog entry, or undefined. */
export function ownerOf(component: LogComponent, e: CatalogEntry): Meaning | undefined {
  for (const r of coveringRules(component)) {
    for (const s of r.covers) if (selects(parseSelector(s), e)) return r;
  }
  return undefined;
}

const JUL_SEVERE = Object.keys(JUL_LEVEL_NAMES.SEVERE);
const JUL_WARNING = Object.keys(JUL_LEVEL_NAMES.WARNING);

/**
 * Level patterns per component (ERE-compatible, so the benchmark can give grep the same ones):
 * java.util.logging names in every JDK locale before ": " (Jitsi's layout, the second line of a
 * SimpleFormatter record); prosody's level column after the source column; nginx's bracketed level.
 */
function levelPattern(component: LogComponent): { re: RegExp; tokens: string[] } {
  if (component === "jicofo" || component === "jvb") {
    const names = [...JUL_SEVERE, ...JUL_WARNING];
    return {
      re: new RegExp(`(?:^|\\s)(${names.map(escapeRe).join("|")}):(?:\\s|$)`),
      tokens: [...names.map((n) => `${n}:`), "Exception", "Error"],
    };
  }
  if (component === "prosody") {
    return { re: /(?:^|\s)[^\s]+(?:\t| +)(warn|error)(?:\t| {2,})/, tokens: ["warn", "error"] };
  }
  return {
    re: /\[(emerg|alert|crit|error|warn)\]/,
    tokens: ["[emerg]", "[alert]", "[crit]", "[error]", "[warn]"],
  };
}

/**
 * A line that starts (after a syslog, journald or docker prefix) with an exception class: a stack
 * trace's first line or its "Caused by:".
 */
export const EXCEPTION =
  /(?:^\s*|\]: |\| )(?:Caused by: |Exception in thread "[^"]*" )?(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?::|\s*$)/;

const indexes = new Map<LogComponent, CatalogIndex>();

/** The compiled catalog of a component, built on first use. */
export function catalogIndex(component: LogComponent): CatalogIndex {
  const hit = indexes.get(component);
  if (hit !== undefined) return hit;
  const rules = coveringRules(component).map((r) => ({ r, sels: r.covers.map(parseSelector) }));
  const entries: CompiledEntry[] = [];
  const byWhere = new Map<string, CompiledEntry[]>();
  const java = component === "jicofo" || component === "jvb";
  for (const e of CATALOG[component]) {
    const owner = rules.find(({ sels }) => sels.some((s) => selects(s, e)))?.r;
    const c: CompiledEntry = {
      severity: e[0],
      where: e[1],
      template: e[2],
      needle: longestPiece(e[2]),
      re: templateRegex(e[2]),
      owner:
        owner === undefined
          ? undefined
          : {
              signal: owner.signal,
              label: owner.label,
              explain: owner.explain,
              ...(owner.fix === undefined ? {} : { fix: owner.fix }),
            },
    };
    entries.push(c);
    if (java) {
      const list = byWhere.get(e[1]) ?? [];
      list.push(c);
      byWhere.set(e[1], list);
    }
  }
  const lp = levelPattern(component);
  const index: CatalogIndex = { component, entries, byWhere, level: lp.re, levelTokens: lp.tokens };
  indexes.set(component, index);
  return index;
}

/**
 * Where a Jicofo or videobridge line says it was printed: `Class.method#123:` (Jitsi's layout),
 * `org.pkg.Class.method:` (ice4j, Smack) or `org.pkg.Class.method()` (older releases). Runtime
 * names are mapped back to source names: `lambda$connect$7` -> `connect`, `Outer$1` -> `Outer`.
 */
const WHERE = /(?:^|[\s\]])(?:[a-z][\w]*\.)*([A-Z][\w$]*)\.([\w$<>]+?)(?:#\d+:|\(\)|:\s)/;

export function whereOfLine(line: string): string | undefined {
  const m = WHERE.exec(line);
  if (m === null) return undefined;
  const cls = (m[1] as string).replace(/(?:\$\d+)+$/, "");
  const method = (m[2] as string).replace(/^lambda\$(.+?)\$\d+$/, "$1");
  return `${cls}.${method}`;
}

function findEntry(index: CatalogIndex, line: string, where: string | undefined): CompiledEntry | undefined {
  const local = where === undefined ? undefined : index.byWhere.get(where);
  if (local !== undefined) {
    for (const e of local) if (e.re?.test(line)) return e;
  }
  for (const e of index.entries) {
    if (e.re !== undefined && line.includes(e.needle) && e.re.test(line)) return e;
  }
  return undefined;
}

const GENERIC_FIX =
  "Read the whole record in the component's log (the values this explanation leaves out), and the lines " +
  "before it; if it repeats, restart the component after fixing the cause.";

const NAMES: Record<LogComponent, string> = {
  jicofo: "jicofo",
  jvb: "jvb",
  prosody: "prosody",
  nginx: "nginx",
};

function levelWord(component: LogComponent, sev: Severity, raw: string | undefined): string {
  if (sev === "X") return "exception";
  if (component === "nginx") return `[${raw ?? (sev === "E" ? "error" : "warn")}]`;
  if (component === "prosody") return sev === "E" ? "error" : "warning";
  return sev === "E" ? "SEVERE" : "WARNING";
}

/**
 * The severity of a line: E (error and worse), W (warning), X (an exception line), or undefined.
 * nginx's [error] counts as a warning: most are one request's trouble (a client gone, a file not found).
 */
export function severityOfLine(
  index: CatalogIndex,
  line: string,
): { sev: Severity; raw: string } | undefined {
  const m = index.level.exec(line);
  if (m !== null) {
    const raw = m[1] as string;
    let sev: Severity;
    if (index.component === "nginx") sev = raw === "error" || raw === "warn" ? "W" : "E";
    else if (index.component === "prosody") sev = raw === "error" ? "E" : "W";
    else sev = JUL_SEVERE.includes(raw) ? "E" : "W";
    return { sev, raw };
  }
  if ((index.component === "jicofo" || index.component === "jvb") && EXCEPTION.test(line))
    return { sev: "X", raw: "exception" };
  return undefined;
}

/** The result for a line with a level and no rule: a covered catalog entry's rule, or unrecognised. */
export function classifyByLevel(index: CatalogIndex, line: string): Meaning | undefined {
  const lvl = severityOfLine(index, line);
  if (lvl === undefined) return undefined;
  const java = index.component === "jicofo" || index.component === "jvb";
  const where = java ? whereOfLine(line) : undefined;
  const entry = findEntry(index, line, where);
  if (entry?.owner !== undefined) return entry.owner;
  // Reworded in a release the catalog does not hold: the method still says what it is about when
  // every warning it prints means the same.
  if (entry === undefined && where !== undefined) {
    const local = index.byWhere.get(where);
    const owner = local?.[0]?.owner;
    if (owner !== undefined && local?.every((e) => e.owner?.signal === owner.signal)) return owner;
  }
  const sev = lvl.sev;
  const word = levelWord(index.component, sev, lvl.raw);
  const known =
    entry !== undefined ? entry.where : where !== undefined && index.byWhere.has(where) ? where : undefined;
  const what =
    entry !== undefined
      ? ` printed by ${entry.where}, message template "${entry.template}"`
      : known !== undefined
        ? ` printed by ${known} (a message vmmeet's catalog does not hold)`
        : " that vmmeet's catalog of its messages does not hold";
  return {
    signal: sev === "W" ? "unrecognised-warning" : "unrecognised-error",
    label: sev === "W" ? "degraded" : "failed",
    explain: `An unrecognised ${word} of ${NAMES[index.component]}${what}.`,
    fix: GENERIC_FIX,
  };
}
