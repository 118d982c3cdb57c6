import { ManualClock } from "@vmmeet/node";
import { type NodeDesired, NodeDesired as NodeDesiredSchema, type NodeStatus } from "@vmmeet/shared";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { fleetSpec } from "../../../../test/helpers/fleet-spec.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import type { AuditEntry } from "../state/store.js";
import { type CronTrigger, HealScheduler, type HealSchedulerOptions, type HealSource } from "./heal.js";
import type { Applied } from "./rollout.js";

// Far from the machine's clock: a backoff measured on Date.now() would not follow the injected clock.
const T = Date.parse("2031-03-01T10:00:00Z");

const jvbDesired: NodeDesired = NodeDesiredSchema.parse({
  node: "jvb",
  role: "jvb",
  files: [{ path: "/etc/jvb/jvb.conf", content: "a = 1\n", mode: "0640", owner: "root", group: "_jvb" }],
  services: [{ name: "jvb", flags: null, order: 20, graceSeconds: 90 }],
  actions: [],
  health: { release: 9646 },
});

const behind: NodeStatus = {
  generation: 1,
  applying: null,
  files: [],
  services: [],
  health: [],
  metrics: null,
};

/** The heal schedule over a scripted coordinator: jvb connected and one generation behind. */
function scripted(answers: Applied[], extra: Partial<HealSchedulerOptions> = {}) {
  const clock = new ManualClock(T);
  const applies: { node: string; generation: number; timeoutMs: number | undefined }[] = [];
  const audit: (Omit<AuditEntry, "at"> & { at?: string })[] = [];
  const state = { pushRunning: false };
  const source: HealSource = {
    current: () => ({ generation: 2, spec: fleetSpec, nodes: { jvb: jvbDesired } }),
    pushRunning: () => state.pushRunning,
    nodes: () => [{ node: "jvb", connected: true, status: behind }],
    refresh: async () => undefined,
    apply: async (node, generation, _desired, timeoutMs) => {
      applies.push({ node, generation, timeoutMs });
      return answers.shift() ?? { ok: false, problem: "no answer scripted", result: null };
    },
    audit: async (e) => {
      audit.push(e);
    },
  };
  const heal = new HealScheduler({
    source,
    logger: pino({ level: "silent" }),
    clock,
    ...extra,
    tuning: { applyTimeoutMs: 7_000, ...extra.tuning },
  });
  return { clock, heal, applies, audit, state };
}

const failed: Applied = { ok: false, problem: "jvb did not answer within 7 s", result: null };
const applied: Applied = {
  ok: true,
  result: { type: "apply-result", replyTo: "c1", generation: 2, ok: true, unchanged: false, items: [] },
};

describe("HealScheduler over a HealSource", () => {
  it("re-pushes a node that lags through apply, and backs off on the injected clock", async () => {
    const s = scripted([failed, failed, applied]);
    expect((await s.heal.tick()).repushed).toEqual([{ node: "jvb", why: "lagging", ok: false }]);
    expect(s.applies).toEqual([{ node: "jvb", generation: 2, timeoutMs: 7_000 }]);
    expect(s.audit).toEqual([
      {
        at: new Date(T).toISOString(),
        kind: "heal-repush",
        node: "jvb",
        generation: 2,
        result: "failed",
        message:
          "re-push of generation 2 to jvb failed (lagging: applied 1, in force 2): jvb did not answer within 7 s",
      },
    ]);
    // The first failure holds the next re-push back a minute, the second two, on the injected clock.
    s.clock.advance(59_999);
    expect((await s.heal.tick()).repushed).toEqual([]);
    s.clock.advance(1);
    expect((await s.heal.tick()).repushed).toEqual([{ node: "jvb", why: "lagging", ok: false }]);
    s.clock.advance(119_999);
    expect((await s.heal.tick()).repushed).toEqual([]);
    s.clock.advance(1);
    expect((await s.heal.tick()).repushed).toEqual([{ node: "jvb", why: "lagging", ok: true }]);
    expect(s.applies).toHaveLength(3);
    expect(s.audit.at(-1)).toMatchObject({
      at: new Date(T + 180_000).toISOString(),
      result: "ok",
      message: "re-pushed generation 2 to jvb (lagging: applied 1, in force 2)",
    });
  });

  it("sends nothing while a push runs", async () => {
    const s = scripted([applied]);
    s.state.pushRunning = true;
    expect((await s.heal.tick()).repushed).toEqual([]);
    expect(s.applies).toEqual([]);
    s.state.pushRunning = false;
    expect((await s.heal.tick()).repushed).toEqual([{ node: "jvb", why: "lagging", ok: true }]);
  });
});

describe("HealScheduler's schedule", () => {
  /** A cron that fires only when the test says so. */
  function manualCron() {
    const tasks: { expression: string; fire: () => void; stopped: boolean }[] = [];
    const cron: CronTrigger = (expression, fire) => {
      const task = { expression, fire, stopped: false };
      tasks.push(task);
      return {
        stop: () => {
          task.stopped = true;
        },
      };
    };
    return { cron, tasks };
  }

  it("lets the cron only trigger: the settle time after start and the jitter run on the injected clock", async () => {
    const { cron, tasks } = manualCron();
    const s = scripted([applied], {
      cron,
      random: () => 0.5,
      tuning: { settleSeconds: 60, jitterSeconds: 10 },
    });
    s.heal.start();
    expect(tasks.map((t) => t.expression)).toEqual([fleetSpec.operations.heal.schedule]);
    const fire = tasks[0]!.fire;

    // Inside the settle time after start: the round is skipped, no timer armed.
    s.clock.advance(59_999);
    fire();
    expect(s.clock.pending).toBe(0);

    // After it: the round waits its jitter (half of 10 s here) on the clock; a second trigger meanwhile adds none.
    s.clock.advance(1);
    fire();
    fire();
    expect(s.clock.pending).toBe(1);
    expect(s.clock.nextAt).toBe(T + 60_000 + 5_000);
    s.clock.advance(4_999);
    expect(s.applies).toEqual([]);
    s.clock.advance(1);
    await waitFor(() => s.audit.length === 1, { what: "the round's re-push recorded", intervalMs: 0 });
    expect(s.applies).toEqual([{ node: "jvb", generation: 2, timeoutMs: 7_000 }]);
    expect(s.audit[0]).toMatchObject({ at: new Date(T + 65_000).toISOString(), result: "ok" });

    await s.heal.stop();
    expect(tasks[0]!.stopped).toBe(true);
    fire();
    expect(s.clock.pending).toBe(0);
  });

  it("falls back to every minute when operations.heal.schedule is not a cron expression", () => {
    const { cron, tasks } = manualCron();
    const s = scripted([], { cron, tuning: { schedule: "every minute" } });
    s.heal.start();
    expect(tasks.map((t) => t.expression)).toEqual(["* * * * *"]);
  });
});
