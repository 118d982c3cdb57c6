// The coordinator's heal schedule in the real daemon (port 0, the admin socket) with scripted agents over
// real websockets: the cron re-pushes the generation in force to a node that lags and to one that reports
// a drifted file, never while a push runs; cross-node restarts go prosody -> jicofo -> jvb; the deployment
// alarm is raised after the verdict stayed "down" and cleared when it no longer is. The agents' own healing
// is tested with real agent processes in heal-agent.test.ts.
import { spawn } from "node:child_process";
import { cp, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { adminCall, CoordinatorDaemon } from "@vmmeet/coordinator";
import type { ComponentHealth } from "@vmmeet/shared";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir } from "./fixtures/material.js";
import { materialTemplate } from "./helpers/material-template.js";
import { useCleanups } from "./helpers/processes.js";
import { goodHealth, healthy, ScriptedAgent } from "./helpers/scripted-agent.js";
import { waitFor } from "./helpers/wait.js";
import { repoRoot } from "./validators/paths.js";

const CLI = path.join(repoRoot(), "packages/coordinator/dist/cli/main.js");

const logger = pino({ level: "silent" });
let template: string;
let paperText = "";

beforeAll(async () => {
  paperText = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  template = await materialTemplate(paperText, "vmmeet-heal-template-");
});
afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

const cleanups = useCleanups();

type HealOptions = NonNullable<ConstructorParameters<typeof CoordinatorDaemon>[0]["heal"]>;

async function setup(heal: HealOptions) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-heal-coord-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(template, "state"), path.join(dir, "state"), { recursive: true });
  const state = path.join(dir, "state");
  const daemon = new CoordinatorDaemon({
    stateDir: state,
    listen: { host: "127.0.0.1", port: 0 },
    logger,
    heartbeatMs: 500,
    applyTimeoutMs: 5000,
    insecure: true,
    heal,
  });
  await daemon.start();
  cleanups.push(() => daemon.stop());
  const agents = new Map<string, ScriptedAgent>();
  for (const n of ["vmm", "web", "xmpp", "jicofo", "jvb"]) {
    const a = new ScriptedAgent(`ws://127.0.0.1:${daemon.port}/agent`, n, { health: goodHealth });
    await a.connect();
    cleanups.push(() => a.close());
    agents.set(n, a);
  }
  const socket = path.join(state, "admin.sock");
  const push = (timeoutMs = 5000) =>
    adminCall(socket, "push", { specText: paperText, file: "vmmeet.yaml", timeoutMs }, "tester", () => {});
  const audit = async () =>
    (await readFile(path.join(state, "audit.log"), "utf8").catch(() => ""))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as { kind: string; node?: string; result?: string; message: string });
  const desiredFrames = (node: string) =>
    agents.get(node)!.received.filter((f) => f.type === "desired").length;
  return { daemon, agents, push, audit, desiredFrames, socket };
}

/** Every second, no jitter, no settle time; scripted agents do not answer snapshot requests. */
const FAST: HealOptions = {
  schedule: "* * * * * *",
  jitterSeconds: 0,
  settleSeconds: 0,
  snapshotTimeoutMs: 200,
};
/** Ticks only when the test calls tick(). */
const MANUAL: HealOptions = { schedule: "0 0 1 1 *", settleSeconds: 3600, snapshotTimeoutMs: 200 };

describe("coordinator heal schedule", () => {
  it("re-pushes the generation in force to a node that lags, and to one that reports a drifted file", async () => {
    const t = await setup(FAST);
    expect(await t.push()).toMatchObject({ ok: true, generation: 1 });
    const before = Object.fromEntries([...t.agents.keys()].map((n) => [n, t.desiredFrames(n)]));

    // The jvb VM was reinstalled behind our back: it reports generation 0 with nothing applied.
    const jvb = t.agents.get("jvb")!;
    jvb.generation = 0;
    jvb.desired = null;
    jvb.report();
    await waitFor(() => jvb.generation === 1, { what: "jvb back at generation 1", timeoutMs: 10_000 });
    await waitFor(async () => (await t.audit()).some((e) => e.kind === "heal-repush"), { what: "audited" });
    expect((await t.audit()).find((e) => e.kind === "heal-repush")).toMatchObject({
      node: "jvb",
      result: "ok",
      message: "re-pushed generation 1 to jvb (lagging: applied 0, in force 1)",
    });

    // A file on the web VM differs from the rendered one (an agent that does not heal by itself).
    const web = t.agents.get("web")!;
    const rendered = web.desired!;
    web.desired = {
      ...rendered,
      files: rendered.files.map((f, i) => (i === 0 ? { ...f, content: "hand edit" } : f)),
    };
    web.report();
    await waitFor(() => web.desired!.files[0]!.content === rendered.files[0]!.content, {
      what: "web restored",
      timeoutMs: 10_000,
    });
    await waitFor(async () => (await t.audit()).filter((e) => e.kind === "heal-repush").length === 2, {
      what: "audited",
    });
    expect((await t.audit()).filter((e) => e.kind === "heal-repush").map((e) => e.message)).toEqual([
      "re-pushed generation 1 to jvb (lagging: applied 0, in force 1)",
      `re-pushed generation 1 to web (drift: files differ: ${rendered.files[0]!.path})`,
    ]);
    // Nodes in sync got nothing.
    for (const n of ["vmm", "xmpp", "jicofo"]) expect(t.desiredFrames(n)).toBe(before[n]);
  });

  it("does not re-push while a push runs", async () => {
    const t = await setup(MANUAL);
    expect(await t.push()).toMatchObject({ ok: true, generation: 1 });
    const jvb = t.agents.get("jvb")!;
    jvb.generation = 0;
    jvb.report();
    // A push that hangs at the xmpp node (it never answers). xmpp lags too, so its apply is one of the
    // rollout's stages (a node already holding the pushed state is applied aside and would not hold it up).
    const xmpp = t.agents.get("xmpp")!;
    xmpp.generation = 0;
    xmpp.report();
    xmpp.script = { health: goodHealth, silent: true };
    const running = t.push(20_000).catch(() => undefined);
    await waitFor(() => t.daemon.core.pushRunning !== null, { what: "push running" });
    const heal = t.daemon.heal!;
    expect((await heal.tick()).repushed).toEqual([]);
    expect(jvb.generation).toBe(0);
    await running;
    // Once the push is over: the failed push's rollback gave every node that answered the generation in
    // force (a no-op for jvb, which caught it up), so the tick re-pushes only xmpp, which did not answer.
    const desired = t.daemon.core.current!.generation;
    expect(jvb.generation).toBe(desired);
    t.agents.get("xmpp")!.script = { health: goodHealth };
    const report = await heal.tick();
    expect(report.repushed).toEqual([{ node: "xmpp", why: "lagging", ok: true }]);
    expect(t.agents.get("xmpp")!.generation).toBe(desired);
  });

  it("orders cross-node restarts prosody -> jicofo -> jvb, and says what is needed without a way to restart", async () => {
    const restarts: string[] = [];
    const t = await setup({
      ...MANUAL,
      restart: async (node, service) => {
        restarts.push(`${node}:${service}`);
        return true;
      },
    });
    expect(await t.push()).toMatchObject({ ok: true, generation: 1 });
    const longAgo = new Date(Date.now() - 600_000).toISOString();
    const lost = (c: "jicofo" | "jvb"): ComponentHealth => ({
      component: c,
      state: "failed",
      explain: "lost prosody",
      since: longAgo,
      signals: [
        { component: c, signal: "xmpp-connection-refused", label: "failed", explain: "x", at: longAgo },
      ],
    });
    const set = (node: string, h: ComponentHealth[]) => {
      const a = t.agents.get(node)!;
      a.script = { health: () => h };
      a.report();
    };
    set("xmpp", [healthy("prosody", { since: longAgo })]);
    set("jicofo", [lost("jicofo")]);
    set("jvb", [lost("jvb")]);
    await waitFor(
      () => t.daemon.status().nodes.some((n) => n.node === "jvb" && n.health[0]?.state === "failed"),
      { what: "reports seen" },
    );
    const heal = t.daemon.heal!;
    expect((await heal.tick()).repairs.map((r) => r.node)).toEqual(["jicofo"]);
    expect((await heal.tick()).repairs).toEqual([]);
    expect(restarts).toEqual(["jicofo:jicofo"]);
    set("jicofo", [healthy("jicofo", { bridges: [] })]);
    await waitFor(
      () => t.daemon.status().nodes.some((n) => n.node === "jicofo" && n.health[0]?.state === "healthy"),
      { what: "jicofo healthy seen" },
    );
    expect((await heal.tick()).repairs.map((r) => r.node)).toEqual(["jvb"]);
    expect(restarts).toEqual(["jicofo:jicofo", "jvb:jvb"]);
    expect((await t.audit()).filter((e) => e.kind === "heal-repair").map((e) => e.node)).toEqual([
      "jicofo",
      "jvb",
    ]);
  });

  it("carries a cross-node repair to the node as a repair frame, and records it", async () => {
    const t = await setup(MANUAL);
    expect(await t.push()).toMatchObject({ ok: true, generation: 1 });
    const longAgo = new Date(Date.now() - 600_000).toISOString();
    const xmpp = t.agents.get("xmpp")!;
    xmpp.script = { health: () => [healthy("prosody", { since: longAgo })] };
    xmpp.report();
    const jicofo = t.agents.get("jicofo")!;
    jicofo.script = {
      health: () => [
        {
          component: "jicofo",
          state: "failed",
          explain: "x",
          since: longAgo,
          signals: [
            { component: "jicofo", signal: "xmpp-not-connected", label: "failed", explain: "x", at: longAgo },
          ],
        },
      ],
    };
    jicofo.report();
    await waitFor(
      () => t.daemon.status().nodes.some((n) => n.node === "jicofo" && n.health[0]?.state === "failed"),
      { what: "report seen" },
    );
    await t.daemon.heal!.tick();
    // The default restart goes over the protocol: jicofo's agent got a repair frame for its service.
    const repairs = jicofo.received.filter((f) => f.type === "repair");
    expect(repairs).toHaveLength(1);
    expect(repairs[0]).toMatchObject({ service: "jicofo", action: "restart" });
    const done = (await t.audit()).filter((e) => e.kind === "heal-repair");
    expect(done[0]).toMatchObject({ node: "jicofo" });
    expect(done[0]!.message).toMatch(/jicofo/);
  });
  it("raises the deployment alarm after the verdict stayed down, clears it after, and streams both", async () => {
    let verdict: "down" | "conference-ready" = "conference-ready";
    const t = await setup({
      ...FAST,
      alarmAfterSeconds: 1,
      verdict: () => ({
        verdict,
        reasons: verdict === "down" ? ["jicofo on jicofo has no bridge in the brewery"] : [],
      }),
    });
    expect(await t.push()).toMatchObject({ ok: true, generation: 1 });
    // `vmmeet events --follow`, the real CLI, streams what the schedule records.
    const cli = spawn(
      process.execPath,
      [CLI, "events", "--state", path.dirname(t.socket), "--follow", "--json", "--limit", "0"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    cli.stdout.on("data", (d) => {
      out += d;
    });
    cleanups.push(() => cli.kill("SIGTERM"));
    const streamed = () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { kind: string; message: string });
    verdict = "down";
    await waitFor(() => t.daemon.heal!.alarm, { what: "alarm raised", timeoutMs: 10_000 });
    expect(t.daemon.heal!.alarm!.reasons).toEqual(["jicofo on jicofo has no bridge in the brewery"]);
    verdict = "conference-ready";
    await waitFor(() => t.daemon.heal!.alarm === null, { what: "alarm cleared", timeoutMs: 10_000 });
    const kinds = async () =>
      (await t.audit()).filter((e) => e.kind.startsWith("heal-alarm")).map((e) => e.kind);
    await waitFor(async () => (await kinds()).length === 2, { what: "audited" });
    expect(await kinds()).toEqual(["heal-alarm", "heal-alarm-cleared"]);
    await waitFor(() => streamed().filter((e) => e.kind.startsWith("heal-alarm")).length === 2, {
      what: "streamed",
    });
    expect(streamed().find((e) => e.kind === "heal-alarm")!.message).toMatch(
      /^no conference possible for \d+ s: jicofo on jicofo has no bridge in the brewery$/,
    );
  });
});
