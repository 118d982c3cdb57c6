#!/usr/bin/env node
// Reports the catalog's warning and error messages of the deployment paths (test/fixtures/logs/catalog.jsonl,
// compiled by catalog.mjs) that no rule covers, release by release. Each entry is either claimed by a rule
// (rules.ts `covers`, catalogRules.json), or listed in catalogRules.json's noRule (NO_RULE) with why it
// needs none, or reported here. Exit status 1 when something is reported, so it can gate a change.
//
//   npm run build && node packages/agent/scripts/health/uncovered.mjs [--all]
//
// --all also prints every entry with the rule that claims it.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LOG_COMPONENTS, releaseOf, severityOf, whereOf } from "./catalog.mjs";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const dist = (p) => path.join(REPO, "packages/agent/dist/health", p);
const { ownerOf, parseSelector, selects } = await import(dist("catalog.js"));
const { NO_RULE } = await import(dist("catalogRules.js"));

const all = process.argv.includes("--all");
const recs = readFileSync(path.join(REPO, "test/fixtures/logs/catalog.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l));

/** Every release label per catalog component, in the order the catalog lists them. */
const releases = new Map();
for (const r of recs) {
  const list = releases.get(r.component) ?? [];
  for (const v of r.revisions) if (!list.includes(releaseOf(v.revision))) list.push(releaseOf(v.revision));
  releases.set(r.component, list);
}

let uncovered = 0;
const byRule = new Map();
const noRule = [];
for (const [logComponent, files] of Object.entries(LOG_COMPONENTS)) {
  const perRelease = new Map();
  for (const r of recs) {
    if (!files.includes(r.component)) continue;
    const entry = [severityOf(r), whereOf(r), r.template];
    const owner = ownerOf(logComponent, entry);
    if (owner !== undefined) {
      const k = `${logComponent} ${owner.signal} (${owner.label})`;
      byRule.set(k, (byRule.get(k) ?? 0) + 1);
      if (all)
        process.stdout.write(
          `  ${logComponent} ${r.component} ${entry[1]}: "${r.template}" -> ${owner.signal}\n`,
        );
      continue;
    }
    const why = NO_RULE[logComponent].find((n) => n.covers.some((s) => selects(parseSelector(s), entry)));
    if (why !== undefined) {
      noRule.push(`${logComponent} ${r.component} ${entry[1]}: "${r.template}": ${why.why}`);
      continue;
    }
    for (const v of r.revisions) {
      const rel = `${r.component} ${releaseOf(v.revision)}`;
      const list = perRelease.get(rel) ?? new Set();
      list.add(`${entry[0]} ${entry[1]}: "${r.template}"`);
      perRelease.set(rel, list);
    }
  }
  for (const file of files) {
    for (const rel of releases.get(file) ?? []) {
      const list = perRelease.get(`${file} ${rel}`);
      const n = list?.size ?? 0;
      process.stdout.write(`${logComponent} <- ${file} ${rel}: ${n} uncovered\n`);
      for (const e of list ?? []) process.stdout.write(`    ${e}\n`);
      uncovered += n;
    }
  }
}
process.stdout.write(`\ncatalog entries per rule (${recs.length} records):\n`);
for (const [k, n] of [...byRule].sort()) process.stdout.write(`  ${k}: ${n}\n`);
process.stdout.write(`\nno rule needed (${noRule.length}):\n`);
for (const l of noRule) process.stdout.write(`  ${l}\n`);
process.stdout.write(
  `\n${uncovered === 0 ? "every entry is covered or listed" : `${uncovered} uncovered (entry x release)`}\n`,
);
process.exit(uncovered === 0 ? 0 : 1);
