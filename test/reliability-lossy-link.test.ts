// Fault 4, the agent's side: a VM cut off from the coordinator, then a slow and lossy link (a proxy of the
// test's own between the agent and the coordinator: test/helpers/lossy-proxy.ts adds 500 ms each way, stalls
// the link for up to 3 s and cuts connections at random). The test plays the coordinator and, like the real
// one, sends the generation in force again to an agent whose hello says it is behind. What must hold:
//   - cut off, the agent keeps enforcing its state (a hand edit is restored), and retries at its backoff's
//     rate, not in a storm;
//   - when the link comes back, the agent reconnects on its next attempt, and every reconnect over the lossy
//     link follows a cut (none of its own making);
//   - pushes over the lossy link complete, slower, each applied once (one write), however many times a cut
//     made the coordinator send it again: the first push's desired state is lost on its way (a cut), so it
//     goes again after the reconnect; the second's answer is lost (the agent applied it, the coordinator
//     learns it from the next hello); the others meet the random stalls and cuts.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentEvent, AgentToCoordinator } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { agentSandbox, sandboxAgentArgs, sleeperPids } from "./helpers/agent-sandbox.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { prng } from "./helpers/fuzz.js";
import { jicofoConf, jicofoDesired } from "./helpers/jicofo-desired.js";
import { attemptsWithin, lossyProxy } from "./helpers/lossy-proxy.js";
import { spawnAgent, useCleanups } from "./helpers/processes.js";
import { recordFigure, scale } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();
const CONF = "/etc/jicofo/jicofo.conf";
const PUSHES = scale(2, 10);
const SEED = Number(process.env.FUZZ_SEED ?? 4);

function desired(generation: number) {
  return jicofoDesired([jicofoConf(`jicofo { generation = ${generation} }\n`)]);
}

describe("a cut-off VM and a slow, lossy link", () => {
  it(
    `keeps enforcing while cut off, reconnects without a storm, ${PUSHES} pushes over the lossy link applied once each (seed ${SEED})`,
    async () => {
      const r = prng(SEED);
      const s = await agentSandbox("vmmeet-lossy-", cleanups, ["jicofo"]);
      // The coordinator: the generation in force goes again to an agent that says hello behind it.
      let inForce = 1;
      const sent: number[] = [];
      const sendInForce = (ws: WebSocket) => {
        sent.push(inForce);
        ws.send(
          JSON.stringify({
            type: "desired",
            id: `d${inForce}-${sent.length}`,
            generation: inForce,
            desired: desired(inForce),
          }),
        );
      };
      const coord = await fakeCoordinator({
        cleanups,
        onFrame: (f, ws) => {
          if (f.type === "hello" && f.generation < inForce) sendInForce(ws);
        },
      });
      const proxy = await lossyProxy(Number(new URL(coord.url).port), r);
      cleanups.push(() => proxy.close());
      const agent = spawnAgent(
        [
          ...sandboxAgentArgs(s),
          "--coordinator",
          `ws://127.0.0.1:${proxy.port}/agent`,
          "--log-level",
          "debug",
          "--heal-interval",
          "0.3",
        ],
        { cleanups },
      );
      const hellos = () =>
        coord.frames.filter((f) => f.type === "hello") as Extract<AgentToCoordinator, { type: "hello" }>[];
      const events = () => coord.frames.flatMap((f): AgentEvent[] => (f.type === "event" ? [f.event] : []));
      const applied = (g: number) =>
        coord.frames.some(
          (f) =>
            (f.type === "apply-result" && f.generation === g && f.ok) ||
            (f.type === "hello" && f.generation >= g),
        );
      await waitFor(() => applied(1), { what: "generation 1 applied", timeoutMs: 30_000 });
      const jicofo = () => sleeperPids(s.root, "jicofo");
      await waitFor(() => jicofo().length === 1, { what: "jicofo running" });

      // Cut off: the agent restores a hand edit on its own, and retries at its backoff's rate.
      proxy.setCutOff(true);
      const cutAt = performance.now();
      const attemptsBefore = proxy.accepted;
      const conf = path.join(s.root, CONF);
      await writeFile(conf, "jicofo { edited by hand }\n");
      await waitFor(async () => (await readFile(conf, "utf8")).includes("generation = 1"), {
        what: "the hand edit restored while cut off",
        timeoutMs: 20_000,
      });
      await waitFor(() => proxy.accepted - attemptsBefore >= 4, {
        what: "four attempts while cut off",
        timeoutMs: 30_000,
      });
      const cutOffMs = performance.now() - cutAt;
      const cutOffAttempts = proxy.accepted - attemptsBefore;
      expect(cutOffAttempts).toBeLessThanOrEqual(attemptsWithin(cutOffMs));

      // Back, slow and lossy.
      proxy.faults = { latencyMs: 500, stallChance: 0.05, stallMaxMs: 3000, cutChance: 0.03 };
      const helloCount = hellos().length;
      proxy.setCutOff(false);
      const backAt = performance.now();
      await waitFor(() => hellos().length > helloCount, {
        what: "reconnected over the lossy link",
        timeoutMs: 60_000,
      });
      const reconnectMs = performance.now() - backAt;
      const lossyFrom = { accepted: proxy.accepted, cuts: proxy.cuts };

      const pushMs: number[] = [];
      for (let g = 2; g < 2 + PUSHES; g++) {
        inForce = g;
        const t = performance.now();
        if (g === 2) proxy.cutOnNext("to-agent");
        const ws = coord.socket();
        if (ws && ws.readyState === ws.OPEN) sendInForce(ws);
        if (g === 3) proxy.cutOnNext("to-coordinator");
        await waitFor(() => applied(g), { what: `generation ${g} applied`, timeoutMs: 120_000 });
        pushMs.push(performance.now() - t);
      }
      const last = 1 + PUSHES;
      await waitFor(async () => (await readFile(conf, "utf8")).includes(`generation = ${last}`), {
        what: "the last generation on disk",
      });

      // Each generation written once, however often it was sent: the log's "file written" per generation.
      const writes = (g: number) =>
        (
          agent
            .output()
            .match(new RegExp(`"generation":${g},[^\\n]*"path":"${CONF}"[^\\n]*"msg":"file written"`, "g")) ??
          []
        ).length;
      // (The log comes through a pipe, the frames through the socket: wait for the lines, then count them.)
      const generations = Array.from({ length: PUSHES }, (_, i) => i + 2);
      await waitFor(() => generations.every((g) => writes(g) >= 1), {
        what: "every generation's write logged",
      });
      for (const g of generations) expect(writes(g), `generation ${g} written`).toBe(1);
      // No reconnect storm: every reconnect over the lossy link followed a cut (or an attempt that failed).
      const reconnects = proxy.accepted - lossyFrom.accepted;
      const cuts = proxy.cuts - lossyFrom.cuts;
      expect(reconnects).toBeLessThanOrEqual(cuts + 2);
      expect(agent.exited()).toBe(false);
      const repairs = events().filter((e) => e.kind === "repair-file" && e.target === CONF);

      await recordFigure({
        fault: "cut-off VM, then a lossy link (agent side)",
        what: "pushes over the lossy link",
        count: PUSHES,
        lost: 0,
        timeToHealthyMs: Math.round(reconnectMs),
        details: {
          seed: SEED,
          cutOffSeconds: Math.round(cutOffMs / 100) / 10,
          attemptsWhileCutOff: cutOffAttempts,
          link: "500 ms each way, 5 % of chunks stall the link up to 3 s, 3 % cut the connection",
          pushSecondsMedian:
            Math.round(pushMs.sort((a, b) => a - b)[Math.floor(pushMs.length / 2)]! / 100) / 10,
          pushSecondsMax: Math.round(Math.max(...pushMs) / 100) / 10,
          sendsOfPushedGenerations: sent.filter((g) => g >= 2).length,
          cutsOverLossyLink: cuts,
          reconnectsOverLossyLink: reconnects,
          repairEventsDelivered: repairs.length,
          lost: "generations applied twice or not at all (none: each written once)",
          timeToHealthy: "link back to the agent's hello over the lossy link",
        },
      });
    },
    scale(120_000, 900_000),
  );
});
