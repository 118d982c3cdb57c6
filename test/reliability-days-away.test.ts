// Fault 6, days away: the coordinator is gone for a simulated stretch of days (a week in the full run) while
// the agent keeps working. Time is a ManualClock injected into the transport; every connection attempt is a
// real one, to a loopback port nobody listens on. What must hold:
//   - attempts come at the capped rate (30 s, jitter shortening it to no less than 15 s), never faster;
//   - memory stays flat across thousands of attempts (nothing is kept per attempt);
//   - the log says so a few times, not once per attempt;
//   - events the agent makes meanwhile (here one repair a minute, as a flapping service would) are queued
//     up to the outbox's bound, the oldest dropped and counted;
//   - when the coordinator is back, the next attempt connects, and what was queued arrives in order after a
//     note saying how many older events were dropped. Nothing else is lost.
import { createServer } from "node:net";
import { DEFAULT_BACKOFF, ManualClock } from "@vmmeet/node";
import type { AgentEvent } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { EventOutbox } from "../packages/agent/src/heal/outbox.js";
import { AgentTransport } from "../packages/agent/src/transport/client.js";
import { FAILURE_LOG_EVERY_MS, FAILURE_LOG_FIRST } from "../packages/agent/src/transport/unreachable.js";
import { capturingLogger } from "./helpers/capture-log.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { prng } from "./helpers/fuzz.js";
import { useCleanups } from "./helpers/processes.js";
import { heapAfterGc, recordFigure, scale } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

const HOUR = 3_600_000;
const AWAY_MS = scale(12, 7 * 24) * HOUR;
const REPAIR_EVERY_MS = 60_000;

/** A loopback port that refuses connections (was free a moment ago). */
async function refusingPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe("days away from the coordinator", () => {
  const cleanups = useCleanups();

  it(`retries at the capped rate for ${AWAY_MS / HOUR} simulated hours with flat memory, then delivers the bounded outbox`, async () => {
    const start = Date.parse("2026-12-01T00:00:00Z");
    const clock = new ManualClock(start);
    const port = await refusingPort();
    const lines: string[] = [];
    const outbox = new EventOutbox();
    const r = prng(21);
    const t = new AgentTransport({
      url: `ws://127.0.0.1:${port}/agent`,
      node: "jvb",
      role: "jvb",
      agentVersion: "test",
      generation: () => 3,
      logger: capturingLogger(lines, "info"),
      backoff: DEFAULT_BACKOFF,
      random: r.next,
      clock,
    });
    t.on("open", () => {
      outbox.drain(
        (event) => t.send({ type: "event", event }),
        () => new Date(clock.now()),
      );
    });
    cleanups.push(() => t.stop());

    // The healer's work while nobody listens: one repair event a minute.
    let made = 0;
    const repair = () => {
      made += 1;
      const e: AgentEvent = {
        at: new Date(clock.now()).toISOString(),
        kind: "repair-service",
        label: "degraded",
        message: `jvb was not running: started it (repair ${made})`,
        target: "jvb",
      };
      outbox.push(e);
      if (t.state === "open") outbox.drain((event) => t.send({ type: "event", event }));
      clock.setTimeout(repair, REPAIR_EVERY_MS);
    };
    clock.setTimeout(repair, REPAIR_EVERY_MS);

    /**
     * Lets the attempt in flight fail for real (ECONNREFUSED), which arms the next retry. Turns of the event
     * loop rather than 10 ms polls: a refusal takes well under a millisecond, and there are thousands.
     */
    const settle = () =>
      waitFor(() => t.reconnects >= t.attempts, {
        what: `attempt ${t.attempts} to end`,
        timeoutMs: 20_000,
        intervalMs: 0,
      });

    t.start();
    await settle();
    const attemptAt: number[] = [start];
    let heapWarm = 0;
    const wallStart = performance.now();
    while (clock.now() < start + AWAY_MS) {
      const before = t.attempts;
      clock.advance((clock.nextAt ?? clock.now()) - clock.now());
      if (t.attempts === before) continue;
      attemptAt.push(clock.now());
      await settle();
      if (t.attempts === 200) heapWarm = heapAfterGc();
    }
    const heapEnd = heapAfterGc();
    const wallMs = performance.now() - wallStart;

    // The capped rate: after the first few doublings, every gap lies in [cap * (1 - jitter), cap].
    const gaps = attemptAt.slice(1).map((at, i) => at - attemptAt[i]!);
    const capped = gaps.slice(10);
    const floor = DEFAULT_BACKOFF.maxMs * (1 - DEFAULT_BACKOFF.jitter);
    expect(Math.min(...capped)).toBeGreaterThanOrEqual(floor);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(DEFAULT_BACKOFF.maxMs);
    expect(t.attempts).toBeGreaterThan(1000);
    expect(t.attempts).toBeLessThanOrEqual(Math.ceil(AWAY_MS / floor) + 10);
    expect(t.attempts).toBeGreaterThanOrEqual(Math.floor(AWAY_MS / DEFAULT_BACKOFF.maxMs));

    // Memory flat: nothing grows with the attempts (the outbox is full long before the 200th).
    const grownMB = (heapEnd - heapWarm) / 1e6;
    expect(grownMB, `heap grew by ${grownMB.toFixed(2)} MB`).toBeLessThan(4);

    // A few lines, not one per attempt.
    const unreachable = lines.filter((l) => /"msg":"coordinator (link error|still unreachable)/.test(l));
    expect(unreachable.length).toBeGreaterThanOrEqual(FAILURE_LOG_FIRST);
    expect(unreachable.length).toBeLessThanOrEqual(
      FAILURE_LOG_FIRST + Math.ceil(AWAY_MS / FAILURE_LOG_EVERY_MS) + 1,
    );
    expect(unreachable.at(-1)).toMatch(/"failedAttempts":\d{3,}/);

    // The outbox held its bound all along.
    expect(made).toBeGreaterThan(outbox.capacity);
    expect(outbox.size).toBe(outbox.capacity);
    expect(outbox.dropped).toBe(made - outbox.capacity);

    // The coordinator comes back on the same port: the next attempt connects, and everything queued arrives.
    const coordinator = await fakeCoordinator({ port, cleanups });
    const backAt = performance.now();
    const madeAway = made;
    while (t.state !== "open") {
      const before = t.attempts;
      clock.advance((clock.nextAt ?? clock.now()) - clock.now());
      if (t.attempts > before)
        await waitFor(() => t.state === "open" || t.reconnects >= t.attempts, {
          what: "the attempt ended",
          timeoutMs: 20_000,
        });
    }
    const events = await waitFor(
      () => {
        const ev = coordinator.frames.flatMap((f) => (f.type === "event" ? [f.event] : []));
        return ev.length >= outbox.capacity + 1 ? ev : undefined;
      },
      { what: "the outbox delivered", timeoutMs: 20_000 },
    );
    const deliveredMs = performance.now() - backAt;
    expect(events[0]!.kind).toBe("events-dropped");
    const droppedCount = madeAway - outbox.capacity;
    expect(events[0]!.message).toContain(`${droppedCount} older events were dropped`);
    const repairs = events.slice(1).map((e) => Number(/repair (\d+)/.exec(e.message)?.[1]));
    // The newest `capacity` repairs, oldest first, none twice, none missing in between.
    expect(repairs).toEqual(
      Array.from({ length: repairs.length }, (_, i) => madeAway - outbox.capacity + 1 + i),
    );
    expect(outbox.size).toBe(0);
    expect(lines.some((l) => /connected to coordinator/.test(l) && /"failedAttempts":\d+/.test(l))).toBe(
      true,
    );

    await recordFigure({
      fault: "days away",
      what: "reconnect attempts",
      count: t.attempts,
      // Every event made is either delivered or counted in the events-dropped note.
      lost: madeAway - (repairs.length + droppedCount),
      timeToHealthyMs: Math.round(deliveredMs),
      memoryMB: Math.round(grownMB * 100) / 100,
      details: {
        simulatedHours: AWAY_MS / HOUR,
        wallSeconds: Math.round(wallMs / 100) / 10,
        minGapMs: Math.min(...capped),
        meanGapMs: Math.round(gaps.reduce((a, b) => a + b, 0) / gaps.length),
        logLines: unreachable.length,
        eventsMade: madeAway,
        eventsDelivered: repairs.length,
        eventsDroppedAndCounted: droppedCount,
        memory: "heap growth after GC between the 200th attempt and the last",
      },
    });
  });
});
