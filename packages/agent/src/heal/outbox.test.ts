import type { AgentEvent } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { EventOutbox } from "./outbox.js";

const ev = (n: number): AgentEvent => ({
  at: new Date(Date.UTC(2024, 4, 1, 12, 0, n)).toISOString(),
  kind: "repair-file",
  label: "degraded",
  message: `event ${n}`,
});

describe("event outbox", () => {
  it("keeps events while sending fails and sends them in order later", () => {
    const box = new EventOutbox(10);
    for (let i = 0; i < 3; i++) box.push(ev(i));
    expect(box.drain(() => false)).toBe(0);
    expect(box.size).toBe(3);
    const sent: string[] = [];
    let budget = 2;
    expect(box.drain((e) => budget-- > 0 && sent.push(e.message) > 0)).toBe(2);
    expect(box.size).toBe(1);
    expect(box.drain((e) => sent.push(e.message) > 0)).toBe(1);
    expect(sent).toEqual(["event 0", "event 1", "event 2"]);
  });

  it("drops the oldest beyond its capacity and says so first", () => {
    const box = new EventOutbox(3);
    for (let i = 0; i < 5; i++) box.push(ev(i));
    expect(box.size).toBe(3);
    expect(box.dropped).toBe(2);
    const sent: AgentEvent[] = [];
    box.drain(
      (e) => sent.push(e) > 0,
      () => new Date("2024-05-02T00:00:00Z"),
    );
    expect(sent.map((e) => e.kind)).toEqual(["events-dropped", "repair-file", "repair-file", "repair-file"]);
    expect(sent[0]!.message).toMatch(/^2 older events were dropped .* from 2024-05-01T12:00:00.000Z/);
    expect(sent.slice(1).map((e) => e.message)).toEqual(["event 2", "event 3", "event 4"]);
    expect(box.dropped).toBe(0);
  });
});
