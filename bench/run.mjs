#!/usr/bin/env node
// `npm run bench`: builds, then runs every benchmark, prints a table, writes bench/results.json and exits
// non-zero when a target is missed (naming which). Targets are never part of `npm test`: there,
// test/bench-smoke.test.ts only runs every benchmark once in its smallest configuration.
//
//   node bench/run.mjs [--quick] [--only footprint,push,fleet,logrules] [--out FILE] [--keep]
//                      [--idle-minutes N] [--applies N] [--log-lines N] [--pushes N] [--agents N]
//                      [--lines N] [--restarts N]
//
// Every figure is compared to a reference measured in the same run on the same machine (bare node, a
// no-op admin call, grep), because the machine may be shared and noisy. The agent footprint's idle window
// runs first and alone; the other benchmarks follow one after another.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { failedFigure } from "./lib/figure.mjs";
import { machine } from "./lib/machine.mjs";
import { snapshotPackages } from "./lib/packages.mjs";
import { interruptCleanups } from "./lib/proc.mjs";
import { exitWith, fmt, parseRunArgs, table, writeResults } from "./lib/runner.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ALL = ["footprint", "push", "fleet", "logrules", "restart"];

const USAGE = `usage: node bench/run.mjs [--quick] [--only ${ALL.join(",")}] [--out FILE] [--keep]
         [--idle-minutes N] [--applies N] [--log-lines N] [--pushes N] [--agents N] [--lines N]
         [--restarts N]
  --quick         short run for development (1 min idle, fewer applies, pushes, agents and lines)
  --only LIST     run these benchmarks only (comma-separated)
  --out FILE      where to write the results (default bench/results.json)
  --keep          keep the temporary directories (agent logs, state) for inspection
  --idle-minutes  footprint: idle window (default 10, quick 1)
  --applies       footprint: applies for the growth figure (default 1000, quick 50)
  --log-lines     footprint: log lines for the growth figure (default 1000000, quick 50000)
  --pushes        push: measured pushes (default 50, quick 3)
  --agents        fleet: agents (default 1000, quick 200)
  --lines         logrules: lines of the generated log (default 1000000, quick 300000)
  --restarts      restart: prosody-restarting pushes and plain restarts each (default 20, quick 3)`;

function settings(values) {
  const quick = values.quick === true;
  const num = (name, full, short) => {
    const v = values[name];
    if (v === undefined) return quick ? short : full;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
    return n;
  };
  return {
    quick,
    footprint: {
      idleMinutes: num("idle-minutes", 10, 1),
      settleSeconds: quick ? 5 : 20,
      applies: num("applies", 1000, 50),
      lines: num("log-lines", 1_000_000, 50_000),
    },
    push: { pushes: num("pushes", 50, 3) },
    fleet: { agents: num("agents", 1000, 200), processes: 4, fanouts: quick ? 1 : 3 },
    logrules: {
      lines: num("lines", 1_000_000, 300_000),
      repeats: quick ? 2 : 3,
      tailSeconds: quick ? 10 : 30,
    },
    restart: { pushes: num("restarts", 20, 3) },
  };
}

function figureTable(figures) {
  return table([
    ["figure", "value", "reference", "ratio", "target", ""],
    ...figures.map((f) => [
      f.id,
      f.error ? "error" : fmt(f.value, f.unit),
      f.reference ? `${fmt(f.reference.value, f.reference.unit)} (${f.reference.name})` : "-",
      f.ratio === null || f.ratio === undefined ? "-" : `${fmt(f.ratio)}x`,
      f.target ? f.target.text : "(info)",
      f.pass === null ? "" : f.pass ? "ok" : "MISSED",
    ]),
  ]);
}

async function main() {
  const args = parseRunArgs({
    name: "bench",
    usage: USAGE,
    kind: "benchmark",
    all: ALL,
    options: {
      quick: { type: "boolean" },
      out: { type: "string" },
      keep: { type: "boolean" },
      "idle-minutes": { type: "string" },
      applies: { type: "string" },
      "log-lines": { type: "string" },
      pushes: { type: "string" },
      agents: { type: "string" },
      lines: { type: "string" },
      restarts: { type: "string" },
    },
  });
  if (args.exit !== undefined) return args.exit;
  const { values, only } = args;
  let s;
  try {
    s = settings(values);
  } catch (err) {
    console.error(`bench: ${err.message}`);
    return 2;
  }
  const out = values.out ?? path.join(HERE, "results.json");
  const started = Date.now();
  const host = machine();
  const log = (msg) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);
  log(
    `vmmeet benchmarks (${s.quick ? "quick" : "full"}) on ${host.cpuModel}, ${host.cores} cores, node ${host.node}`,
  );

  // Every process of the run loads this copy of the build (lib/packages.mjs says why).
  const snapshot = await snapshotPackages();
  process.env.VMMEET_BENCH_PACKAGES = snapshot.packages;
  interruptCleanups.add(snapshot.remove);

  const figures = [];
  const notes = [];
  const selected = ALL.filter((b) => only.includes(b));
  const results = () => ({
    version: 1,
    mode: s.quick ? "quick" : "full",
    complete: done.length === selected.length,
    command: `node bench/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
    machine: host,
    durationSeconds: Math.round((Date.now() - started) / 1000),
    settings: Object.fromEntries(selected.map((b) => [b, s[b]])),
    figures,
    missed: figures.filter((f) => f.pass === false).map((f) => f.id),
    notes,
  });
  const done = [];
  for (const name of selected) {
    const t = Date.now();
    try {
      const mod = await import(path.join(HERE, `${name}.mjs`));
      const r = await mod.run({ ...s[name], log, keep: values.keep === true });
      for (const f of r.figures) figures.push({ benchmark: name, ...f });
      notes.push(...r.notes);
    } catch (err) {
      log(`${name}: failed: ${err.stack ?? err.message}`);
      figures.push({ benchmark: name, ...failedFigure(`${name}.run`, `${name} benchmark`, err) });
    }
    log(`${name}: done in ${((Date.now() - t) / 1000).toFixed(0)} s`);
    done.push(name);
    await writeResults(out, results());
  }
  if (values.keep) log(`kept the build copy in ${snapshot.packages}`);
  else await snapshot.remove();

  const missed = figures.filter((f) => f.pass === false);
  const final = results();
  await writeResults(out, final);
  console.log(`\n${figureTable(figures)}\n`);
  for (const n of notes) console.log(`note: ${n}`);
  console.log(`results: ${path.relative(process.cwd(), out)} (${final.durationSeconds} s)`);
  if (missed.length > 0) {
    console.log(`\nMISSED ${missed.length} target(s):`);
    for (const f of missed)
      console.log(
        `  ${f.id}: ${f.error ? `did not run: ${f.error}` : `${fmt(f.target.on === "ratio" ? f.ratio : f.value, f.target.on === "ratio" ? "x" : f.unit)}, target: ${f.target.text}`}`,
      );
    return 1;
  }
  return 0;
}

let stopping = false;
const interrupted = (signal) => {
  if (stopping) process.exit(130);
  stopping = true;
  console.error(`\nbench: ${signal}: stopping the processes it started`);
  Promise.allSettled([...interruptCleanups].map((fn) => fn())).then(() => process.exit(130));
};
process.once("SIGINT", () => interrupted("SIGINT"));
process.once("SIGTERM", () => interrupted("SIGTERM"));

exitWith("bench", main);
