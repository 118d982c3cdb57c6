// Self-healing of the real agent process (packages/agent/dist/main.js) with the rcctl test double and real
// daemon processes, intervals shortened by flags: a managed file edited by hand is restored and its service
// restarted once; a killed service is started again; one that always fails is retried with a growing
// delay, then reported failed and left alone; with no coordinator at all the node still heals; what it did
// while the coordinator was away reaches the coordinator after it connects.
import { appendFile, readFile, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import path from "node:path";
import { ApplyEngine, lenientAccounts, Rcctl } from "@vmmeet/agent";
import {
  type AgentEvent,
  type NodeDesired,
  type NodeDesiredInput,
  NodeDesired as NodeDesiredSchema,
} from "@vmmeet/shared";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { doubleProcesses, writeRcScript } from "./doubles/rcctl/index.js";
import { agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { type FakeCoordinator, fakeCoordinator } from "./helpers/fake-coordinator.js";
import { spawnAgent, useCleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();

const CONF = "/etc/jicofo/jicofo.conf";

const coordinator = (port = 0) => fakeCoordinator({ port, cleanups });

/** A loopback port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/**
 * A fake VM root with the rcctl double. jicofo is a sleeper, or with `failing` a program that writes the
 * time of every start to a file and exits at once (rc_bg=YES: rcctl says "(failed)").
 */
async function sandbox({ failing = false } = {}) {
  const s = await agentSandbox("vmmeet-heal-", cleanups, failing ? [] : ["jicofo"]);
  const starts = path.join(s.dir, "starts.log");
  if (failing) {
    const failer = path.join(s.dir, "failer.mjs");
    await writeFile(
      failer,
      `import { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(starts)}, Date.now() + "\\n");\nprocess.exit(1);\n`,
    );
    await writeRcScript(s.root, "jicofo", {
      daemon: `${process.execPath} ${failer} jicofo-failer`,
      bg: true,
      timeout: 5,
    });
  }
  return { ...s, starts };
}

type Sandbox = Awaited<ReturnType<typeof sandbox>>;

function startAgent(s: Sandbox, coordinator: string | null, flags: string[] = []) {
  const args = [...sandboxAgentArgs(s), "--log-level", "debug", "--heal-interval", "0.3", ...flags];
  if (coordinator) args.push("--coordinator", coordinator);
  const child = spawnAgent(args, { cleanups });
  return Object.assign(child, {
    /** Completed heal passes so far (the healer's debug line), to wait for passes instead of sleeping. */
    passes: () => (child.output().match(/"msg":"heal pass"/g) ?? []).length,
  });
}

function desired(): NodeDesired {
  const d: NodeDesiredInput = {
    node: "jicofo",
    role: "jicofo",
    files: [
      {
        path: CONF,
        content: 'jicofo { xmpp { client { password = "SECRET-A" } } }\n',
        mode: "0640",
        owner: "root",
        group: "_jicofo",
        secret: true,
        notify: [{ service: "jicofo", action: "restart" }],
      },
      {
        path: "/etc/hosts",
        content: "100.64.2.3 xmpp jts.fips.de\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
      },
    ],
    services: [{ name: "jicofo", flags: null, order: 20, graceSeconds: 1 }],
    actions: [],
    health: { release: 9646 },
  };
  return NodeDesiredSchema.parse(d);
}

const events = (c: FakeCoordinator): AgentEvent[] =>
  c.frames.flatMap((f) => (f.type === "event" ? [f.event] : []));
const jicofoPids = (root: string) =>
  doubleProcesses(root)
    .filter((p) => p.kind === "daemon" && p.cmdline.includes("jicofo-sleeper"))
    .map((p) => p.pid);
const confText = (s: Sandbox) => readFile(path.join(s.root, CONF), "utf8").catch(() => "");

async function applyVia(coord: FakeCoordinator, generation: number) {
  await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
    what: "agent connected",
    timeoutMs: 20_000,
  });
  coord
    .socket()!
    .send(JSON.stringify({ type: "desired", id: `d${generation}`, generation, desired: desired() }));
  return waitFor(
    () => coord.frames.find((f) => f.type === "apply-result" && f.replyTo === `d${generation}`),
    { what: "apply result", timeoutMs: 30_000 },
  );
}

/** Applies the desired state with the agent's own engine in this process: no coordinator involved at all. */
async function seed(s: Sandbox) {
  const engine = new ApplyEngine({
    root: s.root,
    stateDir: s.state,
    services: new Rcctl({ path: s.rcctl }),
    accounts: lenientAccounts(),
    log: pino({ level: "silent" }),
  });
  const res = await engine.apply(desired(), 1);
  expect(res.outcome).toBe("applied");
}

describe("vmmeet-agent self-healing", () => {
  it("restores a hand-edited file with one restart, and starts a killed service again", async () => {
    const s = await sandbox();
    const coord = await coordinator();
    const agent = startAgent(s, coord.url);
    const res = await applyVia(coord, 1);
    expect(res).toMatchObject({ type: "apply-result", ok: true });
    const [pid] = jicofoPids(s.root);
    expect(pid).toBeDefined();

    // Hand edit: restored long before the next pass would have to (the watch), jicofo restarted once.
    await writeFile(path.join(s.root, CONF), 'jicofo { xmpp { client { password = "typo" } } }\n');
    await waitFor(async () => (await confText(s)).includes("SECRET-A"), {
      what: "file restored",
      timeoutMs: 5000,
    });
    await waitFor(() => events(coord).some((e) => e.kind === "repair-service"), { what: "repair events" });
    expect(events(coord).map((e) => `${e.kind} ${e.target}`)).toEqual([
      `repair-file ${CONF}`,
      "repair-service jicofo",
    ]);
    expect(events(coord)[1]!.message).toBe(`restarted jicofo after restoring ${CONF}`);
    const passes = agent.passes();
    await waitFor(() => agent.passes() >= passes + 2, { what: "two more passes" });
    const after = jicofoPids(s.root);
    expect(after).toHaveLength(1);
    expect(after[0]).not.toBe(pid);
    expect(events(coord)).toHaveLength(2);

    // Killed: found by the next pass and started again 2 s later (first attempt; it ran when last seen, so
    // the healer gives a restart by hand the time to start it).
    process.kill(after[0]!, "SIGKILL");
    await waitFor(
      () => {
        const p = jicofoPids(s.root);
        return p.length === 1 && p[0] !== after[0];
      },
      { what: "jicofo running again" },
    );
    await waitFor(() => events(coord).length === 3, { what: "restart event" });
    expect(events(coord)[2]).toMatchObject({
      kind: "repair-service",
      label: "degraded",
      target: "jicofo",
      message: "jicofo was not running: started it (attempt 1 of 6)",
    });
    await waitFor(
      () =>
        coord.frames.some(
          (f) =>
            f.type === "snapshot" && f.status.services.some((x) => x.name === "jicofo" && x.restarts === 1),
        ),
      { what: "status counts the restart" },
    );
    // Neither the events nor the log carry the file's secret.
    expect(JSON.stringify(coord.frames)).not.toContain("SECRET-A");
    expect(agent.output()).not.toContain("SECRET-A");
  });

  it("backs off a service that always fails, then reports it failed and stops trying", async () => {
    const s = await sandbox({ failing: true });
    const coord = await coordinator();
    const agent = startAgent(s, coord.url, [
      "--restart-backoff",
      "0.4",
      "--restart-backoff-max",
      "1.6",
      "--restart-attempts",
      "4",
    ]);
    const res = await applyVia(coord, 1);
    expect(res).toMatchObject({ type: "apply-result", ok: false });
    await waitFor(() => events(coord).some((e) => e.kind === "service-failed"), {
      what: "given up",
      timeoutMs: 30_000,
    });
    const startTimes = async () =>
      (await readFile(s.starts, "utf8").catch(() => ""))
        .split("\n")
        .filter((l) => l !== "")
        .map(Number);
    const times = await startTimes();
    // The apply's own start, then the healer's 4 attempts.
    expect(times).toHaveLength(5);
    const gaps = times.slice(2).map((t, i) => t - times[i + 1]!);
    // 0.4 s, 0.8 s, 1.6 s after each attempt at the earliest (each attempt itself takes a few rcctl calls).
    expect(gaps[0]).toBeGreaterThanOrEqual(400);
    expect(gaps[1]).toBeGreaterThanOrEqual(800);
    expect(gaps[2]).toBeGreaterThanOrEqual(1600);
    const repairs = events(coord).filter((e) => e.kind === "repair-service");
    expect(repairs.map((e) => e.label)).toEqual(["failed", "failed", "failed", "failed"]);
    expect(repairs[0]!.message).toMatch(
      /^jicofo was not running and did not start \(attempt 1 of 4\): rcctl start: failed/,
    );
    expect(events(coord).find((e) => e.kind === "service-failed")!.message).toMatch(
      /^gave up on jicofo after 4 starts that did not last/,
    );
    await waitFor(
      () =>
        coord.frames.some(
          (f) =>
            f.type === "snapshot" &&
            f.status.services.some(
              (x) => x.name === "jicofo" && x.state === "failed" && /gave up/.test(x.detail ?? ""),
            ),
        ),
      { what: "status says failed" },
    );
    // No tight loop: several more passes, no more starts.
    const passes = agent.passes();
    await waitFor(() => agent.passes() >= passes + 5, { what: "five more passes" });
    expect(await startTimes()).toHaveLength(5);
    expect(events(coord).filter((e) => e.kind === "service-failed")).toHaveLength(1);

    // Fixed by hand (here: the program now stays up) and started: the healer takes it back.
    await writeRcScript(s.root, "jicofo", {
      daemon: `${process.execPath} ${path.join(s.dir, "sleeper.mjs")} jicofo-sleeper`,
      bg: true,
      timeout: 5,
    });
    const { runRcctl } = await import("./doubles/rcctl/index.js");
    expect((await runRcctl(s.rcctl, ["start", "jicofo"])).code).toBe(0);
    await waitFor(() => events(coord).some((e) => e.kind === "service-recovered"), { what: "recovered" });
  });

  it("heals with the coordinator down for the whole test", async () => {
    const s = await sandbox();
    await seed(s);
    const [pid] = jicofoPids(s.root);
    expect(pid).toBeDefined();
    const agent = startAgent(s, null);
    await waitFor(() => agent.passes() >= 1, { what: "first pass", timeoutMs: 20_000 });
    expect(jicofoPids(s.root)).toEqual([pid]);

    await appendFile(path.join(s.root, "etc/hosts"), "6.6.6.6 xmpp\n");
    await waitFor(
      async () =>
        (await readFile(path.join(s.root, "etc/hosts"), "utf8")) === "100.64.2.3 xmpp jts.fips.de\n",
      { what: "hosts restored", timeoutMs: 5000 },
    );
    await waitFor(() => /"kind":"repair-file"/.test(agent.output()), { what: "repair reported" });
    // /etc/hosts notifies nothing: jicofo keeps running.
    expect(jicofoPids(s.root)).toEqual([pid]);

    process.kill(pid!, "SIGKILL");
    await waitFor(
      () => {
        const p = jicofoPids(s.root);
        return p.length === 1 && p[0] !== pid;
      },
      { what: "jicofo started again" },
    );
    await waitFor(() => /jicofo was not running: started it/.test(agent.output()), {
      what: "restart reported",
    });
  });

  it("keeps what it repaired while the coordinator is away and sends it after connecting", async () => {
    const s = await sandbox();
    await seed(s);
    const port = await freePort();
    const agent = startAgent(s, `ws://127.0.0.1:${port}/agent`);
    await waitFor(() => agent.passes() >= 1, { what: "first pass", timeoutMs: 20_000 });
    await writeFile(path.join(s.root, CONF), "edited while nobody watched\n");
    await waitFor(async () => (await confText(s)).includes("SECRET-A"), {
      what: "restored",
      timeoutMs: 5000,
    });
    expect(agent.output()).toMatch(/coordinator link/);

    const coord = await coordinator(port);
    await waitFor(() => events(coord).length >= 2, { what: "queued events delivered", timeoutMs: 40_000 });
    expect(events(coord).map((e) => `${e.kind} ${e.target}`)).toEqual([
      `repair-file ${CONF}`,
      "repair-service jicofo",
    ]);
    // After the snapshot of the (re)connect, as the daemon sends them.
    const first = coord.frames.findIndex((f) => f.type === "snapshot");
    expect(coord.frames.findIndex((f) => f.type === "event")).toBeGreaterThan(first);
  });
});
