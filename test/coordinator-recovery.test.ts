// A push the coordinator stopped in the middle of, dealt with on restart (fleet/journal.ts, fleet/interrupted.ts),
// with the daemon in this process and scripted agents that report chosen generations: the state directory is
// copied while a push waits for the web node (what a kill -9 at that moment leaves: every file there is
// written atomically), and a new daemon starts on the copy. Finished when every node holds the generation,
// rolled back (as a new generation) otherwise, dropped when it was never put in force; no agent is ever sent
// a generation it holds. The sandbox test with real agents and kill -9 is reliability-coordinator-crash.test.ts.
import { cp, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { adminCall, CoordinatorDaemon } from "@vmmeet/coordinator";
import type { NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { beginRotation, rotationPending } from "../packages/coordinator/src/secrets/rotation.js";
import { fixturesDir } from "./fixtures/material.js";
import { materialTemplate } from "./helpers/material-template.js";
import { useCleanups } from "./helpers/processes.js";
import { goodHealth, ScriptedAgent } from "./helpers/scripted-agent.js";
import { waitFor } from "./helpers/wait.js";

const logger = pino({ level: "silent" });
const NODES = ["vmm", "web", "xmpp", "jicofo", "jvb"];
let template: string;
let spec1 = "";
let spec2 = "";

beforeAll(async () => {
  spec1 = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  spec2 = spec1.replace("host:\n  name: vmm\n", "host:\n  name: vmm\n  adminNetworks: [192.0.2.0/24]\n");
  template = await materialTemplate(spec1, "vmmeet-recovery-template-");
});
afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

const cleanups = useCleanups();

async function startDaemon(state: string) {
  const d = new CoordinatorDaemon({
    stateDir: state,
    listen: { host: "127.0.0.1", port: 0 },
    logger,
    heartbeatMs: 500,
    applyTimeoutMs: 5000,
    heal: false,
    insecure: true,
  });
  await d.start();
  cleanups.push(() => d.stop());
  return d;
}

async function connect(
  d: CoordinatorDaemon,
  node: string,
  at?: { generation: number; desired: NodeDesired },
) {
  const a = new ScriptedAgent(`ws://127.0.0.1:${d.port}/agent`, node, { health: goodHealth });
  if (at) {
    a.generation = at.generation;
    a.desired = at.desired;
  }
  await a.connect();
  cleanups.push(() => a.close());
  return a;
}

const json = async <T>(file: string) => JSON.parse(await readFile(file, "utf8")) as T;
const genFile = (state: string, g: number) =>
  path.join(state, "generations", `${String(g).padStart(8, "0")}.json`);

/**
 * Generation 1 rolled out, then generation 2 pushed with the web node silent: the state directory as it is
 * while the push waits for web's answer, copied to a new place (the coordinator "killed" there).
 */
async function interruptedPush(): Promise<{
  state: string;
  desired: (g: number) => Promise<Record<string, NodeDesired>>;
}> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-recovery-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const live = path.join(dir, "live");
  await cp(path.join(template, "state"), live, { recursive: true });
  const d = await startDaemon(live);
  const agents = await Promise.all(NODES.map((n) => connect(d, n)));
  const socket = path.join(live, "admin.sock");
  const push = (text: string) =>
    adminCall(socket, "push", { specText: text, file: "vmmeet.yaml", timeoutMs: 30_000 }, "alice");
  expect(await push(spec1)).toMatchObject({ ok: true, generation: 1 });
  agents.find((a) => a.node === "web")!.script.silent = true;
  const pending = push(spec2).catch(() => undefined);
  const journal = path.join(live, "rollout.json");
  await waitFor(
    async () => {
      const j = await json<{ nodes: Record<string, { state: string }> }>(journal).catch(() => null);
      return j?.nodes.web?.state === "sent";
    },
    { what: "the push waiting for web" },
  );
  const state = path.join(dir, "state");
  await cp(live, state, { recursive: true, filter: (src) => !/(admin\.sock|\.tmp)$/.test(src) });
  for (const a of agents) a.close();
  await d.stop();
  await pending;
  return {
    state,
    desired: async (g) => (await json<{ nodes: Record<string, NodeDesired> }>(genFile(state, g))).nodes,
  };
}

async function recovered(d: CoordinatorDaemon) {
  await waitFor(() => d.core.pushRunning === null, {
    what: "the interrupted push dealt with",
    timeoutMs: 30_000,
  });
}

describe("a push interrupted by the coordinator's end, on restart", () => {
  it("is finished when every node holds its generation: gates checked again, nothing sent", async () => {
    const { state, desired } = await interruptedPush();
    expect(await json(path.join(state, "current.json"))).toEqual({ desired: 2, good: 1 });
    // As if the push were a `vmmeet secrets rotate`'s: finished, its new values stay.
    await beginRotation(state, ["jvbPassword"]);
    const rotated = await readFile(path.join(state, "secrets.json"), "utf8");
    const d = await startDaemon(state);
    // The push shows as running until the recovery ends: no other push, no catch-up meanwhile.
    expect(d.status().pushRunning?.by).toMatch(/alice, interrupted by a coordinator restart/);
    const gen2 = await desired(2);
    const agents = await Promise.all(NODES.map((n) => connect(d, n, { generation: 2, desired: gen2[n]! })));
    await recovered(d);
    expect(await json(path.join(state, "current.json"))).toEqual({ desired: 2, good: 2 });
    for (const a of agents) expect(a.received.filter((f) => f.type === "desired")).toEqual([]);
    await expect(stat(path.join(state, "rollout.json"))).rejects.toThrow(/ENOENT/);
    const audit = await d.core.store.readAudit();
    expect(audit.find((e) => e.kind === "push-interrupted")?.message).toMatch(
      /stopped during the push of generation 2 by alice; on restart, vmm holds 2, .*every node holds generation 2/,
    );
    const done = audit.find((e) => e.kind === "push-succeeded" && e.generation === 2);
    expect(done?.message).toMatch(/restart was finished/);
    expect(audit.at(-1)).toMatchObject({ kind: "secrets-rotated" });
    expect(await rotationPending(state)).toBe(false);
    expect(await readFile(path.join(state, "secrets.json"), "utf8")).toBe(rotated);
  });

  it("is rolled back as a new generation when a node is behind: no node gets a generation it holds", async () => {
    const { state, desired } = await interruptedPush();
    // As if the push were a `vmmeet secrets rotate`'s: rolled back, the previous values come back.
    const before = await readFile(path.join(state, "secrets.json"), "utf8");
    await beginRotation(state, ["jvbPassword"]);
    const d = await startDaemon(state);
    const [gen1, gen2] = [await desired(1), await desired(2)];
    const agents = await Promise.all(
      NODES.map((n) =>
        connect(
          d,
          n,
          n === "web" ? { generation: 1, desired: gen1[n]! } : { generation: 2, desired: gen2[n]! },
        ),
      ),
    );
    await recovered(d);
    expect(await json(path.join(state, "current.json"))).toEqual({ desired: 3, good: 3 });
    // Generation 3 is generation 1's spec, and it went to every node, once; generation 2 to none.
    expect((await json<{ specText: string }>(genFile(state, 3))).specText).toBe(spec1);
    for (const a of agents) {
      const sent = a.received.flatMap((f) => (f.type === "desired" ? [f.generation] : []));
      expect(sent, a.node).toEqual([3]);
      expect(a.generation).toBe(3);
    }
    await expect(stat(path.join(state, "rollout.json"))).rejects.toThrow(/ENOENT/);
    const kinds = (await d.core.store.readAudit()).map((e) => e.kind);
    expect(kinds.slice(kinds.indexOf("push-interrupted"))).toEqual([
      "push-interrupted",
      "push-failed",
      "rollback",
      "secrets-rotation-reverted",
    ]);
    expect(await rotationPending(state)).toBe(false);
    expect(await readFile(path.join(state, "secrets.json"), "utf8")).toBe(before);
    const audit = await d.core.store.readAudit();
    expect(audit.find((e) => e.kind === "push-interrupted")?.message).toMatch(/web \(holds 1\)/);
  });

  it("waits for the nodes no longer than the coordinator runs: stopped, it keeps the journal for the next start", async () => {
    const { state, desired } = await interruptedPush();
    const first = await startDaemon(state);
    await first.stop();
    // Its recovery ended with it, and did nothing: without the nodes it cannot tell what they hold.
    await waitFor(() => first.core.pushRunning === null, { what: "the recovery ended", timeoutMs: 60_000 });
    expect(await json(path.join(state, "rollout.json"))).toMatchObject({ generation: 2, good: 1 });
    expect(await json(path.join(state, "current.json"))).toEqual({ desired: 2, good: 1 });
    const d = await startDaemon(state);
    const gen2 = await desired(2);
    await Promise.all(NODES.map((n) => connect(d, n, { generation: 2, desired: gen2[n]! })));
    await recovered(d);
    expect(await json(path.join(state, "current.json"))).toEqual({ desired: 2, good: 2 });
  });

  it("is dropped when current.json never named its generation (killed while it was being stored)", async () => {
    const { state } = await interruptedPush();
    await writeFile(path.join(state, "current.json"), `${JSON.stringify({ desired: 1, good: 1 })}\n`);
    const d = await startDaemon(state);
    const gen1 = (await json<{ nodes: Record<string, NodeDesired> }>(genFile(state, 1))).nodes;
    const agents = await Promise.all(NODES.map((n) => connect(d, n, { generation: 1, desired: gen1[n]! })));
    await recovered(d);
    expect(await json(path.join(state, "current.json"))).toEqual({ desired: 1, good: 1 });
    for (const a of agents) expect(a.received.filter((f) => f.type === "desired")).toEqual([]);
    await expect(stat(path.join(state, "rollout.json"))).rejects.toThrow(/ENOENT/);
    expect((await d.core.store.readAudit()).at(-1)?.message).toMatch(/never put in force/);
  });
});
