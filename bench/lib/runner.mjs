// What `npm run bench` (bench/run.mjs) and `npm run reliability` (reliability/run.mjs) share: their command
// line (--only and --help), the results file written after each step, the table printed at the end, and
// the exit code.
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";

/**
 * Parses the options (strict, no positionals) and --only against `all`. Returns `{ values, only }`, or
 * `{ exit }` after printing the usage (0 for --help, 2 for a bad command line).
 */
export function parseRunArgs({ name, usage, options, all, kind }) {
  let values;
  try {
    ({ values } = parseArgs({
      options: { ...options, only: { type: "string" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${name}: ${err.message}\n${usage}`);
    return { exit: 2 };
  }
  if (values.help) {
    console.log(usage);
    return { exit: 0 };
  }
  const only = values.only ? values.only.split(",").map((s) => s.trim()) : all;
  const unknown = only.filter((x) => !all.includes(x));
  if (unknown.length > 0) {
    console.error(`${name}: unknown ${kind} ${unknown.join(", ")}\n${usage}`);
    return { exit: 2 };
  }
  return { values, only };
}

/** A number for the table: three significant places at most, with `unit` after a space. */
export function fmt(x, unit) {
  if (x === null || x === undefined) return "-";
  if (!Number.isFinite(x)) return String(x);
  const digits = Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  const n = x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${n} ${unit}` : n;
}

/** Rows of cells (the first is the header) as aligned columns. */
export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** The results file: written after each step too, so that a run stopped half-way keeps what it measured. */
export function writeResults(file, results) {
  return writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
}

/** Runs `main` and exits with its code; an exception is printed and exits 1. */
export function exitWith(name, main) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(`${name}: ${err.stack ?? err.message}`);
      process.exit(1);
    },
  );
}
