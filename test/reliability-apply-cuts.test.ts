// Fault 4, a push over a link that is cut during the apply: the sandbox deployment (test/harness/deployment.ts,
// `vmmeet serve` with a 2 s heartbeat) with the jvb VM's agent behind a proxy of the test's own
// (test/helpers/lossy-proxy.ts, 200 ms each way). Each push gives the bridge a new UDP port (jvb.conf and pf.conf
// change, jvb restarts); while jvb applies it, the link is cut: in the first push as the apply writes its first
// file, in the second as it ends (its answer is on its way), in the others at a random moment from its first
// write on. What must hold:
//   - every push completes: `vmmeet push` exits 0 with the generation rolled out, however the cut fell (the
//     coordinator sends the desired state again when the agent reconnects, and the agent answers that resend
//     from the apply it made);
//   - each generation is applied once on the bridge: one "apply finished", one write of jvb.conf, one
//     `rcctl restart jvb` per push;
//   - at the end the deployment is conference-ready, jvb on the last generation.
import { readFile, writeFile } from "node:fs/promises";
import type { StatusReport } from "@vmmeet/coordinator";
import { describe, expect, it } from "vitest";
import { prng } from "./helpers/fuzz.js";
import { proxiedNodeForTests } from "./helpers/proxied-node.js";
import { recordFigure, scale } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

const PUSHES = scale(2, 10);
const SEED = Number(process.env.FUZZ_SEED ?? 7);
/** The random cuts fall this long at most after the apply's first write. */
const CUT_WITHIN_MS = 3000;
const jvbOf = (st: StatusReport) => st.nodes.find((n) => n.node === "jvb");

const sandbox = proxiedNodeForTests("jvb", SEED);

describe("pushes whose apply on a VM is cut off from the coordinator midway", () => {
  it(
    `complete, each generation applied once (${PUSHES} pushes, seed ${SEED})`,
    async () => {
      const { d, proxy: p } = sandbox;
      const r = prng(SEED);
      const first = await d.push(180);
      expect(first.stdout, first.stdout + first.stderr).toMatch(/ok: generation 1 rolled out/);
      await d.waitVerdict("conference-ready", 90_000);
      p.faults = { latencyMs: 200, stallChance: 0, stallMaxMs: 0, cutChance: 0 };
      const jvb = d.nodes.get("jvb")!;
      const lines = (re: RegExp) => jvb.output.filter((l) => re.test(l));
      const restarts = async () => (await d.rcctlCalls("jvb")).filter((c) => c === "restart jvb").length;

      const pushMs: number[] = [];
      const cuts: { generation: number; at: string; afterWriteMs: number; applyEnded: boolean }[] = [];
      for (let i = 0; i < PUSHES; i++) {
        const g = i + 2;
        await writeFile(
          d.specFile,
          (await readFile(d.specFile, "utf8")).replace(
            /jvb: \{ udpPort: \d+ \}/,
            `jvb: { udpPort: ${10000 + g} }`,
          ),
        );
        const restartsBefore = await restarts();
        const started = Date.now();
        const pushing = d.push(300);
        // The apply's first write, and its end (the daemon's line, which it logs as it sends the answer).
        const written = new RegExp(`"generation":${g},.*"msg":"file written"`);
        const finished = new RegExp(`"generation":${g},.*"failed":\\d+.*"msg":"apply finished"`);
        const at = i === 0 ? "first write" : i === 1 ? "apply's end" : "random";
        await waitFor(() => lines(i === 1 ? finished : written).length > 0, {
          what: `jvb ${i === 1 ? "finishing" : "writing"} generation ${g}`,
          timeoutMs: 120_000,
          intervalMs: 5,
        });
        const writtenAt = Date.now();
        if (at === "random") await new Promise((res) => setTimeout(res, r.next() * CUT_WITHIN_MS));
        p.cutNow();
        cuts.push({
          generation: g,
          at,
          afterWriteMs: Date.now() - writtenAt,
          applyEnded: lines(finished).length > 0,
        });
        const push = await pushing;
        pushMs.push(Date.now() - started);
        expect(push.stdout, push.stdout + push.stderr).toMatch(new RegExp(`ok: generation ${g} rolled out`));
        expect(push.code).toBe(0);

        // Applied once: one answer, one write of jvb.conf, one restart, however the cut fell.
        await waitFor(() => lines(finished).length >= 1, { what: `jvb's apply of ${g} logged` });
        expect(lines(finished), lines(new RegExp(`"generation":${g},`)).join("\n")).toHaveLength(1);
        expect(
          lines(new RegExp(`"generation":${g},.*"path":"/etc/jvb/jvb\\.conf".*"msg":"file written"`)),
        ).toHaveLength(1);
        expect((await restarts()) - restartsBefore).toBe(1);
      }
      const last = PUSHES + 1;
      await d.waitVerdict("conference-ready", 120_000);
      // (The snapshot the agent sends on reconnecting, with its rcctl checks, may come after the push's end.)
      await waitFor(async () => jvbOf(await d.status())?.generation.applied === last, {
        what: `jvb reporting generation ${last}`,
        timeoutMs: 60_000,
      });
      expect(jvbOf(await d.status())?.generation).toEqual({ applied: last, desired: last });
      // The cuts fell during applies the coordinator still waited for: each answered again after the reconnect
      // (from the kept answer, or by the apply still running), not applied again.
      const repeats = lines(/"msg":"desired state sent again/);
      expect(repeats.length).toBeGreaterThanOrEqual(1);
      const answeredAgain = lines(/"msg":"desired state sent again: answered with its apply's result/).length;
      const sorted = [...pushMs].sort((a, b) => a - b);

      await recordFigure({
        fault: "cut-off during an apply",
        what: "pushes with the link cut during the bridge's apply",
        count: PUSHES,
        lost: 0,
        timeToHealthyMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
        details: {
          seed: SEED,
          link: "200 ms each way; one cut per push during the bridge's apply",
          cuts,
          resendsAnsweredFromKeptResult: answeredAgain,
          resendsWhileApplying: repeats.length - answeredAgain,
          pushSecondsMedian: Math.round(sorted[Math.floor(sorted.length / 2)]! / 100) / 10,
          pushSecondsMax: Math.round(Math.max(...pushMs) / 100) / 10,
          lost: "pushes failed, generations applied twice or not at all (none: one apply, one write, one restart each)",
          timeToHealthy: "push begun to the push's end (median), the cut inside",
        },
      });
    },
    scale(600_000, 1_800_000),
  );
});
