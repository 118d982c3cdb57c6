// Log rules: what the health classifier costs.
//
//   - rate: lines per CPU second of the agent's classifier (`vmmeet-agent classify --count`, run in a fresh
//     process: reading and decoding, the gate over each read chunk (prosody's lines it turns away are
//     counted, not cut out), jicofo's/jvb's record joiner, prosody's session correlator, the rule table)
//     over a generated mixed jicofo/jvb/prosody log, one pass per component, against GNU `grep -E -c` with
//     the same component's rule patterns (rules.js RULES via classify.js compileRules, translated to ERE
//     by lib/ere.mjs) on the same file in the same run. CPU time, not wall time, because the machine may
//     be shared: grep's is read from its parent shell's cutime/cstime. Best of `repeats` runs each.
//   - tailer: CPU share of a process running a real LogTailer + jicofo LogClassifier (lib/tail-child.mjs)
//     while a writer appends 1,000 lines/s to the file it follows; reference: bare node in the same window.
// Both children run with the node flags of rc.d/vmmeet_agent (V8 heap and compiler settings), as the agent does.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync } from "node:fs";
import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { agentNodeFlags, REPO } from "./lib/deployment.mjs";
import { toEre } from "./lib/ere.mjs";
import { figure } from "./lib/figure.mjs";
import { forkChild } from "./lib/ipc.mjs";
import { CORPUS, lineSource, linesText } from "./lib/logs.mjs";
import { pkg } from "./lib/packages.mjs";
import { CLK_TCK, cpuOf, cpuPercent, startBareNode, waitFor } from "./lib/proc.mjs";
import { round } from "./lib/stats.mjs";

const COMPONENTS = ["jicofo", "jvb", "prosody"];
/** Current OpenBSD packages (shared RELEASES.current): release-specific rules of that release apply. */
const RELEASE = 9646;
const CLASSIFY_CHILD = path.join(REPO, "bench/lib/classify-child.mjs");
const TAIL_CHILD = path.join(REPO, "bench/lib/tail-child.mjs");

/** The generated log, cached by content of its generator and corpus (it is the same every run). */
async function mixedLog(lines) {
  const key = createHash("sha256")
    .update(readFileSync(path.join(REPO, "bench/lib/logs.mjs")))
    .update(readFileSync(CORPUS))
    .digest("hex")
    .slice(0, 12);
  const dir = path.join(os.tmpdir(), "vmmeet-bench-cache");
  const file = path.join(dir, `mixed-${lines}-${key}.log`);
  if (existsSync(file)) return file;
  await mkdir(dir, { recursive: true });
  const source = lineSource({ seed: 9 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, "");
  for (let done = 0; done < lines; done += 100_000)
    await appendFile(tmp, linesText(source, Math.min(100_000, lines - done)));
  renameSync(tmp, file);
  return file;
}

function runCapture(cmd, args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d) => {
      out += d;
    });
    child.stderr.setEncoding("utf8").on("data", (d) => {
      err += d;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, out, err }));
  });
}

/** grep -E -c with the patterns; CPU time from the shell that waited for it (cutime + cstime). */
async function grepCount(patterns, file) {
  const args = [
    "-c",
    'grep -E -c "$@"; cat /proc/$$/stat',
    "sh",
    ...patterns.flatMap((p) => ["-e", p]),
    file,
  ];
  const t0 = performance.now();
  const r = await runCapture("sh", args, { ...process.env, LC_ALL: "C" });
  const wallMs = performance.now() - t0;
  const [countLine, stat] = r.out.trim().split("\n");
  if (r.err.trim() !== "" || stat === undefined) throw new Error(`grep failed: ${r.err.trim() || r.out}`);
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuMs = ((Number(f[16 - 3]) + Number(f[17 - 3])) / CLK_TCK) * 1000;
  return { count: Number(countLine), cpuMs, wallMs };
}

async function classifyOnce(file, component) {
  const r = await runCapture(
    process.execPath,
    [...agentNodeFlags(), CLASSIFY_CHILD, file, component, String(RELEASE)],
    process.env,
  );
  if (r.code !== 0) throw new Error(`classify child failed: ${r.err.trim()}`);
  return JSON.parse(r.out.trim());
}

/** The rules' patterns and the level patterns that let a line into the catalog stage (classify.js). */
function patternList(table) {
  return [
    ...table.rules.map((c) => [c.rule.signal, c.rule.re]),
    ...table.stagePatterns.map((re) => ["level", re]),
  ];
}

function patternsOf(compileRules, component) {
  return patternList(compileRules(component, RELEASE)).map(([, re]) => toEre(re));
}

/** The ERE translation finds the same lines as the JavaScript regexes on every corpus line. */
async function checkTranslation(compileRules, dir) {
  const lines = readFileSync(CORPUS, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l).line)
    .filter((l) => !l.includes("\n"));
  const sample = path.join(dir, "corpus.log");
  await writeFile(sample, `${lines.join("\n")}\n`);
  const disagree = [];
  for (const component of COMPONENTS)
    for (const [name, re] of patternList(compileRules(component, RELEASE))) {
      const js = lines.filter((l) => re.test(l)).length;
      const g = await grepCount([toEre(re)], sample);
      if (g.count !== js) disagree.push(`${component} ${name}: js ${js}, grep ${g.count}`);
    }
  return disagree;
}

async function tailerCpu({ seconds, dir }) {
  const file = path.join(dir, "jicofo.log");
  await writeFile(file, "");
  const state = path.join(dir, "tail-state");
  await mkdir(state, { recursive: true });
  const child = forkChild(TAIL_CHILD, [file, state, String(RELEASE)], { execArgv: agentNodeFlags() });
  const bare = startBareNode();
  try {
    await child.once("ready");
    const source = lineSource({ components: ["jicofo"], seed: 5 });
    const perTick = 100;
    const tickMs = 100;
    const warmupTicks = 20;
    const ticks = Math.round((seconds * 1000) / tickMs);
    let written = 0;
    let cpu0;
    let bare0;
    let t0;
    const start = performance.now();
    for (let i = 0; i < warmupTicks + ticks; i++) {
      if (i === warmupTicks) {
        cpu0 = cpuOf(child.pid);
        bare0 = cpuOf(bare.pid);
        t0 = performance.now();
      }
      await appendFile(file, linesText(source, perTick));
      written += perTick;
      // Keep the schedule (1,000 lines/s on average) even when a tick was late.
      const next = start + (i + 1) * tickMs;
      await delay(Math.max(0, next - performance.now()));
    }
    const secondsMeasured = (performance.now() - t0) / 1000;
    const cpu1 = cpuOf(child.pid);
    const bare1 = cpuOf(bare.pid);
    const seen = await waitFor(
      "the tailer to read every line",
      async () => {
        const c = await child.call("count");
        return c.lines + c.skipped >= written ? c : null;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    return {
      percent: cpuPercent(cpu0, cpu1, secondsMeasured),
      barePercent: cpuPercent(bare0, bare1, secondsMeasured),
      linesPerSecond: (ticks * perTick) / secondsMeasured,
      seconds: secondsMeasured,
      seen,
    };
  } finally {
    await child.stop();
    await bare.stop();
  }
}

export async function run({
  lines = 1_000_000,
  repeats = 3,
  tailSeconds = 30,
  log = () => {},
  keep = false,
}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-bench-logs-"));
  try {
    const { compileRules } = await import(pkg("agent/dist/health/classify.js"));
    log(`logrules: generating ${lines} mixed log lines (cached after the first run)`);
    const file = await mixedLog(lines);
    const disagree = await checkTranslation(compileRules, dir);
    // Warm the page cache so the first measured reader does not pay for the disk.
    spawnSync("cat", [file], { stdio: ["ignore", "ignore", "ignore"] });

    const per = {};
    for (const component of COMPONENTS) {
      log(`logrules: ${component}: classifier vs grep -E -c (best of ${repeats})`);
      const patterns = patternsOf(compileRules, component);
      const best = { c: null, g: null };
      for (let i = 0; i < repeats; i++) {
        const g = await grepCount(patterns, file);
        const c = await classifyOnce(file, component);
        if (!best.g || g.cpuMs < best.g.cpuMs) best.g = g;
        if (!best.c || c.cpuMs < best.c.cpuMs) best.c = c;
      }
      per[component] = { patterns: patterns.length, ...best };
    }
    const sum = (k, f) => COMPONENTS.reduce((a, c) => a + per[c][k][f], 0);
    const passes = COMPONENTS.length * lines;
    const classifierRate = passes / (sum("c", "cpuMs") / 1000);
    const grepRate = passes / (sum("g", "cpuMs") / 1000);

    log(`logrules: tailer at 1,000 lines/s for ${tailSeconds} s`);
    const tail = await tailerCpu({ seconds: tailSeconds, dir });

    const perDetails = Object.fromEntries(
      COMPONENTS.map((c) => [
        c,
        {
          rules: per[c].patterns,
          classifierLinesPerCpuS: Math.round(lines / (per[c].c.cpuMs / 1000)),
          grepLinesPerCpuS: Math.round(lines / (per[c].g.cpuMs / 1000)),
          // The component's own ratio (the figure's target is on the three passes together).
          ratioToGrep: round(per[c].g.cpuMs / per[c].c.cpuMs, 2),
          classifierCpuMs: round(per[c].c.cpuMs, 0),
          grepCpuMs: round(per[c].g.cpuMs, 0),
          classifierWallMs: round(per[c].c.wallMs, 0),
          grepWallMs: round(per[c].g.wallMs, 0),
          classifierSignalRecords: per[c].c.signalRecords,
          grepMatchingLines: per[c].g.count,
        },
      ]),
    );
    return {
      figures: [
        figure({
          id: "logrules.classifier-rate",
          name: `classifier lines/s over a ${lines}-line mixed log (3 components)`,
          value: classifierRate,
          unit: "lines/CPU-s",
          reference: { name: "grep -E -c, same patterns and file", value: grepRate, unit: "lines/CPU-s" },
          target: { on: "ratio", op: ">=", limit: 0.5, text: "at least half of grep's rate" },
          details: {
            release: RELEASE,
            grepLocale: "LC_ALL=C",
            repeats,
            perComponent: perDetails,
            ereTranslationDisagreements: disagree,
          },
        }),
        figure({
          id: "logrules.tailer-cpu",
          name: "LogTailer + classifier CPU at 1,000 lines/s",
          value: tail.percent,
          unit: "% of a core",
          reference: { name: "bare node CPU, same window", value: tail.barePercent, unit: "% of a core" },
          target: { op: "<", limit: 2, text: "below 2% of a core" },
          details: {
            linesPerSecond: round(tail.linesPerSecond, 0),
            seconds: round(tail.seconds, 1),
            linesRead: tail.seen.lines,
            // Over the tailer's budget of a second (lines, or CPU time in onLine): expected 0 here.
            linesSkipped: tail.seen.skipped,
            signalRecords: tail.seen.signals,
            pollIntervalMs: 1000,
          },
        }),
      ],
      notes: [],
    };
  } finally {
    if (!keep) await rm(dir, { recursive: true, force: true });
  }
}
