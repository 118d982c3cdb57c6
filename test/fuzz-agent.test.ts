// Fuzzing the agent's end of the protocol with thousands of random and mutated frames, against a live agent
// (`vmmeet-agent`), with this test playing its coordinator: garbage, mutated frames and hostile-but-valid
// desired states (paths outside the allow-list, traversal, other roles' files). The agent must not crash,
// must keep answering, must write nothing outside its role's allow-list, must cap its error replies and close
// a link that sends too many bad frames, and its memory must stay flat. It logs each kind of refusal once a
// minute at most, with a count. The generator is seeded (FUZZ_SEED=n reproduces a run); CI sends 3,000
// frames, `npm run reliability` 10,000 (test/helpers/reliability.ts).
import { mkdir, mkdtemp, readdir, readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import {
  type CoordinatorToAgent,
  decodeAgentFrame,
  decodeCoordinatorFrame,
  PROTOCOL_VERSION,
  pathRefusal,
} from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { mutateObject, mutateText, prng, type Rng, randomValue } from "./helpers/fuzz.js";
import { ERROR_CODES, expectRateLimited, FUZZ, frameText, liveProcesses, rss } from "./helpers/fuzz-live.js";
import { recordFigure } from "./helpers/reliability.js";
import { startAgent } from "./helpers/secret-scan.js";
import { waitFor } from "./helpers/wait.js";

const { rec, dirs } = liveProcesses();

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

describe("fuzzing", { timeout: FUZZ.timeoutMs }, () => {
  it(`a live agent survives ${FUZZ.framesPerSide} random, mutated and hostile frames (seed ${FUZZ.seed})`, async () => {
    const r = prng(FUZZ.seed);
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
      while (sent < FUZZ.framesPerSide) {
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
      const counts = expectRateLimited(
        agent.output(),
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
          seed: FUZZ.seed,
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
});
