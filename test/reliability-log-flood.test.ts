// Fault 5, a flood of logs: jicofo writes 20,000 lines a second (for a minute in the full run, seconds in
// CI), then one line of 50 MB (5 MB in CI) with no newline, into the log a real agent follows. What must
// hold:
//   - the agent's CPU stays bounded (its tailer delivers at most 5,000 lines a second to the classifier and
//     counts the rest without decoding them) and its memory does not follow the flood (figures recorded);
//   - the skipped lines and the cut line are said in "log-lines-skipped" events, with their counts, not
//     one per line;
//   - health still comes through: the line a bridge joining the brewery prints, written after the flood,
//     reaches the coordinator's status.
import { readFileSync, statSync } from "node:fs";
import { appendFile, mkdir, open, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentEvent, AgentToCoordinator } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { jicofoConf, jicofoDesired } from "./helpers/jicofo-desired.js";
import { procCpuMs, procRssBytes } from "./helpers/proc-stats.js";
import { spawnNode, spawnShippedAgent, useCleanups } from "./helpers/processes.js";
import { FULL, recordFigure, scale } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

const RATE = 20_000;
const FLOOD_SECONDS = scale(4, 60);
const LONG_LINE_BYTES = scale(5, 50) * 1024 * 1024;
/** The agent's default budget (HealthMonitor, LogTailer). */
const BUDGET = 5000;
const LOG = "/var/log/jicofo";
const BREWERY_LINE =
  "Jicofo 2026-12-06 08:01:00.000 INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.addInstance#341: Added brewery instance: jvbbrewery@internal.auth.meet.example.org/floodjvb";

const cleanups = useCleanups();

function desired() {
  return jicofoDesired([jicofoConf("jicofo { }\n")], { logs: [{ component: "jicofo", path: LOG }] });
}

describe("a flood of logs", () => {
  it(
    `${RATE} lines/s for ${FLOOD_SECONDS} s and a ${LONG_LINE_BYTES / 1048576} MB line: bounded CPU and memory, counted skips, health comes through`,
    async () => {
      const s = await agentSandbox("vmmeet-flood-", cleanups, ["jicofo"]);
      const log = path.join(s.root, LOG);
      await mkdir(path.dirname(log), { recursive: true });
      await writeFile(log, "");
      const coord = await fakeCoordinator({ cleanups });
      // As rc.d runs it: its node flags shape the memory figure.
      const agent = spawnShippedAgent([...sandboxAgentArgs(s), "--coordinator", coord.url], { cleanups });
      const pid = agent.pid!;
      await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
        what: "agent connected",
        timeoutMs: 20_000,
      });
      coord.send({ type: "desired", id: "d1", generation: 1, desired: desired() });
      await waitFor(() => coord.frames.some((f) => f.type === "apply-result" && f.ok), {
        what: "applied",
        timeoutMs: 30_000,
      });
      const events = () => coord.frames.flatMap((f): AgentEvent[] => (f.type === "event" ? [f.event] : []));
      const skipEvents = () => events().filter((e) => e.kind === "log-lines-skipped");

      // The flood, from another process; the agent's CPU and resident memory sampled meanwhile.
      const rssBefore = procRssBytes(pid);
      const cpuBefore = procCpuMs(pid);
      const t0 = performance.now();
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, procRssBytes(pid));
      }, 100);
      cleanups.push(() => clearInterval(sampler));
      const writer = spawnNode(["test/helpers/log-flood.mjs", log, String(RATE), String(FLOOD_SECONDS)], {
        cleanups,
      });
      expect(await writer.exit, writer.output()).toBe(0);
      const flood = JSON.parse(writer.output()) as { lines: number; bytes: number; seconds: number };
      // Let the tailer finish the backlog (it reads a busy log every 100 ms), then measure.
      await waitFor(() => skipEvents().length > 0, { what: "the first skip event", timeoutMs: 30_000 });
      const cpuFloodMs = procCpuMs(pid) - cpuBefore;
      const floodWallMs = performance.now() - t0;

      // One line of LONG_LINE_BYTES without a newline, written in 1 MB pieces as a runaway writer would.
      const fh = await open(log, "a");
      const piece = Buffer.alloc(1024 * 1024, "x");
      for (let done = 0; done < LONG_LINE_BYTES; done += piece.length) await fh.write(piece);
      await fh.close();
      await appendFile(log, "\n");
      const faultEnd = performance.now();
      // The tailer has read it all once the cut line's event is out; a line in the same second as the flood's
      // last ones may still fall over that second's budget (as any line during a flood may), so jicofo's next
      // line comes in the next second, as it would.
      await waitFor(() => skipEvents().some((e) => /longer than 64 KiB/.test(e.message)), {
        what: "the cut line's event",
        timeoutMs: 30_000,
      });
      const caughtUp = performance.now();
      await waitFor(() => performance.now() - caughtUp > 1000, {
        what: "the next second of the budget",
        intervalMs: 50,
      });
      await appendFile(log, `${BREWERY_LINE}\n`);
      const healthy = await waitFor(
        () =>
          coord.frames.find(
            (f): f is Extract<AgentToCoordinator, { type: "status" | "snapshot" }> =>
              (f.type === "status" || f.type === "snapshot") &&
              f.status.health?.some((h) => h.component === "jicofo" && h.bridges?.includes("floodjvb")) ===
                true,
          ),
        { what: "the bridge reached the coordinator", timeoutMs: 30_000 },
      ).catch((err: Error) => {
        const last = coord.frames.filter((f) => f.type === "status" || f.type === "snapshot").at(-1);
        throw new Error(
          `${err.message}\nlast status: ${JSON.stringify(last)}\nagent log: ${agent.output().slice(-3000)}\nlog size ${statSync(log).size}, offsets ${readFileSync(path.join(s.state, "log-offsets.json"), "utf8")}`,
        );
      });
      const timeToHealthyMs = performance.now() - faultEnd;
      clearInterval(sampler);
      expect(healthy).toBeDefined();
      expect(agent.exited()).toBe(false);

      // Counted, not listed: a few events, whose counts add up to what the budget cannot have let through.
      const skips = skipEvents();
      expect(skips.length).toBeLessThanOrEqual(2 + Math.ceil(FLOOD_SECONDS / 60) * 2);
      const skipped = skips.reduce((n, e) => n + Number(/skipped (\d+) of/.exec(e.message)?.[1] ?? 0), 0);
      expect(skipped).toBeLessThan(flood.lines);
      expect(skipped).toBeGreaterThanOrEqual(flood.lines - BUDGET * (flood.seconds + 2));
      const cut = skips.find((e) => /longer than 64 KiB/.test(e.message))!;
      expect(cut.message).toMatch(/the rest of 1 line longer than 64 KiB/);
      expect(cut.target).toBe(LOG);
      // The agent's own log says it the same few times.
      // (The log comes through a pipe, the events through the socket.)
      const logged = () => agent.output().match(/"log lines skipped"/g)?.length ?? 0;
      await waitFor(() => logged() >= skips.length, { what: "the skips logged" });
      expect(logged()).toBe(skips.length);

      // Memory does not follow the flood (the tailer holds one 64 KiB buffer and at most 64 KiB of a line):
      // the whole flood is flood.bytes + LONG_LINE_BYTES, tens to hundreds of MB.
      const rssGrowthMB = (rssPeak - rssBefore) / 1e6;
      expect(rssGrowthMB, `RSS grew by ${rssGrowthMB.toFixed(1)} MB`).toBeLessThan(40);

      await recordFigure({
        fault: "log flood",
        what: "lines",
        count: flood.lines + 1,
        lost: 0,
        timeToHealthyMs: Math.round(timeToHealthyMs),
        cpuPercentOfCore: Math.round((cpuFloodMs / floodWallMs) * 1000) / 10,
        memoryMB: Math.round(rssGrowthMB * 10) / 10,
        details: {
          rate: RATE,
          floodSeconds: Math.round(flood.seconds * 10) / 10,
          floodMB: Math.round(flood.bytes / 1e5) / 10,
          longLineMB: LONG_LINE_BYTES / 1048576,
          budgetLinesPerSecond: BUDGET,
          skippedAndCounted: skipped,
          skipEvents: skips.length,
          rssBeforeMB: Math.round(rssBefore / 1e5) / 10,
          rssPeakMB: Math.round(rssPeak / 1e5) / 10,
          cpu: "agent process CPU (user+system) during the flood over its wall time",
          memory: "peak RSS during flood and long line minus RSS before",
          lost: "health lines written after the fault that did not reach the coordinator",
          scale: FULL ? "full" : "ci",
        },
      });
    },
    scale(60_000, 600_000),
  );
});
