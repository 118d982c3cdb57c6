#!/usr/bin/env node
// The agent's log pipeline for one file, as the health monitor builds it: a LogTailer (default poll
// interval, woken by writes as the monitor's are, offsets committed to a JsonFileOffsetStore) feeding
// jicofo's LogClassifier.
//
//   tail-child.mjs FILE STATE_DIR RELEASE
//
// IPC: {cmd: "count"} -> {lines, records, signals, skipped}.
import path from "node:path";
import { pkg } from "./packages.mjs";

const dist = (p) => import(pkg(`agent/dist/health/${p}`));
const { LogTailer } = await dist("tailer.js");
const { JsonFileOffsetStore } = await dist("offsetStore.js");
const { LogClassifier } = await dist("pipeline.js");

const [file, stateDir, release] = process.argv.slice(2);
const counts = { lines: 0, records: 0, signals: 0 };
const classifier = new LogClassifier({
  component: "jicofo",
  release: Number(release),
  onRecord: (r) => {
    counts.records++;
    if (r.signal !== null) counts.signals++;
  },
});
const tailer = new LogTailer({
  path: file,
  store: new JsonFileOffsetStore(path.join(stateDir, "log-offsets.json")),
  onLine: (line) => {
    counts.lines++;
    classifier.push(line);
  },
  onError: (err) => process.stderr.write(`tailer: ${err.message}\n`),
  wakeOnWrite: true,
});
tailer.start();
await tailer.poll();
process.on("message", (msg) => {
  // skipped: lines the tailer read but did not deliver, over its budget of a second (maxLinesPerSecond
  // lines, or maxBusyMsPerSecond of CPU time in onLine); none at this figure's 1,000 lines/s.
  if (msg.cmd === "count") process.send?.({ reply: msg.seq, ...counts, skipped: tailer.totals.skippedLines });
});
const stop = () =>
  tailer.stop().then(() => {
    classifier.close();
    process.exit(0);
  });
process.once("SIGTERM", stop);
process.once("disconnect", stop);
process.send?.({ type: "ready" });
