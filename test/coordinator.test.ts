// The coordinator daemon on port 0 with scripted agents over real websockets and the real admin socket:
// rollout order and gates, rollback after a failed gate, refused concurrent pushes, plan exit codes,
// unknown nodes, and state kept across a restart.
import { cp, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { adminCall, CoordinatorDaemon, parseSpecText, runCli } from "@vmmeet/coordinator";
import { CloseCode, jvbNickname, type NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir } from "./fixtures/material.js";
import { materialTemplate } from "./helpers/material-template.js";
import { useCleanups } from "./helpers/processes.js";
import { goodHealth, healthy, ScriptedAgent } from "./helpers/scripted-agent.js";
import { waitFor } from "./helpers/wait.js";

const logger = pino({ level: "silent" });
let template: string;
let paperText = "";
const specText = (patch = (t: string) => t) => patch(paperText);

beforeAll(async () => {
  paperText = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  template = await materialTemplate(paperText, "vmmeet-coord-template-");
});
afterAll(async () => {
  await rm(template, { recursive: true, force: true });
});

const cleanups = useCleanups();

async function setup(opts: { applyTimeoutMs?: number; metrics?: boolean } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-coord-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await cp(path.join(template, "state"), path.join(dir, "state"), { recursive: true });
  const state = path.join(dir, "state");
  const start = async () => {
    const d = new CoordinatorDaemon({
      stateDir: state,
      listen: { host: "127.0.0.1", port: 0 },
      logger,
      heartbeatMs: 500,
      applyTimeoutMs: opts.applyTimeoutMs ?? 5000,
      ...(opts.metrics ? { metrics: { port: 0 } } : {}),
      // Scripted agents speak plain ws:// on loopback; TLS and enrollment are tested in security*.test.ts.
      insecure: true,
    });
    await d.start();
    cleanups.push(() => d.stop());
    return d;
  };
  const daemon = await start();
  const url = () => `ws://127.0.0.1:${daemon.port}/agent`;
  const agents = new Map<string, ScriptedAgent>();
  const connectAll = async (names = ["vmm", "web", "xmpp", "jicofo", "jvb"]) => {
    for (const n of names) {
      const a = new ScriptedAgent(url(), n, { health: goodHealth });
      await a.connect();
      cleanups.push(() => a.close());
      agents.set(n, a);
    }
  };
  const socket = path.join(state, "admin.sock");
  const pushText = (text: string, events: unknown[] = [], timeoutMs = 5000) =>
    adminCall(socket, "push", { specText: text, file: "vmmeet.yaml", timeoutMs }, "tester", (e) =>
      events.push(e),
    );
  return { dir, state, daemon, agents, connectAll, socket, pushText, start };
}

describe("coordinator daemon", () => {
  it("rolls out in the paper's order and reaches every gate", async () => {
    const t = await setup();
    await t.connectAll();
    const events: { kind: string; node?: string; phase?: string }[] = [];
    const res = (await t.pushText(specText(), events)) as { ok: boolean; generation: number };
    expect(res).toMatchObject({ ok: true, generation: 1 });
    const applying = events.filter((e) => e.kind === "node" && e.phase === "applying").map((e) => e.node);
    expect(applying.slice(0, 2)).toEqual(["vmm", "xmpp"]);
    expect(new Set(applying.slice(2, 4))).toEqual(new Set(["jicofo", "jvb"]));
    expect(applying[4]).toBe("web");
    for (const a of t.agents.values()) expect(a.generation).toBe(1);
    expect(t.agents.get("xmpp")!.desired!.files.map((f) => f.path)).toContain("/etc/prosody/prosody.cfg.lua");
    const audit = await readFile(path.join(t.state, "audit.log"), "utf8");
    expect(audit).toContain('"kind":"push-succeeded"');
    expect(audit).toContain('"by":"tester"');
    // Secrets never reach the audit log.
    const secrets = JSON.parse(await readFile(path.join(t.state, "secrets.json"), "utf8")) as Record<
      string,
      string
    >;
    for (const v of Object.values(secrets))
      if (typeof v === "string" && v.length > 8) expect(audit).not.toContain(v);
  });

  it("applies a node that already holds the pushed state aside: later stages go on, the push waits for it", async () => {
    const t = await setup();
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true, generation: 1 });
    // Generation 2 changes the bridge only. xmpp (stage 2) holds generation 1's state, which generation 2
    // keeps, and answers late: the bridge (stage 3) must not wait for that no-op.
    const xmpp = t.agents.get("xmpp")!;
    xmpp.script = { health: goodHealth, silent: true };
    const edited = specText((s) =>
      s.replace(
        "  - { name: jvb, role: jvb, address: 100.64.4.3 }",
        "  - { name: jvb, role: jvb, address: 100.64.4.3, jvb: { maxMemory: 2G } }",
      ),
    );
    const events: { kind: string; node?: string; phase?: string }[] = [];
    let done = false;
    const push = t.pushText(edited, events, 20_000).finally(() => {
      done = true;
    });
    await waitFor(() => t.agents.get("jvb")!.generation === 2, {
      what: "the bridge applied while xmpp has not answered",
    });
    expect(xmpp.generation).toBe(1);
    expect(done).toBe(false); // the push waits for xmpp's apply
    xmpp.script = { health: goodHealth };
    const last = [...xmpp.received].reverse().find((f) => f.type === "desired");
    expect(last).toMatchObject({ type: "desired", generation: 2 });
    xmpp.answer(last!);
    expect(await push).toMatchObject({ ok: true, generation: 2 });
    for (const a of t.agents.values()) expect(a.generation).toBe(2);
    // The stage order still holds for what changed, and xmpp's gate was still passed in its stage.
    const gated = events.filter((e) => e.kind === "node" && e.phase === "healthy").map((e) => e.node);
    expect(gated.indexOf("xmpp")).toBeLessThan(gated.indexOf("jvb"));
  });

  it("waits at the brewery gate until jicofo sees every bridge", async () => {
    const t = await setup();
    await t.connectAll();
    const jicofo = t.agents.get("jicofo")!;
    jicofo.script = { health: () => [healthy("jicofo", { state: "degraded", bridges: [] })] };
    const events: { kind: string; node?: string; phase?: string; message?: string }[] = [];
    let done = false;
    const push = t.pushText(specText(), events, 20_000).finally(() => {
      done = true;
    });
    await waitFor(
      () =>
        events.find((e) => e.node === "jicofo" && /bridges in jicofo's brewery: jvb/.test(e.message ?? "")),
      { what: "gating on bridges" },
    );
    // The web stage needs prosody only: it does not wait behind the brewery, but the push does.
    await waitFor(() => events.find((e) => e.node === "web" && e.phase === "healthy"), {
      what: "web healthy beside the brewery gate",
    });
    expect(t.agents.get("web")!.generation).toBe(1);
    expect(done).toBe(false);
    jicofo.script = { health: goodHealth };
    jicofo.report();
    expect(await push).toMatchObject({ ok: true });
  });

  it("rolls the changed nodes back when a gate fails, and says so in status and audit", async () => {
    const t = await setup();
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true, generation: 1 });
    // Generation 2 breaks jicofo: its health reports failed.
    t.agents.get("jicofo")!.script = {
      health: (_d, gen) =>
        gen === 2
          ? [{ ...healthy("jicofo"), state: "failed", explain: "prosody rejected the focus login" }]
          : goodHealth(_d),
    };
    const events: { kind: string; node?: string; phase?: string }[] = [];
    const edited = specText((s) => s.replace("release: 7648", "release: 9646"));
    const res = (await t.pushText(edited, events)) as {
      ok: boolean;
      generation: number;
      rolledBackTo?: number;
      message: string;
    };
    expect(res.ok).toBe(false);
    expect(res.generation).toBe(2);
    expect(res.rolledBackTo).toBe(1);
    expect(res.message).toMatch(/jicofo failed: prosody rejected the focus login/);
    // web was given generation 2 beside jicofo's stage (it waits for prosody only) and restored with the
    // others; every node ends at generation 3 = the content of generation 1.
    const webGens = t.agents
      .get("web")!
      .received.flatMap((f) => (f.type === "desired" ? [f.generation] : []));
    expect(webGens).toEqual([1, 2, 3]);
    for (const n of ["vmm", "xmpp", "jicofo", "jvb", "web"]) expect(t.agents.get(n)!.generation).toBe(3);
    const gen1 = JSON.parse(await readFile(path.join(t.state, "generations", "00000001.json"), "utf8")) as {
      nodes: Record<string, NodeDesired>;
    };
    expect(t.agents.get("jicofo")!.desired).toEqual(gen1.nodes.jicofo);
    expect(
      events
        .filter((e) => e.phase === "rolled-back")
        .map((e) => e.node)
        .sort(),
    ).toEqual(["jicofo", "jvb", "vmm", "web", "xmpp"]);
    const audit = await readFile(path.join(t.state, "audit.log"), "utf8");
    expect(audit).toMatch(/"kind":"push-failed"/);
    expect(audit).toMatch(/"kind":"rollback".*"result":"ok"/);
    const out: string[] = [];
    const code = await runCli(["status", "--state", t.state], {
      out: (s: string) => out.push(s),
      err: () => {},
      cwd: t.dir,
      env: {},
    });
    expect(code).toBe(0);
    expect(out.join("")).toMatch(/desired generation 3/);
  });

  it("refuses a second push while one is running", async () => {
    const t = await setup();
    await t.connectAll();
    t.agents.get("jicofo")!.script = {
      health: () => [healthy("jicofo", { state: "starting", bridges: [] })],
    };
    const first = t.pushText(specText(), [], 3000);
    await waitFor(() => t.daemon.core.pushRunning?.generation === 1, { what: "first push running" });
    await expect(t.pushText(specText())).rejects.toThrow(/a push of generation 1 by tester is running/);
    await expect(first).resolves.toMatchObject({ ok: false });
  });

  it("plan shows exactly the edited line (exit 2) and nothing after the push (exit 0)", async () => {
    const t = await setup();
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true });
    const specFile = path.join(t.dir, "vmmeet.yaml");
    const { writeFile } = await import("node:fs/promises");
    const run = async (...args: string[]) => {
      const out: string[] = [];
      const code = await runCli(args, {
        out: (s: string) => out.push(s),
        err: (s: string) => out.push(s),
        cwd: t.dir,
        env: {},
      });
      return { code, out: out.join("") };
    };
    await writeFile(specFile, specText());
    const p0 = await run("plan", specFile, "--state", t.state);
    expect(p0.out).not.toMatch(/modify|create|drift/);
    expect(p0).toMatchObject({ code: 0 });
    await writeFile(
      specFile,
      specText((s) =>
        s
          .replace("address: 87.253.170.146", "address: 87.253.170.147")
          .replace("publicAddress: 87.253.170.146", "publicAddress: 87.253.170.147"),
      ),
    );
    const p = await run("plan", specFile, "--state", t.state);
    expect(p.code).toBe(2);
    expect(p.out).toMatch(/-org\.ice4j\.ice\.harvest\.NAT_HARVESTER_PUBLIC_ADDRESS=87\.253\.170\.146/);
    expect(p.out).toMatch(/\+org\.ice4j\.ice\.harvest\.NAT_HARVESTER_PUBLIC_ADDRESS=87\.253\.170\.147/);
    expect(p.out).toMatch(/restart: jvb/);
    expect(p.out).toMatch(/xmpp: no changes/);
    // Secrets are masked in diffs.
    const secrets = JSON.parse(await readFile(path.join(t.state, "secrets.json"), "utf8")) as Record<
      string,
      string
    >;
    await writeFile(
      specFile,
      specText((s) => s.replace("release: 7648", "release: 9646")),
    );
    const p2 = await run("plan", specFile, "--state", t.state);
    expect(p2.code).toBe(2);
    for (const v of Object.values(secrets))
      if (typeof v === "string" && v.length > 8) expect(p2.out).not.toContain(v);
    await writeFile(
      specFile,
      specText((s) => s.replace(/87\.253\.170\.146/g, "87.253.170.147")),
    );
    expect((await run("push", specFile, "--state", t.state, "--timeout", "10")).code).toBe(0);
    expect((await run("plan", specFile, "--state", t.state)).code).toBe(0);
  });

  it("closes an agent whose node is not in the spec with the unknown-node code", async () => {
    const t = await setup();
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true });
    const stranger = new ScriptedAgent(`ws://127.0.0.1:${t.daemon.port}/agent`, "intruder");
    await stranger.connect();
    await waitFor(() => stranger.closedWith !== null, { what: "closed" });
    expect(stranger.closedWith).toBe(CloseCode.unknownNode);
  });

  it("keeps its state across a restart and does not re-push to nodes that are current", async () => {
    const t = await setup();
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true, generation: 1 });
    await t.daemon.stop();
    for (const a of t.agents.values()) a.close();
    const again = await t.start();
    expect(again.core.current?.generation).toBe(1);
    const a = new ScriptedAgent(`ws://127.0.0.1:${again.port}/agent`, "jvb", { health: goodHealth });
    a.generation = 1;
    await a.connect();
    cleanups.push(() => a.close());
    const lagging = new ScriptedAgent(`ws://127.0.0.1:${again.port}/agent`, "web", { health: goodHealth });
    await lagging.connect();
    cleanups.push(() => lagging.close());
    await waitFor(() => lagging.generation === 1, { what: "lagging node caught up" });
    expect(a.received.filter((f) => f.type === "desired")).toHaveLength(0);
    expect((await stat(path.join(t.state, "admin.sock"))).mode & 0o777).toBe(0o600);
  });

  it("names the three bridges of a scaled-out spec in the gate", async () => {
    const t = await setup();
    const text = specText(
      (s) => `${s}  - { name: jvb2, role: jvb, address: 100.64.5.3, jvb: { udpPort: 10001 } }\n`,
    );
    await t.connectAll(["vmm", "web", "xmpp", "jicofo", "jvb", "jvb2"]);
    const parsed = parseSpecText(text, "x.yaml");
    expect(parsed.ok && parsed.spec.nodes.filter((n) => n.role === "jvb").map(jvbNickname)).toEqual([
      "jvb",
      "jvb2",
    ]);
    expect(await t.pushText(text)).toMatchObject({ ok: true });
  });

  it("serves Prometheus metrics on loopback: up, generation lag, component health, pushes, reconnects", async () => {
    const t = await setup({ metrics: true });
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true });
    t.agents.get("jvb")!.close();
    await waitFor(() => !t.daemon.core.fleet.connected("jvb"), { what: "jvb down" });
    const res = await fetch(`http://127.0.0.1:${t.daemon.metricsPort}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE vmmeet_node_up gauge$/m);
    expect(text).toMatch(/^vmmeet_node_up\{node="xmpp"\} 1$/m);
    expect(text).toMatch(/^vmmeet_node_up\{node="jvb"\} 0$/m);
    expect(text).toMatch(/^vmmeet_node_generation_lag\{node="web"\} 0$/m);
    expect(text).toMatch(/^vmmeet_component_health\{node="xmpp",component="prosody",state="healthy"\} 1$/m);
    expect(text).toMatch(/^vmmeet_pushes_total\{result="ok"\} 1$/m);
    expect(text).toMatch(/^vmmeet_push_last_duration_seconds \d/m);
    // Loopback only: the listening address is 127.0.0.1.
    expect((await fetch(`http://127.0.0.1:${t.daemon.metricsPort}/other`)).status).toBe(404);
  });

  it("stops while an `events --follow` is open: the follower gets its answer, the daemon ends", async () => {
    const t = await setup();
    await t.connectAll();
    expect(await t.pushText(specText())).toMatchObject({ ok: true });
    const seen: unknown[] = [];
    let answered = false;
    const follow = adminCall(t.socket, "events", { follow: true }, "tester", (e) => seen.push(e)).then(
      (r) => {
        answered = true;
        return r;
      },
    );
    await waitFor(() => seen.length > 0, { what: "the audit log's events" });
    let stopped = false;
    const stopping = t.daemon.stop().then(() => {
      stopped = true;
    });
    await waitFor(() => stopped, { what: "the daemon stopped with a follower connected", timeoutMs: 20_000 });
    await stopping;
    await follow;
    expect(answered).toBe(true);
  });
});
