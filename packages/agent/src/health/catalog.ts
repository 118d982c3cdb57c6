import type { HealthLabel, LogComponent } from "@vmmeet/shared";
import catalogData from "./catalog.gen.json" with { type: "json" };
import { CATALOG_RULES, type CatalogRule } from "./catalogRules.js";
import { JUL_LEVEL_NAMES } from "./julLevels.gen.js";
import { RULES } from "./rules.js";

/**
 * The second stage of the classifier: a line no rule matched but that carries a level of warning or
 * higher (or starts with an exception class) is never silently `info`. The line is looked up among
 * the components' own log statements (catalog.gen.json, compiled from their source): by the
 * `Class.method` Jicofo and the videobridge print, which survives rewording between releases, and by
 * the message template. A catalog entry that a rule covers gets that rule's signal; any other line
 * gets `unrecognised-error` or `unrecognised-warning`, with an explanation that quotes only the
 * catalog's template and where it is printed, never a value of the line (values may hold secrets).
 */

/**
 * One log statement of a component's source: its severity (E: error, W: warning), where it is printed
 * (Class.method, Lua module or nginx function) and its message template ({} for values).
 */
export type CatalogEntry = readonly [severity: "E" | "W", where: string, template: string];

/**
 * catalog.gen.json (packages/agent/scripts/health/catalog.mjs writes it; catalog.test.ts checks it is
 * what the script makes of test/fixtures/logs/catalog.jsonl): each catalog file's entries, and which
 * files each log component reads.
 */
const CATALOG = catalogData as unknown as {
  readonly logs: Readonly<Record<LogComponent, readonly string[]>>;
  readonly files: Readonly<Record<string, readonly CatalogEntry[]>>;
};

/** The catalog of one log component: the entries of every catalog file its log holds. */
export function catalogOf(component: LogComponent): readonly CatalogEntry[] {
  return CATALOG.logs[component].flatMap((file) => CATALOG.files[file] ?? []);
}

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
  /** The template as a regular expression ({} -> any text); undefined when it has too little text. */
  readonly re: RegExp | undefined;
  /** The rule that covers this entry (first in table order), if any. */
  readonly owner: Meaning | undefined;
}

/** The compiled catalog of one component: built on the first line that reaches the catalog stage. */
export interface CatalogIndex {
  readonly component: LogComponent;
  readonly entries: readonly CompiledEntry[];
  /** Java entries by Class.method and by outer class (nested classes' runtime names differ). */
  readonly byWhere: ReadonlyMap<string, readonly CompiledEntry[]>;
  readonly byClass: ReadonlyMap<string, readonly CompiledEntry[]>;
  /** Every entry's longest literal piece, longest first, as one alternation (global: exec walks matches). */
  readonly needles: RegExp;
  readonly byNeedle: ReadonlyMap<string, readonly CompiledEntry[]>;
  /** Results without a rule, by severity and entry or where: one object each, not one per line. */
  readonly generic: Map<string, Meaning>;
  /** The same for lines of no catalogued message, by level name. */
  readonly byLevel: Map<string, Meaning>;
}

/** How a component prints its level, built with the rule table (cheap: two regexes). */
export interface LevelStage {
  readonly component: LogComponent;
  /** The level name of a line when it is a warning or worse, else undefined. */
  readonly find: (line: string) => string | undefined;
  /**
   * Literal text every line of a warning or worse holds ("WARNING: ", "\terror\t", ...): the
   * classifier's one-pass prefilter searches for them with the rules' needles.
   */
  readonly tokens: readonly string[];
  /** The patterns that let a line into the stage (the benchmark gives them to grep too). */
  readonly patterns: readonly RegExp[];
}

/** Templates with less literal text than this are matched by where only (e.g. "{}", "Error: {}"). */
const MIN_TEMPLATE_TEXT = 8;
/** Shorter literal pieces are not searched for on their own (too many false candidates). */
const MIN_PIECE = 6;

export interface Selector {
  readonly severity: "E" | "W" | undefined;
  /** The where itself, or a RegExp when it has a `*`. */
  readonly where: string | RegExp;
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
  const re = where.includes("*") ? new RegExp(`^${where.split("*").map(escapeRe).join(".*")}$`) : where;
  return { severity, where: re, text };
}

export function selects(sel: Selector, e: CatalogEntry): boolean {
  return (
    (sel.severity === undefined || sel.severity === e[0]) &&
    (typeof sel.where === "string" ? sel.where === e[1] : sel.where.test(e[1])) &&
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
 * Where each layout prints the level, read with one sticky regex from the start of the line,
 * through the transport prefixes joiner.ts knows (docker compose, docker logs -t, syslog and
 * journald): every line of a log passes here, and a regex that searched the whole line would cost
 * as much again as the rules' prefilter (the daemon runs without V8's optimizing compiler).
 * `patterns` are the whole-line equivalents (ERE-compatible) that the benchmark gives grep.
 *
 * java.util.logging: a level name of any JDK locale, after Jitsi's "NAME DATE TIME " or at the
 * start of a SimpleFormatter record's second line; or an exception class at the start of a line.
 * prosody: "[date ]source level message", the level column padded with blanks or ended by a tab.
 * nginx: the bracketed level.
 */
export function levelStage(component: LogComponent): LevelStage {
  if (component === "jicofo" || component === "jvb") {
    const names = `(${[...JUL_SEVERE, ...JUL_WARNING].map(escapeRe).join("|")})`;
    const at = new RegExp(
      String.raw`${PREFIX}(?:(?:[^\s:]+ \d{4}-\d\d-\d\d \d\d?:\d\d:\d\d(?:[.,]\d+)? )?${names}:(?:\s|$)|${EXCEPTION_BODY})`,
      "y",
    );
    return {
      component,
      tokens: [...[...JUL_SEVERE, ...JUL_WARNING].map((n) => `${n}:`), "Exception", "Error"],
      find: (line) => {
        at.lastIndex = 0;
        const m = at.exec(line);
        return m === null ? undefined : (m[1] ?? EXCEPTION_LEVEL);
      },
      patterns: [new RegExp(String.raw`(?:^|\s)${names}:(?:\s|$)`), EXCEPTION],
    };
  }
  if (component === "prosody") {
    const at = new RegExp(String.raw`${PREFIX}${PROSODY_STAMP}[^\s]+[\t ]+(warn|error)(?:[\t ]|$)`, "y");
    return {
      component,
      tokens: ["\twarn\t", "\terror\t", " warn  ", " error  "],
      find: (line) => {
        at.lastIndex = 0;
        return at.exec(line)?.[1];
      },
      patterns: [/[\t ](warn|error)(?:[\t ]|$)/],
    };
  }
  const level = /\[(emerg|alert|crit|error|warn)\]/;
  return {
    component,
    tokens: ["[emerg]", "[alert]", "[crit]", "[error]", "[warn]"],
    find: (line) => level.exec(line)?.[1],
    patterns: [level],
  };
}

const EXCEPTION_LEVEL = "exception";
/** prosody's own time stamp before the source column: its file layout's, or an ISO one; optional. */
const PROSODY_STAMP = String.raw`(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d |\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d\S* )?`;
/** Optional transport prefixes: docker compose, docker logs -t, syslog/journald `stamp [host] tag[pid]: `. */
const PREFIX = String.raw`(?:[\w.-]{1,64} *\| )?(?:\d{4}-\d\d-\d\dT[^ ]{0,29} )?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d (?:[^\s:[\]|]+ )?[^\s:[\]|]+(?:\[\d+\])?: |[^\s:[\]|]+\[\d+\]: )?`;
const EXCEPTION_BODY = String.raw`\s*(?:Caused by: |Exception in thread "[^"]*" )?(?:[a-z][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error)(?::|\s*$)`;

/**
 * A line that starts (after a docker-compose or syslog/journald prefix) with an exception class: a
 * stack trace's first line or its "Caused by:".
 */
export const EXCEPTION = new RegExp(
  String.raw`^(?:[\w.-]+ +\| |[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [^\s:]+ [^\s:[]+(?:\[\d+\])?: )?${EXCEPTION_BODY}`,
);

const indexes = new Map<LogComponent, CatalogIndex>();

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [value]);
  else list.push(value);
}

/** The compiled catalog of a component, built on first use (most logs never need it). */
export function catalogIndex(component: LogComponent): CatalogIndex {
  const hit = indexes.get(component);
  if (hit !== undefined) return hit;
  const rules = coveringRules(component).map((r) => ({ r, sels: r.covers.map(parseSelector) }));
  const entries: CompiledEntry[] = [];
  const byWhere = new Map<string, CompiledEntry[]>();
  const byClass = new Map<string, CompiledEntry[]>();
  const byNeedle = new Map<string, CompiledEntry[]>();
  const java = component === "jicofo" || component === "jvb";
  for (const e of catalogOf(component)) {
    const owner = rules.find(({ sels }) => sels.some((s) => selects(s, e)))?.r;
    const c: CompiledEntry = {
      severity: e[0],
      where: e[1],
      template: e[2],
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
      push(byWhere, e[1], c);
      push(byClass, outerClass(e[1]), c);
    }
    const needle = longestPiece(e[2]);
    if (c.re !== undefined && needle.length >= MIN_PIECE) push(byNeedle, needle, c);
  }
  const keys = [...byNeedle.keys()].sort((a, b) => b.length - a.length);
  const index: CatalogIndex = {
    component,
    entries,
    byWhere,
    byClass,
    needles: new RegExp(keys.map(escapeRe).join("|"), "g"),
    byNeedle,
    generic: new Map(),
    byLevel: new Map(),
  };
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
  // Jitsi's layout: the first "#<digits>:" ends the where; found without a regex.
  for (let h = line.indexOf("#"); h !== -1; h = line.indexOf("#", h + 1)) {
    let d = h + 1;
    while (d < line.length && line.charCodeAt(d) >= 48 && line.charCodeAt(d) <= 57) d++;
    if (d === h + 1 || line.charCodeAt(d) !== 58) continue;
    const start = line.lastIndexOf(" ", h) + 1;
    return normalizeWhere(line.slice(start, h));
  }
  const m = WHERE.exec(line);
  if (m === null) return undefined;
  return normalizeWhere(`${m[1]}.${m[2]}`);
}

/** pkg.Outer$1.lambda$connect$7 -> Outer.connect (source names, as the catalog has them). */
function normalizeWhere(token: string): string | undefined {
  const dot = token.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const start = token.lastIndexOf(".", dot - 1) + 1;
  if (!token.includes("$")) return start === 0 ? token : token.slice(start);
  const method = token.slice(dot + 1).replace(/^lambda\$(.+?)\$\d+$/, "$1");
  const cls = token.slice(start, dot).replace(/(?:\$\d+)+$/, "");
  return cls === "" || method === "" ? undefined : `${cls}.${method}`;
}

/** `JvbDoctor$HealthCheckTask.run` -> `JvbDoctor`: runtime and source names of nested classes differ. */
function outerClass(where: string): string {
  const dot = where.indexOf(".");
  const cls = dot === -1 ? where : where.slice(0, dot);
  const inner = cls.indexOf("$");
  return inner === -1 ? cls : cls.slice(0, inner);
}

function firstMatch(list: readonly CompiledEntry[] | undefined, line: string): CompiledEntry | undefined {
  if (list === undefined) return undefined;
  for (const e of list) if (e.re?.test(line)) return e;
  return undefined;
}

/**
 * The catalog entry a line was printed by. A Java line that names its Class.method is looked up by
 * it (then by its class); a class the catalog does not hold is outside the deployment paths. Other
 * lines: every entry whose longest literal piece the line holds.
 */
function findEntry(index: CatalogIndex, line: string, where: string | undefined): CompiledEntry | undefined {
  if (where !== undefined) {
    const local = firstMatch(index.byWhere.get(where), line);
    if (local !== undefined) return local;
    return firstMatch(index.byClass.get(outerClass(where)), line);
  }
  const re = index.needles;
  re.lastIndex = 0;
  for (let m = re.exec(line); m !== null; m = re.exec(line)) {
    const hit = firstMatch(index.byNeedle.get(m[0]), line);
    if (hit !== undefined) return hit;
    // Needles may overlap: look again from the next character.
    re.lastIndex = m.index + 1;
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
  stage: LevelStage,
  line: string,
  found?: string,
): { sev: Severity; raw: string } | undefined {
  const raw = found ?? stage.find(line);
  if (raw === undefined) return undefined;
  if (raw === EXCEPTION_LEVEL) return { sev: "X", raw };
  let sev: Severity;
  if (stage.component === "nginx") sev = raw === "error" || raw === "warn" ? "W" : "E";
  else if (stage.component === "prosody") sev = raw === "error" ? "E" : "W";
  else sev = JUL_SEVERE.includes(raw) ? "E" : "W";
  return { sev, raw };
}

/** The result for a line with a level and no rule: a covered catalog entry's rule, or unrecognised. */
export function classifyByLevel(stage: LevelStage, line: string, found?: string): Meaning | undefined {
  const lvl = severityOfLine(stage, line, found);
  if (lvl === undefined) return undefined;
  const component = stage.component;
  const index = catalogIndex(component);
  const where = component === "jicofo" || component === "jvb" ? whereOfLine(line) : undefined;
  // A class outside the catalogued paths (most warnings of a busy jicofo): nothing to look up.
  if (where !== undefined && !index.byClass.has(outerClass(where))) {
    const hit = index.byLevel.get(lvl.raw);
    if (hit !== undefined) return hit;
  }
  const entry = findEntry(index, line, where);
  if (entry?.owner !== undefined) return entry.owner;
  const local = where === undefined ? undefined : index.byWhere.get(where);
  // Reworded in a release the catalog does not hold: the method still says what it is about when
  // every warning it prints means the same.
  if (entry === undefined && local !== undefined) {
    const owner = local[0]?.owner;
    if (owner !== undefined && local.every((e) => e.owner?.signal === owner.signal)) return owner;
  }
  // Only catalog text goes into the explanation: the template and where it is printed; for prosody's
  // messages the catalog does not hold, the module or kind of session that printed it (prosodySource).
  const known =
    entry === undefined ? (local === undefined ? "" : where) : `${entry.where}\n${entry.template}`;
  const source = entry === undefined && component === "prosody" ? prosodySource(line) : undefined;
  const key = `${lvl.sev} ${lvl.raw} ${known} ${source ?? ""}`;
  const hit = index.generic.get(key);
  if (hit !== undefined) return hit;
  const word = levelWord(component, lvl.sev, lvl.raw);
  const what =
    entry !== undefined
      ? ` printed by ${entry.where}, message template "${entry.template}"`
      : local !== undefined
        ? ` printed by ${where} (a message vmmeet's catalog does not hold)`
        : source !== undefined
          ? ` printed by ${source}, a message vmmeet's catalog of its messages does not hold`
          : " that vmmeet's catalog of its messages does not hold";
  const meaning: Meaning = Object.freeze({
    signal: lvl.sev === "W" ? "unrecognised-warning" : "unrecognised-error",
    label: lvl.sev === "W" ? "degraded" : "failed",
    explain: `An unrecognised ${word} of ${NAMES[component]}${what}.`,
    fix: GENERIC_FIX,
  });
  if (index.generic.size < MAX_GENERIC) index.generic.set(key, meaning);
  if (known === "" && source === undefined) index.byLevel.set(lvl.raw, meaning);
  return meaning;
}

/** Explanations kept per component at most (a log of garbled sources must not grow the cache). */
const MAX_GENERIC = 1024;
const PROSODY_SOURCE = new RegExp(String.raw`${PREFIX}${PROSODY_STAMP}(?:[^\s:]+:)?([^\s:]+)[\t ]`);

/**
 * What printed a prosody line, from its source column (loggingmanager's "name"): a module ("mod_bosh",
 * the host before the colon dropped), a core part ("portmanager", "general"), or the kind of a session
 * or connection with its id dropped ("c2s", "bosh", "s2sin"): never more than a name, so it may go into
 * an explanation. Undefined for anything else.
 */
export function prosodySource(line: string): string | undefined {
  const name = PROSODY_SOURCE.exec(line)?.[1];
  if (name === undefined) return undefined;
  if (/^mod_[a-z0-9_]{1,40}$/.test(name)) return name;
  // Sessions and connections are named by kind and an id: hex (tostring of a table) or a UUID (BOSH's sid).
  const kind = /^([a-z][a-z0-9_]{0,19}?)[0-9a-f][0-9a-f-]{5,}$/.exec(name)?.[1] ?? name;
  return /^[a-z][a-z0-9_.]{0,29}$/.test(kind) ? kind : undefined;
}
