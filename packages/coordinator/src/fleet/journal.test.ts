import { describe, expect, it } from "vitest";
import { newJournal, noteEvent, parseJournal, planRecovery, type RolloutJournal } from "./journal.js";
import type { Stage } from "./stages.js";

const stages: Stage[] = [
  { name: "host", nodes: ["vmm"], gate: "applied", after: [] },
  { name: "xmpp", nodes: ["xmpp"], gate: "xmpp-healthy", after: ["host"] },
  { name: "focus and bridges", nodes: ["jicofo", "jvb"], gate: "brewery-complete", after: ["xmpp"] },
  { name: "web", nodes: ["web"], gate: "web-healthy", after: ["xmpp"] },
];

function journal(): RolloutJournal {
  return newJournal({
    generation: 7,
    good: 6,
    by: "alice",
    startedAt: "2026-12-06T10:00:00.000Z",
    timeoutMs: 60_000,
    readyBefore: true,
    stages,
  });
}

const holding = (gens: Record<string, number | null>) => new Map(Object.entries(gens));
const all = (g: number) => holding({ vmm: g, xmpp: g, jicofo: g, jvb: g, web: g });

describe("the rollout journal", () => {
  it("records the stage, each node's send, answer and gate, and the rollback's generation", () => {
    const j = journal();
    expect(noteEvent(j, { kind: "stage", stage: "xmpp" }, 100)).toBe(true);
    expect(noteEvent(j, { kind: "node", node: "xmpp", phase: "applying" }, 150)).toBe(true);
    expect(noteEvent(j, { kind: "node", node: "xmpp", phase: "restarting" }, 200)).toBe(true);
    expect(j.nodes.xmpp).toEqual({ state: "applied", sentAt: 150, restarted: true });
    expect(noteEvent(j, { kind: "node", node: "xmpp", phase: "gating" }, 210)).toBe(false);
    // Files written, nothing restarted: no phase of its own before the gate.
    noteEvent(j, { kind: "node", node: "vmm", phase: "applying" }, 205);
    expect(noteEvent(j, { kind: "node", node: "vmm", phase: "gating" }, 210)).toBe(true);
    expect(j.nodes.vmm).toEqual({ state: "applied", sentAt: 205, restarted: false });
    expect(noteEvent(j, { kind: "node", node: "xmpp", phase: "healthy" }, 220)).toBe(true);
    expect(noteEvent(j, { kind: "node", node: "jvb", phase: "unchanged" }, 230)).toBe(true);
    expect(j.nodes.jvb).toMatchObject({ state: "applied", restarted: false });
    expect(noteEvent(j, { kind: "node", node: "stranger", phase: "applying" }, 240)).toBe(false);
    expect(noteEvent(j, { kind: "rollback" }, 250, 8)).toBe(true);
    expect(j.restoring).toBe(8);
    // The rollback's own rollout does not overwrite what the failed push did.
    expect(noteEvent(j, { kind: "stage", stage: "web" }, 260)).toBe(false);
    expect(noteEvent(j, { kind: "node", node: "web", phase: "applying" }, 270)).toBe(false);
    expect(j.stage).toBe("xmpp");
    expect(parseJournal(JSON.parse(JSON.stringify(j)))).toEqual(j);
  });

  it("refuses a file that is not a journal", () => {
    expect(() => parseJournal({ version: 2 })).toThrow(/not a rollout journal/);
    expect(() => parseJournal(null)).toThrow(/not a rollout journal/);
    expect(() => parseJournal({ ...journal(), generation: "7" })).toThrow(/not a rollout journal/);
  });
});

describe("planRecovery", () => {
  it("drops a journal whose generation was never put in force", () => {
    expect(planRecovery(journal(), 6, all(6))).toMatchObject({ action: "discard" });
  });

  it("finishes a push every node holds", () => {
    expect(planRecovery(journal(), 7, all(7))).toMatchObject({ action: "finish" });
  });

  it("rolls back a push that stopped half way, naming where and who holds what", () => {
    const j = journal();
    j.stage = "focus and bridges";
    const plan = planRecovery(j, 7, holding({ vmm: 7, xmpp: 7, jicofo: 7, jvb: 6, web: 6 }));
    expect(plan).toMatchObject({ action: "rollback", failed: 7, changed: ["vmm", "xmpp", "jicofo"] });
    expect(plan.reason).toMatch(/stopped in stage focus and bridges: jvb \(holds 6\), web \(holds 6\)/);
  });

  it("rolls back when a node does not report, or had failed before the restart", () => {
    expect(
      planRecovery(journal(), 7, holding({ vmm: 7, xmpp: 7, jicofo: 7, jvb: 7, web: null })),
    ).toMatchObject({
      action: "rollback",
      reason: expect.stringMatching(/web \(did not report\)/),
    });
    const j = journal();
    j.nodes.jvb = { state: "failed" };
    expect(planRecovery(j, 7, all(7))).toMatchObject({
      action: "rollback",
      reason: expect.stringMatching(/had failed on jvb/),
    });
  });

  it("rolls a begun rollback back again, from the newest generation, so no node gets one it holds", () => {
    const j = journal();
    j.restoring = 8;
    expect(planRecovery(j, 8, holding({ vmm: 8, xmpp: 8, jicofo: 7, jvb: 7, web: 6 }))).toMatchObject({
      action: "rollback",
      failed: 8,
      changed: ["vmm", "xmpp", "jicofo", "jvb"],
    });
    // Killed after current.json named the restore, before the journal did.
    expect(planRecovery(journal(), 8, all(7))).toMatchObject({ action: "rollback", failed: 8 });
  });
});
