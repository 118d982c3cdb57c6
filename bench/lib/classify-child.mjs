#!/usr/bin/env node
// One pass of the agent's classifier over a log file, in a fresh process, timed from the inside:
//
//   classify-child.mjs FILE COMPONENT RELEASE
//
// Runs `vmmeet-agent classify --count` in-process (cli/classify.js runClassify: the agent's line splitting
// and LogClassifier pipeline, with jicofo's and jvb's record joiner and prosody's session correlator) with
// the file as its input, and prints one JSON line: {cpuMs, wallMs, records, signalRecords}. Node's start
// and module loading are outside the timed part.
import { createReadStream } from "node:fs";
import { pkg } from "./packages.mjs";

const { runClassify } = await import(pkg("agent/dist/cli/classify.js"));
const [file, component, release] = process.argv.slice(2);

let output = "";
const sink = {
  write(chunk) {
    output += chunk;
    return true;
  },
  once() {},
};
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const code = await runClassify(
  ["--component", component, "--release", release, "--count"],
  createReadStream(file),
  sink,
);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
if (code !== 0) {
  process.stderr.write(`classify exited ${code}\n`);
  process.exit(1);
}
const totals = JSON.parse(output);
const signalRecords = Object.values(totals.signals).reduce((a, b) => a + b, 0);
process.stdout.write(
  `${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, wallMs, records: totals.records, signalRecords })}\n`,
);
