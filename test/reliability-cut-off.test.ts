// Fault 4, the coordinator's side: the sandbox deployment (test/harness/deployment.ts, `vmmeet serve` with a
// 2 s heartbeat) with the jvb VM's agent behind a proxy of the test's own (test/helpers/lossy-proxy.ts). First
// the cable is pulled: nothing goes through either way and no end of a connection reaches the other side, so
// the coordinator learns it only from the silence. Then the link comes back slow (500 ms each way) and
// stalling. What must hold:
//   - the coordinator finds the node away within its heartbeat window (three heartbeats without a frame), and
//     the verdict names it first, with the moment it was last heard from (not the moment it was found dead);
//   - a push started while the node is away waits for it; when the link comes back the agent reconnects at
//     its backoff's rate (no storm: the attempts are counted against what the backoff allows), the push
//     completes over the slow link, and the bridge applies the generation once (one "apply finished", one
//     write of jvb.conf);
//   - the deployment is conference-ready again, every node connected.
import { readFile, writeFile } from "node:fs/promises";
import type { StatusReport } from "@vmmeet/coordinator";
import { describe, expect, it } from "vitest";
import { attemptsWithin } from "./helpers/lossy-proxy.js";
import { proxiedNodeForTests } from "./helpers/proxied-node.js";
import { recordFigure } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

/** `vmmeet serve --heartbeat 2` in the harness. */
const HEARTBEAT_MS = 2000;
const SEED = Number(process.env.FUZZ_SEED ?? 21);
const jvbOf = (st: StatusReport) => st.nodes.find((n) => n.node === "jvb");

const sandbox = proxiedNodeForTests("jvb", SEED);

describe("a VM cut off from the coordinator, then back over a slow, stalling link", () => {
  it("is found away within the heartbeat window and named, then catches up once, without a storm", async () => {
    const { d, proxy: p } = sandbox;
    const first = await d.push(180);
    expect(first.stdout, first.stdout + first.stderr).toMatch(/ok: generation 1 rolled out/);
    await d.waitVerdict("conference-ready", 90_000);
    const jvb = d.nodes.get("jvb")!;

    // The cable is pulled.
    const silentAt = Date.now();
    const acceptedBefore = p.accepted;
    p.setSilent(true);
    const away = await waitFor(
      async () => {
        const st = await d.status();
        return jvbOf(st)?.connected === false ? st : undefined;
      },
      { what: "the coordinator finding jvb away", timeoutMs: 60_000, intervalMs: 100 },
    );
    const foundAt = Date.now();
    const reason = away.verdict.reasons[0] ?? "";
    const m = /^jvb unreachable since (\S+): its health is what it last reported$/.exec(reason);
    expect(m, away.verdict.reasons.join("; ")).not.toBeNull();
    expect(away.verdict.verdict).not.toBe("conference-ready");
    const since = Date.parse(m![1]!);
    // The moment it was last heard from: before the cable was pulled (frames in flight at most), and the
    // whole window of silence before it was found dead.
    expect(since).toBeLessThanOrEqual(silentAt + 500);
    expect(foundAt - since).toBeGreaterThanOrEqual(3 * HEARTBEAT_MS - 50);
    expect(jvbOf(away)?.lastSeen).toBe(m![1]);
    // The rest of the deployment is still reported as it is.
    for (const n of away.nodes.filter((x) => x.node !== "jvb")) expect(n.connected, n.node).toBe(true);

    // A push while jvb is away (a new UDP port for the bridge): it waits for the node.
    await writeFile(
      d.specFile,
      (await readFile(d.specFile, "utf8")).replace("jvb: { udpPort: 10000 }", "jvb: { udpPort: 10001 }"),
    );
    const pushStarted = Date.now();
    const pushing = d.push(300);
    // The agent found the link dead too, and tries again at its backoff's rate (each attempt hangs in the
    // silence until its handshake times out).
    await waitFor(() => p.accepted - acceptedBefore >= 2, {
      what: "two attempts of the agent while cut off",
      timeoutMs: 90_000,
    });
    const silentMs = Date.now() - silentAt;
    const attemptsCutOff = p.accepted - acceptedBefore;
    expect(attemptsCutOff).toBeLessThanOrEqual(attemptsWithin(silentMs));

    // Back, slow: 500 ms each way, and 5 % of the chunks stall the link for up to 2 s.
    p.faults = { latencyMs: 500, stallChance: 0.05, stallMaxMs: 2000, cutChance: 0 };
    const acceptedBack = p.accepted;
    const backAt = Date.now();
    p.setSilent(false);
    await waitFor(async () => jvbOf(await d.status())?.connected === true, {
      what: "jvb connected again",
      timeoutMs: 90_000,
      intervalMs: 100,
    });
    const reconnectMs = Date.now() - backAt;
    const push = await pushing;
    const pushMs = Date.now() - pushStarted;
    expect(push.stdout, push.stdout + push.stderr).toMatch(/ok: generation 2 rolled out/);
    expect(push.code).toBe(0);
    const ready = await d.waitVerdict("conference-ready", 120_000);
    const healthyMs = Date.now() - backAt;
    for (const n of ready.nodes) expect(n.connected, n.node).toBe(true);
    expect(jvbOf(ready)?.generation).toEqual({ applied: 2, desired: 2 });
    const reconnects = p.accepted - acceptedBack;
    expect(reconnects).toBeLessThanOrEqual(attemptsWithin(Date.now() - backAt));

    // The bridge applied generation 2 once: one apply answered (the daemon's line, with its count of failed
    // items; the engine logs its own), one write of jvb.conf.
    const lines = (re: RegExp) => jvb.output.filter((l) => re.test(l));
    const applied = /"generation":2,.*"failed":\d+.*"msg":"apply finished"/;
    await waitFor(() => lines(applied).length >= 1, { what: "jvb's apply logged" });
    expect(lines(applied), lines(/"generation":2,/).join("\n")).toHaveLength(1);
    expect(lines(/"generation":2,.*"path":"\/etc\/jvb\/jvb\.conf".*"msg":"file written"/)).toHaveLength(1);

    await recordFigure({
      fault: "cut-off VM, then a slow link (coordinator side)",
      what: "push waiting for the node",
      count: 1,
      lost: 0,
      timeToHealthyMs: healthyMs,
      details: {
        seed: SEED,
        heartbeatSeconds: HEARTBEAT_MS / 1000,
        foundAwaySeconds: Math.round((foundAt - silentAt) / 100) / 10,
        silenceBeforeFoundSeconds: Math.round((foundAt - since) / 100) / 10,
        cutOffSeconds: Math.round(silentMs / 100) / 10,
        agentAttemptsWhileCutOff: attemptsCutOff,
        reconnectsAfterLinkBack: reconnects,
        reconnectSeconds: Math.round(reconnectMs / 100) / 10,
        pushSeconds: Math.round(pushMs / 100) / 10,
        link: "500 ms each way, 5 % of chunks stall the link up to 2 s",
        lost: "generations applied twice or not at all (none: applied once, written once)",
        timeToHealthy: "link back to conference-ready",
      },
    });
  }, 600_000);
});
