// Fault 1: the coordinator dies in the middle of a rollout. In the sandbox (test/harness/deployment.ts: the
// real `vmmeet serve` and one real agent per node, the prosody/jicofo/jvb/nginx simulators), pushes of a
// change every node applies (host.adminNetworks: each node's pf.conf) are started one after the other, and
// the coordinator is killed with SIGKILL at a random moment of each, then started again. What must hold
// after each restart:
//   - the interrupted push is finished or rolled back (fleet/journal.ts), and `vmmeet events` says which;
//     its journal (rollout.json) is gone and `vmmeet status` shows no push running;
//   - every node holds the generation in force, and that generation is one the admin asked for: the pushed
//     spec (finished) or the last good one (rolled back, as a new generation);
//   - current.json's desired generation is its good one, and the deployment is conference-ready again;
//   - no agent applied any generation twice (its "apply finished" log lines, per generation).
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deployment } from "./harness/deployment.js";
import { prng } from "./helpers/fuzz.js";
import { recordFigure, scale } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

const PUSHES = scale(3, 30);
const SEED = Number(process.env.FUZZ_SEED ?? 21);
const ADMIN_NETWORKS = /^ {2}adminNetworks: \[[^\]]*\]/m;

let d: Deployment;
/** "node generation" -> how many applies of it the node's agent logged. */
const applies = new Map<string, number>();

beforeAll(async () => {
  d = await Deployment.start({
    agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"],
    onOutput: (line) => {
      const m = /^(\S+): (\{.*"msg":"apply finished".*\})$/.exec(line);
      // One line per desired state the agent handled (its engine logs each apply again, as part "apply").
      if (!m || m[2]!.includes('"part":"apply"')) return;
      const { generation } = JSON.parse(m[2]!) as { generation: number };
      const key = `${m[1]} ${generation}`;
      applies.set(key, (applies.get(key) ?? 0) + 1);
    },
  });
  await d.pushReady();
}, 240_000);
afterAll(async () => {
  await d?.remove();
}, 60_000);

interface AuditLine {
  kind: string;
  generation?: number;
  message: string;
}

async function readJson<T>(file: string): Promise<T> {
  return JSON.parse(await readFile(file, "utf8")) as T;
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** A push as an admin would run it; its CLI loses the coordinator when it is killed (any exit is fine). */
function startPush() {
  return d.push(120);
}

describe("the coordinator killed in the middle of a rollout", () => {
  it(
    `finishes or rolls back each of ${PUSHES} interrupted pushes, every node on a generation asked for, nothing applied twice (seed ${SEED})`,
    async () => {
      const r = prng(SEED);
      const slices = Array.from({ length: PUSHES }, (_, k) => k);
      for (let k = slices.length - 1; k > 0; k--) {
        const o = r.int(k + 1);
        [slices[k], slices[o]] = [slices[o]!, slices[k]!];
      }
      const current = path.join(d.stateDir, "current.json");
      const journal = path.join(d.stateDir, "rollout.json");
      const generationFile = (g: number) =>
        path.join(d.stateDir, "generations", `${String(g).padStart(8, "0")}.json`);

      // One push without a fault: how long a rollout of this change takes here, to spread the kills over it.
      const calibrate = async (i: number) => {
        const text = await readFile(d.specFile, "utf8");
        await writeFile(d.specFile, text.replace(ADMIN_NETWORKS, `  adminNetworks: [192.0.2.${i}/32]`));
        const t = performance.now();
        const res = await startPush();
        expect(res.code, res.stdout + res.stderr).toBe(0);
        return performance.now() - t;
      };
      const pushMs = await calibrate(200);

      const outcomes: Record<string, number> = {};
      const healthyMs: number[] = [];
      let wrongGeneration = 0;
      for (let i = 1; i <= PUSHES; i++) {
        const before = await readJson<{ desired: number; good: number }>(current);
        const oldText = (await readJson<{ specText: string }>(generationFile(before.desired))).specText;
        const newText = (await readFile(d.specFile, "utf8")).replace(
          ADMIN_NETWORKS,
          `  adminNetworks: [192.0.2.${i}/32]`,
        );
        expect(newText).not.toBe(oldText);
        await writeFile(d.specFile, newText);
        const auditBefore = (await readFile(path.join(d.stateDir, "audit.log"), "utf8")).length;

        const push = startPush();
        // Spread over the whole rollout (and a little after it): each kill in a slice of its own, the slices in
        // random order (a run cut short has still hit every part of the rollout).
        const killAfter = Math.round(((slices[i - 1]! + r.next()) / PUSHES) * pushMs * 1.1);
        await new Promise((resolve) => setTimeout(resolve, killAfter));
        const killedAt = performance.now();
        await d.restartCoordinator("SIGKILL");
        await push;

        // Recovered: no push running, the journal gone, every node connected and on the generation in force.
        const st = await waitFor(
          async () => {
            const s = await d.status();
            if (s.pushRunning !== null || (await exists(journal))) return undefined;
            const onIt = s.nodes.every((n) => n.connected && n.generation.applied === s.desiredGeneration);
            return onIt ? s : undefined;
          },
          // The push's timeout (a gate checked again that does not pass), then its rollback.
          {
            what: `push ${i} (killed after ${killAfter} ms) finished or rolled back`,
            timeoutMs: 420_000,
            intervalMs: 200,
          },
        );
        await d.waitVerdict("conference-ready", 120_000);
        healthyMs.push(performance.now() - killedAt);

        const after = await readJson<{ desired: number; good: number }>(current);
        expect(after.good, "current.json: the generation in force is the good one").toBe(after.desired);
        expect(st.desiredGeneration).toBe(after.desired);
        const inForce = (await readJson<{ specText: string }>(generationFile(after.desired))).specText;
        const asked = inForce === newText ? "new" : inForce === oldText ? "old" : "neither";
        if (asked === "neither") wrongGeneration += 1;
        expect(asked, `generation ${after.desired} holds a spec nobody pushed`).not.toBe("neither");

        // What the audit log (vmmeet events) says of this round.
        const audit = (await readFile(path.join(d.stateDir, "audit.log"), "utf8"))
          .slice(auditBefore)
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as AuditLine);
        const kinds = audit.map((e) => e.kind);
        const interrupted = audit.find((e) => e.kind === "push-interrupted");
        let outcome: string;
        if (!kinds.includes("push-accepted")) outcome = "killed before the push was accepted";
        else if (!interrupted) outcome = "rolled out before the kill";
        else if (/never put in force/.test(interrupted.message))
          outcome = "accepted, never in force: dropped";
        else if (kinds.includes("rollback")) outcome = "rolled back";
        else outcome = "finished";
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        const want = {
          "killed before the push was accepted": "old",
          "rolled out before the kill": "new",
          "accepted, never in force: dropped": "old",
          "rolled back": "old",
          finished: "new",
        }[outcome];
        expect(asked, `${outcome}: ${kinds.join(", ")}`).toBe(want);
        if (outcome === "finished")
          expect(
            audit.some((e) => e.kind === "push-succeeded" && /restart was finished/.test(e.message)),
            kinds.join(", "),
          ).toBe(true);
        if (outcome === "rolled back") {
          expect(kinds).toContain("push-failed");
          expect(audit.find((e) => e.kind === "push-failed")?.message).toMatch(
            /interrupted by a coordinator restart/,
          );
        }
        if (interrupted) {
          // `vmmeet events` shows it to the admin.
          const events = await d.vmmeet("events", "--limit", "30");
          expect(events.code).toBe(0);
          expect(events.stdout).toContain("push-interrupted");
          expect(events.stdout).toContain("the coordinator stopped during the push");
        }
      }

      // Nothing applied twice: each node's agent applied each generation at most once.
      const twice = [...applies].filter(([, n]) => n > 1);
      expect(twice, "generations applied twice").toEqual([]);
      const sorted = [...healthyMs].sort((a, b) => a - b);
      await recordFigure({
        fault: "coordinator killed during a rollout",
        what: "kill -9 during pushes",
        count: PUSHES,
        lost: twice.length + wrongGeneration,
        timeToHealthyMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
        details: {
          seed: SEED,
          outcomes,
          pushSecondsWithoutFault: Math.round(pushMs / 100) / 10,
          timeToHealthySecondsMax: Math.round(Math.max(...healthyMs) / 100) / 10,
          appliesCounted: [...applies.values()].reduce((a, b) => a + b, 0),
          lost: "applies of a generation a node already held, and nodes left on a generation nobody pushed (none)",
          timeToHealthy:
            "median, from the kill to the restarted coordinator having finished or rolled back the push with the deployment conference-ready",
        },
      });
    },
    scale(600_000, 3_600_000),
  );
});
