// Fuzzing the coordinator's end of the protocol with thousands of random and mutated frames, against a live
// coordinator (`vmmeet serve`, TLS), with this test playing an enrolled agent, strangers without a
// certificate, and junk enrollment requests. It must not crash, must keep serving the admin socket and
// legitimate agents, must close links that send too many bad frames, must keep its audit log from growing
// with every refusal, and its memory must stay flat. It logs each kind of refusal once a minute at most, with
// a count. The generator is seeded (FUZZ_SEED=n reproduces a run); CI sends 3,000 frames, `npm run
// reliability` 10,000 (test/helpers/reliability.ts).
import { mkdtemp, readFile, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { loadOrCreateMaterial, parseSpecText } from "@vmmeet/coordinator";
import { CloseCode, decodeAgentFrame, decodeCoordinatorFrame, PROTOCOL_VERSION } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { fixturesDir } from "./fixtures/material.js";
import { mutateObject, mutateText, prng, randomValue } from "./helpers/fuzz.js";
import { ERROR_CODES, expectRateLimited, FUZZ, frameText, liveProcesses, rss } from "./helpers/fuzz-live.js";
import { recordFigure } from "./helpers/reliability.js";
import { startAgent, startCoordinator } from "./helpers/secret-scan.js";

const { rec, dirs } = liveProcesses();

describe("fuzzing", { timeout: FUZZ.timeoutMs }, () => {
  it(`a live coordinator survives ${FUZZ.framesPerSide} random and mutated frames from an enrolled agent and strangers (seed ${FUZZ.seed})`, async () => {
    const r = prng(FUZZ.seed + 1);
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
    while (sent < FUZZ.framesPerSide) {
      const link = await open(true);
      expect(link.welcomed).toBe(true);
      const closed = new Promise<number>((res) => link.ws.once("close", (c) => res(c)));
      // Frames until the coordinator closes the link (too many bad frames) or 300 were sent on it.
      for (let i = 0; i < 300 && link.ws.readyState === WebSocket.OPEN && sent < FUZZ.framesPerSide; i++) {
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
    const counts = expectRateLimited(
      coord.output(),
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
        seed: FUZZ.seed,
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
