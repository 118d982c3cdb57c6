import type { HealthLabel, LogComponent } from "@vmmeet/shared";
import { classifyByLevel, type LevelStage, levelStage } from "./catalog.js";
import { RULES, type Rule } from "./rules.js";

/** What a line (or a multi-line record) means for health. Pure data, never the raw line. */
export interface ClassifyResult {
  readonly signal: string | null;
  readonly label: HealthLabel;
  readonly explain: string;
  readonly fix?: string;
  /** A detail a rule extracted (bridge JID, port, address, version); never a password. */
  readonly detail?: string;
}

export const UNMATCHED: ClassifyResult = Object.freeze({
  signal: null,
  label: "info",
  explain: "No rule matches: the line carries no known health signal.",
});

export interface CompiledRule {
  readonly rule: Rule;
  /** The result without detail, shared by every match (no allocation per line). */
  readonly base: ClassifyResult;
  /** Indexes into the table's needle list. */
  readonly needleIds: readonly number[];
}

/**
 * Multi-needle prefilter, in two steps. Most lines of a real log hold no needle at all: the gate,
 * two regex alternations, turns them away in irregexp's native code. The few that pass get the
 * exact set of needles they hold from a Wu-Manber scan (a shift table over 2-character blocks,
 * candidates verified with startsWith), which finds overlapping needles too.
 *
 * Why two alternations: irregexp skips ahead Boyer-Moore style only when every alternative starts
 * with characters that are rare in the text it searches. Capital letters are rare in log text, so
 * `upper` holds, for every needle and level token that has one, the needle from its first capital
 * letter on (a part of the needle: a line that holds the needle holds it); one alternative that
 * starts with a common lower-case letter or a blank turns the skip off for the whole alternation
 * and costs every alternative a check at every character, so those few go to `lower`. Measured
 * without the optimizing compiler (rc.d/vmmeet_agent: --max-opt=1), the two cost about a half of
 * one alternation of everything; a JavaScript loop over a line's characters costs about twice it.
 */
export interface Prefilter {
  readonly needles: readonly string[];
  /**
   * The gate (no flags: test() keeps no state). `upper`: the capital-letter parts of needles and
   * level tokens; `lower`: the needles and tokens without a usable capital letter. A line that
   * neither matches holds no needle and no token.
   */
  readonly upper: RegExp;
  readonly lower: RegExp;
  /**
   * The same two with /g, for a whole chunk of lines at once (nextGateHit): no needle or token holds
   * a "\n", so a match lies within one line, and a line without one is `info` unseen.
   */
  readonly upperAll: RegExp;
  readonly lowerAll: RegExp;
  /** The level tokens in `upper` as it matches them: a line `upper` let in for its level only. */
  readonly tokens: ReadonlySet<string>;
  readonly needlesOnly: RegExp;
  /** Window length: the shortest long needle. */
  readonly m: number;
  readonly shift: Uint8Array;
  /** Per block hash with shift 0: the ids of the long needles ending their window there. */
  readonly candidates: ReadonlyMap<number, readonly number[]>;
  /** Needles shorter than MIN_NEEDLE, checked with includes() (kept to a minimum). */
  readonly shortIds: readonly number[];
}

export interface RuleTable {
  readonly component: LogComponent;
  readonly release: number | undefined;
  readonly rules: readonly CompiledRule[];
  readonly prefilter: Prefilter;
  /** Scratch flags per needle id: which needles the current line holds. */
  readonly present: Uint8Array;
  /** The catalog stage for lines no rule matches (catalog.ts). */
  readonly stage: LevelStage;
  /** The patterns that let a line into the catalog stage (for the benchmark's grep). */
  readonly stagePatterns: readonly RegExp[];
}

/** Needles at least this long feed the shift table; shorter ones cost one includes() per line. */
export const MIN_NEEDLE = 10;
const HASH_BITS = 14;

const MAX_DETAIL = 200;
/** A needle's capital-letter part goes to `upper` when it is at least this long (else the needle to `lower`). */
const MIN_UPPER_PART = 5;

function blockHash(a: number, b: number): number {
  return ((a & 0x7f) << 7) | (b & 0x7f);
}

function buildPrefilter(needles: readonly string[], tokens: readonly string[]): Prefilter {
  const longIds: number[] = [];
  const shortIds: number[] = [];
  needles.forEach((n, id) => {
    (n.length >= MIN_NEEDLE ? longIds : shortIds).push(id);
  });
  const m =
    longIds.length === 0 ? MIN_NEEDLE : Math.min(...longIds.map((id) => (needles[id] as string).length));
  const shift = new Uint8Array(1 << HASH_BITS).fill(m - 1);
  // A Map, not an array of 2^HASH_BITS slots (128 kB a table): only the few lines that pass the
  // gate look into it, once per window that ends a needle.
  const candidates = new Map<number, number[]>();
  for (const id of longIds) {
    const n = needles[id] as string;
    for (let j = 2; j <= m; j++) {
      const h = blockHash(n.charCodeAt(j - 2), n.charCodeAt(j - 1));
      const s = m - j;
      if (s < (shift[h] as number)) shift[h] = s;
      if (s === 0) {
        const list = candidates.get(h) ?? [];
        if (!list.includes(id)) list.push(id);
        candidates.set(h, list);
      }
    }
  }
  const extra = tokens.filter((t) => !needles.includes(t));
  const upper: string[] = [];
  const lower: string[] = [];
  for (const n of [...needles, ...extra]) {
    const part = upperPart(n);
    const to = part === undefined ? lower : upper;
    const text = part ?? n;
    if (!to.includes(text)) to.push(text);
  }
  for (const n of [...needles, ...extra])
    if (n.includes("\n")) throw new Error(`needle ${JSON.stringify(n)} holds a line break`);
  return {
    needles,
    upper: alternation(upper),
    lower: alternation(lower),
    upperAll: alternation(upper, "g"),
    lowerAll: alternation(lower, "g"),
    tokens: new Set(extra.map((t) => upperPart(t) ?? t)),
    needlesOnly: alternation(needles),
    m,
    shift,
    candidates,
    shortIds,
  };
}

/** The needle from its first capital letter (A-Z) on, when that leaves at least MIN_UPPER_PART characters. */
function upperPart(needle: string): string | undefined {
  for (let i = 0; i + MIN_UPPER_PART <= needle.length; i++) {
    const c = needle.charCodeAt(i);
    if (c >= 65 && c <= 90) return needle.slice(i);
  }
  return undefined;
}

/** One regex that matches any of the literals; one that never matches when there are none. */
function alternation(literals: readonly string[], flags = ""): RegExp {
  if (literals.length === 0) return new RegExp("(?!)", flags);
  return new RegExp(literals.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), flags);
}

function firstMatch(re: RegExp, text: string, from: number, to: number): number {
  re.lastIndex = from;
  const m = re.exec(text);
  return m === null || m.index >= to ? -1 : m.index;
}

/**
 * The gate over a chunk of lines, text[0, to): hits in order, each regex run once per hit it
 * finds (not once per line). The lines before a hit would each get -1 from scanNeedles (no needle,
 * no level token), so LogClassifier.pushLines counts them `info` without cutting them out.
 */
export class GateScan {
  /** Next hit of each regex at or after the last `from`: -2 not searched yet, -1 none before `to`. */
  private u = -2;
  private l = -2;

  constructor(
    private readonly p: Prefilter,
    private readonly text: string,
    private readonly to: number,
  ) {}

  /** Index of the first gate hit at or after `from`, or -1. `from` never decreases. */
  next(from: number): number {
    if (this.u !== -1 && this.u < from) this.u = firstMatch(this.p.upperAll, this.text, from, this.to);
    if (this.l !== -1 && this.l < from) this.l = firstMatch(this.p.lowerAll, this.text, from, this.to);
    const { u, l } = this;
    return u === -1 ? l : l === -1 ? u : Math.min(u, l);
  }
}

/**
 * Sets `present[id]` for every needle the line holds; returns how many distinct ones, or -1 when
 * the line holds neither a needle nor a level token (most lines: nothing more to do).
 */
export function scanNeedles(p: Prefilter, present: Uint8Array, line: string): number {
  const hit = p.upper.exec(line);
  if (hit === null) {
    if (!p.lower.test(line)) return -1;
  } else if (p.tokens.has(hit[0]) && !p.needlesOnly.test(line)) {
    // Let in for a level token (a warning line): irregexp says faster than the scan below whether
    // it holds a needle too (the daemon runs without the optimizing compiler).
    return 0;
  }
  let found = 0;
  const { needles, m, shift, candidates } = p;
  const len = line.length;
  let pos = m - 1;
  while (pos < len) {
    const h = blockHash(line.charCodeAt(pos - 1), line.charCodeAt(pos));
    const s = shift[h] as number;
    if (s !== 0) {
      pos += s;
      continue;
    }
    const cands = candidates.get(h) as readonly number[];
    const start = pos - m + 1;
    for (let i = 0; i < cands.length; i++) {
      const id = cands[i] as number;
      if (present[id] === 0 && line.startsWith(needles[id] as string, start)) {
        present[id] = 1;
        found++;
      }
    }
    pos++;
  }
  const shortIds = p.shortIds;
  for (let i = 0; i < shortIds.length; i++) {
    const id = shortIds[i] as number;
    if (line.includes(needles[id] as string)) {
      present[id] = 1;
      found++;
    }
  }
  return found;
}

function applies(rule: Rule, release: number | undefined): boolean {
  if (rule.minRelease === undefined && rule.maxRelease === undefined) return true;
  // Release-specific rules need a known release; the generic variant that follows them covers
  // the unknown case.
  if (release === undefined) return false;
  return (rule.minRelease ?? 0) <= release && release <= (rule.maxRelease ?? Number.MAX_SAFE_INTEGER);
}

/**
 * Builds the table for one component (and release). Pure; classify() caches the result. `without`
 * leaves rules out (the evaluation's leave-one-source-out run).
 */
export function compileRules(
  component: LogComponent,
  release?: number,
  without?: ReadonlySet<Rule>,
): RuleTable {
  const rules: CompiledRule[] = [];
  const needles: string[] = [];
  const ids = new Map<string, number>();
  for (const rule of RULES[component]) {
    if (!applies(rule, release) || without?.has(rule) === true) continue;
    if (rule.re.global || rule.re.sticky) throw new Error(`rule ${rule.signal}: regex must not be /g or /y`);
    if (rule.needles.length === 0) throw new Error(`rule ${rule.signal}: needs at least one needle`);
    const needleIds: number[] = [];
    for (const n of rule.needles) {
      if (n.length < 2) throw new Error(`rule ${rule.signal}: needle ${JSON.stringify(n)} is too short`);
      let id = ids.get(n);
      if (id === undefined) {
        id = needles.length;
        needles.push(n);
        ids.set(n, id);
      }
      needleIds.push(id);
    }
    const base: ClassifyResult = Object.freeze({
      signal: rule.signal,
      label: rule.label,
      explain: rule.explain,
      ...(rule.fix === undefined ? {} : { fix: rule.fix }),
    });
    rules.push({ rule, base, needleIds });
  }
  const stage = levelStage(component);
  return {
    component,
    release,
    rules,
    prefilter: buildPrefilter(needles, stage.tokens),
    present: new Uint8Array(needles.length),
    stage,
    stagePatterns: stage.patterns,
  };
}

const tables = new Map<LogComponent, Map<number | undefined, RuleTable>>();

/** The compiled table for a component and release, built once and cached (no key built per call). */
export function ruleTable(component: LogComponent, release?: number): RuleTable {
  let byRelease = tables.get(component);
  if (byRelease === undefined) {
    byRelease = new Map();
    tables.set(component, byRelease);
  }
  let table = byRelease.get(release);
  if (table === undefined) {
    table = compileRules(component, release);
    byRelease.set(release, table);
  }
  return table;
}

function cleanDetail(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const s = raw.replace(/[\u0000-\u001f\u007f]/g, "").trim();
  if (s === "") return undefined;
  return s.length > MAX_DETAIL ? s.slice(0, MAX_DETAIL) : s;
}

function matchRules(table: RuleTable, line: string): ClassifyResult {
  const present = table.present;
  const rules = table.rules;
  for (let i = 0; i < rules.length; i++) {
    const c = rules[i] as CompiledRule;
    const nids = c.needleIds;
    let holds = false;
    for (let k = 0; k < nids.length; k++) {
      if (present[nids[k] as number] === 1) {
        holds = true;
        break;
      }
    }
    if (!holds) continue;
    const detailSpec = c.rule.detail;
    if (detailSpec === undefined) {
      if (c.rule.re.test(line)) return c.base;
      continue;
    }
    const m = c.rule.re.exec(line);
    if (m === null) continue;
    const detail = cleanDetail(typeof detailSpec === "number" ? m[detailSpec] : detailSpec(m));
    return detail === undefined ? c.base : { ...c.base, detail };
  }
  return UNMATCHED;
}

/**
 * Classifies one line (no "\n") against a compiled table: the rules first, then, for a line with
 * a warning or error level that no rule matched, the catalog stage (never silently `info`).
 */
export function classifyLine(table: RuleTable, line: string): ClassifyResult {
  const found = scanNeedles(table.prefilter, table.present, line);
  if (found < 0) return UNMATCHED;
  if (found > 0) {
    let r: ClassifyResult;
    try {
      r = matchRules(table, line);
    } finally {
      table.present.fill(0);
    }
    if (r !== UNMATCHED) return r;
  }
  const level = table.stage.find(line);
  return level === undefined ? UNMATCHED : (classifyByLevel(table.stage, line, level) ?? UNMATCHED);
}

const RANK: Record<HealthLabel, number> = { info: 1, healthy: 2, degraded: 3, failed: 4 };

/** A stack frame ("\tat pkg.Class.method(File.java:12)") or "... 12 more": never classified. */
const FRAME = /(?:^|\s|\^I)(?:at [\w$./<>-]+\([^)]*\)|\.\.\. \d+ (?:more|common frames omitted))\s*$/;

function rank(table: RuleTable, r: ClassifyResult): number {
  if (r.signal === null) return 0;
  // A rule's signal says more than "some warning or error": it wins whatever its label.
  if (r.signal === "unrecognised-warning") return 0.6;
  if (r.signal === "unrecognised-error") return 0.7;
  for (const c of table.rules) {
    if (c.rule.signal === r.signal && c.rule.weak === true) return 0.5;
  }
  return RANK[r.label];
}

/**
 * Classifies a multi-line record (a java.util.logging record with its stack trace): the most
 * severe line wins; on a tie the later line wins, because a cause ("Caused by: ...
 * ConnectException: Connection refused") is more specific than the message that announced it
 * ("error connecting"). The SimpleFormatter header line only wins when nothing else matches.
 */
export function classifyRecordText(table: RuleTable, text: string): ClassifyResult {
  let best = UNMATCHED;
  let bestRank = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line === "" || FRAME.test(line)) continue;
    const r = classifyLine(table, line);
    if (r.signal === null) continue;
    const k = rank(table, r);
    if (k >= bestRank) {
      best = r;
      bestRank = k;
    }
  }
  return best;
}

/**
 * Pure classifier: `classify("jicofo", "... Added brewery instance: jvbbrewery@internal.auth.x/jvb")`
 * -> `{ signal: "brewery-instance-added", label: "healthy", explain, detail }`. Lines that match no
 * rule -> `{ signal: null, label: "info" }`. `text` may be a multi-line record (lines joined by "\n").
 * `release` is the jitsi-meet release number (e.g. 9646) where message meanings differ.
 */
export function classify(component: LogComponent, text: string, release?: number): ClassifyResult {
  const table = ruleTable(component, release);
  return text.includes("\n") ? classifyRecordText(table, text) : classifyLine(table, text);
}
