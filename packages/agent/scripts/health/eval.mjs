#!/usr/bin/env node
// Evaluates the health rules on the labelled corpus (test/fixtures/logs/corpus.jsonl):
//
//   npm run eval:health            (builds, then runs this)   [-- --json]
//
// Per component: the confusion matrix (the corpus' label against the classifier's), accuracy and
// failed-recall (of the lines labelled failed, how many the classifier labels failed). Then the
// same figures leave-one-source-out: for each report (a GitHub issue, the paper), the rules whose
// only evidence is that report are left out while its lines are classified, so the figure shows
// what a report the rules were not fitted to would get. A rule counts as taken from the components'
// source when it names catalog entries (`covers`) or one of its needles quotes a catalog template
// (test/fixtures/logs/catalog-quoted.jsonl); otherwise it needs lines of at least two reports. The
// catalog stage (levels, templates, Class.method) always stays: it comes from source.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const { compileRules, classifyLine, classifyRecordText } = await import(
  path.join(REPO, "packages/agent/dist/health/classify.js")
);
const { RULES } = await import(path.join(REPO, "packages/agent/dist/health/rules.js"));

const LABELS = ["healthy", "degraded", "failed", "info"];
const json = process.argv.includes("--json");
const corpus = readFileSync(path.join(REPO, "test/fixtures/logs/corpus.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l));

/** One report: the paper's slide source and its text are one document; an issue is one report. */
function reportOf(source) {
  return source.replace(/\.(?:qmd|tex)$/, "").replace(/#.*$/, "");
}

function classifyWith(table, line) {
  return line.includes("\n") ? classifyRecordText(table, line) : classifyLine(table, line);
}

function matches(rule, line) {
  return line.split("\n").some((l) => rule.re.test(l));
}

function emptyMatrix() {
  return Object.fromEntries(LABELS.map((a) => [a, Object.fromEntries(LABELS.map((b) => [b, 0]))]));
}

function score(rows) {
  const matrix = emptyMatrix();
  let right = 0;
  let failed = 0;
  let failedFound = 0;
  let signalRight = 0;
  for (const r of rows) {
    matrix[r.expected][r.got]++;
    if (r.expected === r.got) right++;
    if (r.signalExpected === r.signal) signalRight++;
    if (r.expected === "failed") {
      failed++;
      if (r.got === "failed") failedFound++;
    }
  }
  return {
    lines: rows.length,
    accuracy: rows.length === 0 ? null : right / rows.length,
    signalAccuracy: rows.length === 0 ? null : signalRight / rows.length,
    failedRecall: failed === 0 ? null : failedFound / failed,
    failed,
    matrix,
  };
}

/** Scores the corpus with every rule and leave-one-source-out; see the header. */
export function evaluate() {
  const components = [...new Set(corpus.map((c) => c.component))];
  const reports = [...new Set(corpus.map((c) => reportOf(c.source)))];

  // Which reports each rule's regex matches.
  const support = new Map();
  for (const component of components) {
    for (const rule of RULES[component]) {
      const hit = new Set(
        corpus
          .filter((c) => c.component === component && matches(rule, c.line))
          .map((c) => reportOf(c.source)),
      );
      support.set(rule, hit);
    }
  }
  const quoted = new Set(
    readFileSync(path.join(REPO, "test/fixtures/logs/catalog-quoted.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.trim() !== "")
      .flatMap((l) => {
        const r = JSON.parse(l);
        return r.needles.map((n) => `${r.log} ${n}`);
      }),
  );
  const fromSource = (component, rule) =>
    (rule.covers?.length ?? 0) > 0 || rule.needles.some((n) => quoted.has(`${component} ${n}`));
  const grounded = (component, rule) => fromSource(component, rule) || (support.get(rule)?.size ?? 0) >= 2;

  const all = [];
  const loso = [];
  const left = {};
  for (const c of corpus) {
    const full = classifyWith(compileRules(c.component), c.line);
    all.push({
      component: c.component,
      expected: c.label,
      got: full.label,
      signal: full.signal,
      signalExpected: c.signal,
    });
    const report = reportOf(c.source);
    const without = new Set(
      RULES[c.component].filter(
        (rule) => !grounded(c.component, rule) && support.get(rule)?.has(report) === true,
      ),
    );
    for (const rule of without) left[`${c.component}/${rule.signal}`] = report;
    const r = classifyWith(compileRules(c.component, undefined, without), c.line);
    loso.push({
      component: c.component,
      expected: c.label,
      got: r.label,
      signal: r.signal,
      signalExpected: c.signal,
    });
  }

  const ruleCount = { fromSource: 0, twoReports: 0, oneReport: 0, unused: 0 };
  for (const component of components)
    for (const rule of RULES[component]) {
      const n = support.get(rule)?.size ?? 0;
      if (fromSource(component, rule)) ruleCount.fromSource++;
      else if (n >= 2) ruleCount.twoReports++;
      else if (n === 1) ruleCount.oneReport++;
      else ruleCount.unused++;
    }

  const result = {
    corpus: { lines: corpus.length, reports: reports.length },
    rules: ruleCount,
    all: score(all),
    leaveOneSourceOut: score(loso),
    perComponent: Object.fromEntries(
      components.map((k) => [
        k,
        {
          all: score(all.filter((r) => r.component === k)),
          leaveOneSourceOut: score(loso.filter((r) => r.component === k)),
        },
      ]),
    ),
    rulesLeftOut: left,
    extra: { ruleCount, left, components, reports },
  };
  return result;
}

function print(result) {
  const { ruleCount, left, components, reports } = result.extra;
  const pct = (x) => (x === null ? "-" : `${(x * 100).toFixed(1)} %`);
  if (json) {
    const { extra: _, ...rest } = result;
    process.stdout.write(`${JSON.stringify(rest, null, 2)}\n`);
  } else {
    const out = [];
    out.push(
      `corpus: ${corpus.length} lines from ${reports.length} reports (test/fixtures/logs/corpus.jsonl)`,
    );
    out.push(
      `rules: ${ruleCount.fromSource} from the components' source, ${ruleCount.twoReports} backed by two or more reports, ` +
        `${ruleCount.oneReport} by one report only, ${ruleCount.unused} matching no corpus line`,
    );
    for (const k of components) {
      const { all: a, leaveOneSourceOut: l } = result.perComponent[k];
      out.push("", `${k}: ${a.lines} lines, ${a.failed} labelled failed`);
      out.push(
        `  accuracy ${pct(a.accuracy)}, failed-recall ${pct(a.failedRecall)}, signal ${pct(a.signalAccuracy)}`,
      );
      out.push(`  leave-one-source-out: accuracy ${pct(l.accuracy)}, failed-recall ${pct(l.failedRecall)}`);
      out.push(
        `  confusion (rows: corpus label, columns: classifier)   ${LABELS.map((x) => x.padStart(8)).join(" ")}`,
      );
      for (const e of LABELS)
        out.push(`  ${e.padEnd(52)}${LABELS.map((g) => String(a.matrix[e][g]).padStart(8)).join(" ")}`);
    }
    out.push(
      "",
      `all: accuracy ${pct(result.all.accuracy)}, failed-recall ${pct(result.all.failedRecall)} (${result.all.failed} failed lines)`,
      `leave-one-source-out: accuracy ${pct(result.leaveOneSourceOut.accuracy)}, failed-recall ${pct(result.leaveOneSourceOut.failedRecall)}`,
      `rules backed by one report only (left out for that report's lines): ${
        Object.keys(left).length === 0
          ? "none"
          : Object.entries(left)
              .map(([r, s]) => `${r} (${s})`)
              .join(", ")
      }`,
    );
    process.stdout.write(`${out.join("\n")}\n`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) print(evaluate());
