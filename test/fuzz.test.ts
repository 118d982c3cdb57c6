// Fuzzing both ends of the protocol with thousands of random and mutated frames, against live processes:
//   - a live agent (`vmmeet-agent`), with this test playing its coordinator: garbage, mutated frames and
//     hostile-but-valid desired states (paths outside the allow-list, traversal, other roles' files). The
//     agent must not crash, must keep answering, must write nothing outside its role's allow-list, must cap
//     its error replies and close a link that sends too many bad frames, and its memory must stay flat.
//   - a live coordinator (`vmmeet serve`, TLS), with this test playing an enrolled agent, strangers without
//     a certificate, and junk enrollment requests. It must not crash, must keep serving the admin socket and
//     legitimate agents, must close links that send too many bad frames, must keep its audit log from
//     growing with every refusal, and its memory must stay flat.
// Both must log each kind of refusal once a minute at most, with a count (shared/refusals.ts), however many
// frames come. The generator is seeded (FUZZ_SEED=n reproduces a run); CI sends 3,000 frames a side,
// `npm run reliability` 10,000 (test/helpers/reliability.ts).
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { loadOrCreateMaterial, parseSpecText } from "@vmmeet/coordinator";
import {
  CloseCode,
  type CoordinatorToAgent,
  decodeAgentFrame,
  decodeCoordinatorFrame,
  ErrorCode,
  PROTOCOL_VERSION,
  pathRefusal,
} from "@vmmeet/shared";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { fixturesDir } from "./fixtures/material.js";
import { mutateObject, mutateText, prng, type Rng, randomValue } from "./helpers/fuzz.js";
import { recordFigure, scale } from "./helpers/reliability.js";
import { OutputRecorder, startAgent, startCoordinator } from "./helpers/secret-scan.js";
import { waitFor } from "./helpers/wait.js";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const FRAMES_PER_SIDE = scale(3000, 10_000);
const TIMEOUT_MS = scale(60_000, 600_000);

/** How many lines a process logged per message ("msg" of its JSON lines). */
function logLines(output: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of output.matchAll(/"msg":"([^"]*)"/g)) counts[m[1]!] = (counts[m[1]!] ?? 0) + 1;
  return counts;
}

/**
 * Each refusal message is logged at most once per kind and started minute: `kinds` is how many kinds it
 * has (error codes, close codes, refusal categories).
 */
function expectRateLimited(counts: Record<string, number>, kinds: Record<string, number>, elapsedMs: number) {
  const minutes = 1 + Math.floor(elapsedMs / 60_000);
  for (const [msg, n] of Object.entries(kinds))
    expect(counts[msg] ?? 0, `"${msg}" logged ${counts[msg]} times in ${minutes} min`).toBeLessThanOrEqual(
      n * minutes,
    );
}
const ERROR_CODES = Object.keys(ErrorCode).length;

const HOSTILE_PATHS = [
  "/etc/master.passwd",
  "/etc/rc.local",
  "/root/.ssh/authorized_keys",
  "/etc/jicofo/../../etc/spwd.db",
  "/etc/jicofo/./jicofo.conf",
  "etc/jicofo/jicofo.conf",
  "/etc/jicofo/jicofo.conf\n",
  "/etc/vm.conf",
  "/etc/prosody/prosody.cfg.lua",
  "/var/www/jitsi-meet/config.js",
  "/etc/jicofo//jicofo.conf",
  "/var/log/../../etc/doas.conf",
  "/etc/sysctl.conf",
];

const frameText = (f: unknown) => JSON.stringify(f);
const rss = (pid: number) =>
  Number(
    execFileSync("ps", ["-o", "rss=", "-p", String(pid)])
      .toString()
      .trim(),
  ) * 1024;

const rec = new OutputRecorder();
const dirs: string[] = [];
afterAll(async () => {
  await rec.stopAll();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// The agent's side.

function jicofoDesired(r: Rng, files: { path: string; content: string }[]) {
  return {
    node: "jicofo",
    role: "jicofo",
    files: files.map((f) => ({ ...f, mode: "0640", owner: "root", group: "wheel" })),
    services: [],
    actions:
      r.next() < 0.2
        ? [{ kind: "syslog-logfile", path: "/var/log/jicofo", mode: "0640", owner: "root", group: "wheel" }]
        : [],
    health: { release: 9646 },
  };
}

/** One frame to send to the agent: random, mutated or hostile-but-valid. */
function agentBound(r: Rng, seq: number): string | Buffer {
  const id = `f${seq}`;
  const base: CoordinatorToAgent[] = [
    { type: "ping", id, sentAt: Date.now() },
    { type: "snapshot-request", id },
    {
      type: "desired",
      id,
      generation: 1 + r.int(5),
      desired: jicofoDesired(r, [
        { path: "/etc/jicofo/jicofo.in.sh", content: "JICOFO_MAXMEM=3G\n" },
      ]) as never,
    },
  ];
  const roll = r.next();
  if (roll < 0.25) return mutateText(r, frameText(r.pick(base)));
  if (roll < 0.55) return frameText(mutateObject(r, r.pick(base)));
  if (roll < 0.7) return frameText(randomValue(r));
  if (roll < 0.97) {
    // Valid frames whose desired state names a path outside the jicofo allow-list, or another role.
    const files = [{ path: r.pick(HOSTILE_PATHS), content: `owned ${seq}\n` }];
    const d = jicofoDesired(r, files) as Record<string, unknown>;
    if (r.next() < 0.3) d.role = r.pick(["web", "xmpp", "jvb", "turn", "root", ""]);
    return frameText({ type: "desired", id, generation: 1 + r.int(1000), desired: d });
  }
  // Rarely, a real apply of an allowed file (so the apply path is fuzzed between the hostile frames).
  return frameText({
    type: "desired",
    id,
    generation: 10 + seq,
    desired: jicofoDesired(r, [
      { path: "/etc/jicofo/jicofo.in.sh", content: `JICOFO_MAXMEM=${1 + r.int(8)}G\n` },
    ]),
  });
}

async function walkFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walkFiles(p, base)));
    else out.push(`/${path.relative(base, p)}`);
  }
  return out;
}

describe("fuzzing", { timeout: TIMEOUT_MS }, () => {
  it(`a live agent survives ${FRAMES_PER_SIDE} random, mutated and hostile frames (seed ${SEED})`, async () => {
    const r = prng(SEED);
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-fuzz-agent-"));
    dirs.push(dir);
    const root = path.join(dir, "root");
    const state = path.join(dir, "state");
    await mkdir(root);
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((res) => wss.once("listening", res));
    let current: WebSocket | null = null;
    let hellos = 0;
    const closes: number[] = [];
    const replies: { type: string; replyTo?: string; ok?: boolean }[] = [];
    const invalidFromAgent: string[] = [];
    const conns: { errors: number }[] = [];
    wss.on("connection", (ws) => {
      current = ws;
      const conn = { errors: 0 };
      conns.push(conn);
      ws.on("message", (data) => {
        const d = decodeAgentFrame(data.toString());
        if (!d.ok) {
          invalidFromAgent.push(d.message);
          return;
        }
        if (d.frame.type === "hello") {
          hellos++;
          ws.send(
            frameText({
              type: "welcome",
              protocol: PROTOCOL_VERSION,
              coordinatorVersion: "fuzz",
              node: d.frame.node,
              heartbeatMs: 60_000,
            }),
          );
        }
        if (d.frame.type === "error") conn.errors++;
        replies.push(d.frame as { type: string });
      });
      ws.on("close", (code) => closes.push(code));
    });
    const started = performance.now();
    const agent = startAgent(rec, {
      node: "jicofo",
      url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/agent`,
      state,
      root,
      rcctl: "/bin/true",
      // The role is pinned: desired states claiming another role must be refused, whatever their paths.
      args: ["--role", "jicofo"],
      label: "fuzzed agent",
    });
    try {
      await waitFor(() => hellos === 1 && current?.readyState === WebSocket.OPEN, {
        what: "agent connected",
        timeoutMs: 20_000,
      });

      // The rate limit: 250 garbage frames at once. At most 20 are answered, then the agent closes (4006).
      const first = current!;
      for (let i = 0; i < 250; i++) first.send(`not json ${i}`);
      await waitFor(() => closes.includes(4006), {
        what: "the agent closed the flooding link",
        timeoutMs: 10_000,
      });
      expect(conns[0]!.errors).toBeLessThanOrEqual(20);
      expect(conns[0]!.errors).toBeGreaterThan(0);
      await waitFor(() => hellos === 2 && current?.readyState === WebSocket.OPEN, {
        what: "agent reconnected",
        timeoutMs: 10_000,
      });

      let sent = 0;
      let bad = 0;
      let rssWarm = 0;
      while (sent < FRAMES_PER_SIDE) {
        const ws = current!;
        const frame = agentBound(r, sent);
        ws.send(frame);
        sent++;
        const decoded = typeof frame === "string" ? decodeCoordinatorFrame(frame) : { ok: false };
        if (!decoded.ok) bad++;
        // Stay under the agent's close limit on each link: leave it before, let it reconnect.
        if (bad >= 150) {
          bad = 0;
          const n = hellos;
          ws.close(1000, "fuzzer moves on");
          await waitFor(() => hellos > n && current?.readyState === WebSocket.OPEN, {
            what: "agent reconnected",
            timeoutMs: 10_000,
          });
        }
        if (sent % 20 === 0) await new Promise((res) => setImmediate(res));
        if (sent === 500) rssWarm = rss(agent.child.pid!);
      }
      // Still alive and working: a last valid desired state is applied and answered.
      const lastId = "last";
      current!.send(
        frameText({
          type: "desired",
          id: lastId,
          generation: Number.MAX_SAFE_INTEGER,
          desired: jicofoDesired(r, [{ path: "/etc/jicofo/jicofo.in.sh", content: "JICOFO_MAXMEM=3G\n" }]),
        }),
      );
      const lastSent = performance.now();
      const last = await waitFor(() => replies.find((f) => f.replyTo === lastId), {
        what: "the last apply answered",
        timeoutMs: 30_000,
      });
      const answeredMs = performance.now() - lastSent;
      expect(last, JSON.stringify(last)).toMatchObject({ type: "apply-result", ok: true });
      expect(agent.exited()).toBe(false);
      expect(invalidFromAgent.slice(0, 5)).toEqual([]);
      expect(await readFile(path.join(root, "etc/jicofo/jicofo.in.sh"), "utf8")).toBe("JICOFO_MAXMEM=3G\n");

      // Nothing outside the jicofo allow-list (and syslog's /var/log/NAME) was written, nothing beside root.
      for (const f of await walkFiles(root)) {
        const allowed =
          pathRefusal("jicofo", f) === null || /^\/var\/log\/[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(f);
        expect(allowed, `written outside the allow-list: ${f}`).toBe(true);
      }
      expect((await readdir(dir)).sort()).toEqual(["root", "state"]);
      // Memory flat: what the first 500 frames warmed up is about all it takes.
      const grown = rss(agent.child.pid!) - rssWarm;
      expect(grown, `RSS grew by ${Math.round(grown / 1e6)} MB`).toBeLessThan(80e6);
      // Refusals logged once per kind and minute, not once per frame.
      const elapsed = performance.now() - started;
      const counts = logLines(agent.output());
      expectRateLimited(
        counts,
        {
          "invalid frame from coordinator": ERROR_CODES,
          "desired state refused": 5,
          "stale generation ignored": 1,
        },
        elapsed,
      );
      await recordFigure({
        fault: "bad frames (live agent)",
        what: "frames",
        count: sent,
        lost: 0,
        timeToHealthyMs: Math.round(answeredMs),
        memoryMB: Math.round(grown / 1e5) / 10,
        details: {
          seed: SEED,
          refusalLogLines: {
            invalidFrame: counts["invalid frame from coordinator"] ?? 0,
            desiredRefused: counts["desired state refused"] ?? 0,
            stale: counts["stale generation ignored"] ?? 0,
          },
          lost: "writes outside the allow-list, crashes (none: the test fails otherwise)",
          timeToHealthy: "a valid desired state sent after the barrage, until its apply result",
          memory: "RSS growth from the 500th frame to the end",
        },
      });
    } finally {
      await agent.stop();
      await new Promise<void>((res) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => res());
      });
    }
    expect(agent.output()).not.toMatch(/Uncaught|FATAL|unhandled/i);
  });

  // -------------------------------------------------------------------------------------------------------
  // The coordinator's side.

  it(`a live coordinator survives ${FRAMES_PER_SIDE} random and mutated frames from an enrolled agent and strangers (seed ${SEED})`, async () => {
    const r = prng(SEED + 1);
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-fuzz-coord-"));
    dirs.push(dir);
    const specText = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
    await writeFile(path.join(dir, "vmmeet.yaml"), specText);
    const state = path.join(dir, ".vmmeet");
    const parsed = parseSpecText(specText, "vmmeet.yaml");
    if (!parsed.ok) throw new Error("fixture invalid");
    await loadOrCreateMaterial(state, parsed.spec);
    const started = performance.now();
    const coord = await startCoordinator(rec, { dir, state, label: "fuzzed coordinator" });
    const t = JSON.parse(
      (await rec.cli(["agents", "token", "jvb", "--state", state, "--json"], dir)).out,
    ) as {
      token: string;
      caHash: string;
    };
    const agentState = path.join(dir, "agent-state");
    const enrolled = startAgent(rec, {
      node: "jvb",
      url: coord.url,
      state: agentState,
      root: dir,
      join: t,
      args: ["--enroll-only"],
    });
    expect(await enrolled.exit, enrolled.output()).toBe(0);
    const tls = {
      ca: await readFile(path.join(state, "ca.crt"), "utf8"),
      cert: await readFile(path.join(agentState, "enroll", "agent.crt"), "utf8"),
      key: await readFile(path.join(agentState, "enroll", "agent.key"), "utf8"),
    };
    const hello = (node: string) =>
      frameText({
        type: "hello",
        protocol: PROTOCOL_VERSION,
        node,
        role: "jvb",
        agentVersion: "fuzz",
        generation: 0,
      });
    const status = {
      generation: 0,
      applying: null,
      files: [
        { path: "/etc/jvb/jvb.conf", sha256: "0".repeat(64), mode: "0640", owner: "root", group: "_jvb" },
      ],
      services: [{ name: "jvb", enabled: true, running: true, flags: null, state: "ok", restarts: 0 }],
      health: [
        {
          component: "jvb",
          state: "healthy",
          explain: "fuzz",
          since: new Date().toISOString(),
          signals: [],
        },
      ],
      metrics: null,
    };
    const seeds = [
      { type: "snapshot", status },
      { type: "status", status: { generation: 0 } },
      { type: "apply-result", replyTo: "x1", generation: 1, ok: true, unchanged: false, items: [] },
      {
        type: "signal",
        signal: {
          component: "jvb",
          signal: "jvb-started",
          label: "info",
          explain: "fuzz",
          at: new Date().toISOString(),
        },
      },
      {
        type: "event",
        event: { at: new Date().toISOString(), kind: "repair", label: "info", message: "fuzz" },
      },
      { type: "ping", id: "p1", sentAt: 1 },
      { type: "pong", replyTo: "p1", sentAt: 1 },
      { type: "error", code: "bad-frame", message: "fuzz" },
    ];
    for (const s of seeds) expect(decodeAgentFrame(frameText(s)).ok, JSON.stringify(s)).toBe(true);

    const invalidFromCoordinator: string[] = [];
    /** Open an authenticated link (or a stranger's), wait for the welcome or the close. */
    const open = (withCert: boolean) =>
      new Promise<{ ws: WebSocket; welcomed: boolean; closed: () => number | null }>((resolve, reject) => {
        const ws = new WebSocket(coord.url, withCert ? tls : { ca: tls.ca });
        let code: number | null = null;
        ws.on("close", (c) => {
          code = c;
          resolve({ ws, welcomed: false, closed: () => code });
        });
        ws.on("error", reject);
        ws.on("open", () => ws.send(hello("jvb")));
        ws.on("message", (d) => {
          const decoded = decodeCoordinatorFrame(d.toString());
          if (!decoded.ok) invalidFromCoordinator.push(decoded.message);
          if (/"type":"welcome"/.test(d.toString())) resolve({ ws, welcomed: true, closed: () => code });
        });
      });

    let sent = 0;
    let rssWarm = 0;
    let tooMany = 0;
    const enrollStatuses: number[] = [];
    while (sent < FRAMES_PER_SIDE) {
      const link = await open(true);
      expect(link.welcomed).toBe(true);
      const closed = new Promise<number>((res) => link.ws.once("close", (c) => res(c)));
      // Frames until the coordinator closes the link (too many bad frames) or 300 were sent on it.
      for (let i = 0; i < 300 && link.ws.readyState === WebSocket.OPEN && sent < FRAMES_PER_SIDE; i++) {
        const roll = r.next();
        const seed = r.pick(seeds);
        const frame =
          roll < 0.3
            ? mutateText(r, frameText(seed))
            : roll < 0.7
              ? frameText(mutateObject(r, seed))
              : roll < 0.85
                ? frameText(randomValue(r))
                : frameText(seed);
        link.ws.send(frame);
        sent++;
        if (sent === 500) rssWarm = rss(coord.child.pid!);
        if (i % 10 === 9) await new Promise((res) => setImmediate(res));
      }
      if (link.ws.readyState === WebSocket.OPEN) link.ws.close(1000);
      if ((await closed) === 4006) tooMany++;
      // Now and then a stranger: no certificate, random first frames, or a junk enrollment request.
      if (r.next() < 0.5) {
        const s = await open(false);
        expect(s.welcomed).toBe(false);
        expect(s.closed()).toBe(4003);
        await new Promise<void>((res) => {
          const req = https.request(
            `https://127.0.0.1:${coord.port}/enroll`,
            { method: "POST", ca: tls.ca },
            (resp) => {
              resp.resume();
              enrollStatuses.push(resp.statusCode ?? 0);
              resp.on("end", () => res());
            },
          );
          req.on("error", () => res());
          req.end(r.next() < 0.5 ? frameText(randomValue(r)) : mutateText(r, '{"node":"jvb","token":"x"}'));
        });
      }
    }
    expect(tooMany, "the coordinator closed links that sent too many bad frames").toBeGreaterThan(0);
    expect(enrollStatuses.length).toBeGreaterThan(0);
    expect(
      enrollStatuses.every((c) => c >= 400 && c < 500),
      enrollStatuses.join(","),
    ).toBe(true);
    expect(coord.exited()).toBe(false);
    expect(invalidFromCoordinator.slice(0, 5)).toEqual([]);
    // Still serving: the admin socket answers and a legitimate link is welcomed.
    const list = await rec.cli(["agents", "list", "--state", state, "--json"], dir);
    expect(list.code).toBe(0);
    const barrageEnd = performance.now();
    const again = await open(true);
    expect(again.welcomed).toBe(true);
    const welcomedMs = performance.now() - barrageEnd;
    again.ws.close(1000);
    // Refusals are audited, but not once per attempt.
    const audit = (await readFile(path.join(state, "audit.log"), "utf8")).split("\n").filter(Boolean);
    const refusals = audit.filter((l) => /"kind":"(agent|enroll)-refused"/.test(l));
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals.length).toBeLessThan(10);
    const grown = rss(coord.child.pid!) - rssWarm;
    expect(grown, `RSS grew by ${Math.round(grown / 1e6)} MB`).toBeLessThan(80e6);
    expect(coord.output()).not.toMatch(/Uncaught|FATAL|unhandled/i);
    expect((await stat(state)).mode & 0o777).toBe(0o700);
    const counts = logLines(coord.output());
    expectRateLimited(
      counts,
      {
        "invalid frame from agent": ERROR_CODES,
        "agent refused": Object.keys(CloseCode).length,
        "agent reported an error": ERROR_CODES,
      },
      performance.now() - started,
    );
    await recordFigure({
      fault: "bad frames (live coordinator)",
      what: "frames",
      count: sent,
      lost: 0,
      timeToHealthyMs: Math.round(welcomedMs),
      memoryMB: Math.round(grown / 1e5) / 10,
      details: {
        seed: SEED,
        linksClosedForTooManyBadFrames: tooMany,
        strangersAndJunkEnrollments: enrollStatuses.length,
        refusalLogLines: {
          invalidFrame: counts["invalid frame from agent"] ?? 0,
          agentRefused: counts["agent refused"] ?? 0,
          agentError: counts["agent reported an error"] ?? 0,
        },
        auditRefusals: refusals.length,
        timeToHealthy: "after the barrage, until a legitimate agent link is welcomed",
        memory: "RSS growth from the 500th frame to the end",
      },
    });
  });
});
