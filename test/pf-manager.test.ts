// PfManager (packages/agent/src/pf/manager.ts) against the pfctl test double, with time driven by hand
// (ManualClock): pfctl -nf refusal, the confirm window, the revert to the rules of before, a second change
// inside a window, a window resumed after a restart, offline enforcement, and known rules loaded without
// a window.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ManualClock } from "@vmmeet/node";
import type { AgentEvent } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { execRunner } from "../packages/agent/src/actions/runner.js";
import { PfManager } from "../packages/agent/src/pf/manager.js";
import { loadedRules, makePfctl, pfctlHistory } from "./doubles/pfctl/index.js";

const OLD = "set skip on lo\nblock return log\npass out\npass in proto tcp to self port 22\n";
const NEW = "set skip on lo\nblock return log\npass out quick on egress proto tcp to any port { 80 443 }\n";
const NEWER = "set skip on lo\nblock return log\npass out\n";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup(o: { confirmable?: boolean; existing?: string | null } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-pfm-"));
  dirs.push(dir);
  const root = path.join(dir, "root");
  const stateDir = path.join(dir, "state");
  await mkdir(path.join(root, "etc"), { recursive: true });
  await mkdir(stateDir, { mode: 0o700 });
  const pfctl = await makePfctl(root);
  const conf = path.join(root, "etc/pf.conf");
  const existing = o.existing === undefined ? OLD : o.existing;
  if (existing !== null) {
    await writeFile(conf, existing, { mode: 0o600 });
    expect((await execRunner().run(pfctl, ["-f", conf])).code).toBe(0);
  }
  const clock = new ManualClock(Date.parse("2025-01-01T00:00:00Z"));
  const events: AgentEvent[] = [];
  let expired = 0;
  const make = () =>
    new PfManager({
      pfctl,
      root,
      stateDir,
      log: pino({ level: "silent" }),
      confirmable: o.confirmable ?? true,
      clock,
    })
      .on("event", (e) => events.push(e))
      .on("expired", () => {
        expired += 1;
      });
  /** What the apply engine does for a changed pf.conf: remember, write, load. */
  const change = async (pf: PfManager, text: string, generation: number, seconds = 2) => {
    expect(await pf.check(Buffer.from(text))).toBeNull();
    await pf.beforeWrite();
    await writeFile(conf, text, { mode: 0o600 });
    return pf.load(generation, seconds);
  };
  return { root, conf, clock, events, expired: () => expired, make, change, pfctl };
}

describe("PfManager", () => {
  it("refuses a pf.conf pfctl -nf refuses, naming the line, and loads nothing", async () => {
    const t = await setup();
    const pf = t.make();
    const before = await pfctlHistory(t.root);
    const why = await pf.check(Buffer.from("pass out\npass inn proto tcp\n"));
    expect(why).toMatch(/^pfctl -nf refused it \(exit 1\): \/etc\/pf\.conf:2: /);
    expect(why).toContain("pf rules not loaded");
    expect(await pfctlHistory(t.root)).toEqual(before);
    expect(await loadedRules(t.root)).toBe(OLD);
    expect(await pf.check(Buffer.from(NEW))).toBeNull();
  });

  it("keeps a confirmed load and reverts an unconfirmed one when its window runs out", async () => {
    const t = await setup();
    const pf = t.make();
    await pf.start();
    expect(await t.change(pf, NEW, 2)).toMatchObject({ ok: true, window: 2 });
    expect(await loadedRules(t.root)).toBe(NEW);
    expect(t.events.map((e) => e.kind)).toEqual(["pf-loaded"]);
    expect(await pf.confirm(1)).toBe(false); // another generation proves nothing about these rules
    expect(await pf.confirm(2)).toBe(true);
    expect(t.events.at(-1)).toMatchObject({ kind: "pf-confirmed", label: "healthy" });
    t.clock.advance(10_000);
    expect(t.expired()).toBe(0);
    expect(await pf.revertIfExpired()).toBeNull();
    expect(await loadedRules(t.root)).toBe(NEW);

    expect(await t.change(pf, NEWER, 3)).toMatchObject({ ok: true, window: 2 });
    t.clock.advance(1999);
    expect(t.expired()).toBe(0);
    expect(await pf.revertIfExpired()).toBeNull();
    t.clock.advance(1);
    expect(t.expired()).toBe(1);
    const r = await pf.revertIfExpired("the coordinator link is down since a moment ago");
    expect(r).toMatchObject({ path: "/etc/pf.conf", ok: true });
    expect(r?.content?.toString()).toBe(NEW);
    expect(await readFile(t.conf, "utf8")).toBe(NEW);
    expect(await loadedRules(t.root)).toBe(NEW);
    const reverted = t.events.at(-1);
    expect(reverted).toMatchObject({ kind: "pf-reverted", label: "degraded", target: "/etc/pf.conf" });
    expect(reverted?.message).toMatch(/within 2 s .* generation 3 \(the coordinator link is down/);
    expect(reverted?.message).toMatch(/restored and loaded the previous \/etc\/pf\.conf/);
    // A confirm arriving after the revert changes nothing.
    expect(await pf.confirm(3)).toBe(false);
    pf.stop();
    expect(t.clock.pending).toBe(0);
  });

  it("keeps the rules of before the first unconfirmed change when a second one comes inside the window", async () => {
    const t = await setup();
    const pf = t.make();
    await pf.start();
    await t.change(pf, NEW, 2, 5);
    t.clock.advance(3000);
    await t.change(pf, NEWER, 3, 5);
    t.clock.advance(4000); // past the first deadline, inside the second: the second's timer is the one armed
    expect(t.expired()).toBe(0);
    t.clock.advance(1000);
    expect(t.expired()).toBe(1);
    const r = await pf.revertIfExpired();
    expect(r?.content?.toString()).toBe(OLD);
    expect(await loadedRules(t.root)).toBe(OLD);
  });

  it("resumes a window an agent restart interrupted, and reverts at once when it ran out meanwhile", async () => {
    const t = await setup();
    const first = t.make();
    await first.start();
    await t.change(first, NEW, 7, 10);
    first.stop();
    t.clock.advance(4000);
    const second = t.make();
    await second.start();
    expect(await second.pending()).toMatchObject({ generation: 7 });
    t.clock.advance(5999);
    expect(t.expired()).toBe(0);
    t.clock.advance(1);
    expect(t.expired()).toBe(1);
    second.stop();

    const third = t.make();
    await third.start(); // the deadline is long past: the timer fires at once
    t.clock.advance(0);
    expect(t.expired()).toBe(2);
    expect((await third.revertIfExpired())?.content?.toString()).toBe(OLD);
    expect(await loadedRules(t.root)).toBe(OLD);
    expect(await third.pending()).toBeNull();
  });

  it("without a coordinator keeps what passed -nf, and says nobody can confirm it", async () => {
    const t = await setup({ confirmable: false });
    const pf = t.make();
    await pf.start();
    expect(await t.change(pf, NEW, 4)).toMatchObject({ ok: true, window: null });
    expect(t.events.at(-1)?.message).toMatch(/kept it: no coordinator is configured, so nobody can confirm/);
    t.clock.advance(120_000);
    expect(t.expired()).toBe(0);
    expect(await loadedRules(t.root)).toBe(NEW);
  });

  it("loads confirmed rules again without a window (the healer putting back a hand-edited pf.conf)", async () => {
    const t = await setup();
    const pf = t.make();
    await pf.start();
    await t.change(pf, NEW, 2);
    expect(await pf.confirm(2)).toBe(true);
    // A hand edit, then the agent restores the desired (confirmed) content.
    await writeFile(t.conf, OLD);
    expect(await t.change(pf, NEW, 2)).toMatchObject({ ok: true, window: null });
    expect(await pf.pending()).toBeNull();
    t.clock.advance(60_000);
    expect(t.expired()).toBe(0);
  });

  it("with no pf.conf before, a revert removes the file and flushes the rules", async () => {
    const t = await setup({ existing: null });
    const pf = t.make();
    await pf.start();
    await t.change(pf, NEW, 1);
    t.clock.advance(2000);
    const r = await pf.revertIfExpired();
    expect(r).toMatchObject({ content: null, ok: true });
    await expect(readFile(t.conf)).rejects.toThrow(/ENOENT/);
    expect(await loadedRules(t.root)).toBe("");
    expect(t.events.at(-1)?.message).toMatch(/removed \/etc\/pf\.conf \(there was none before\) and flushed/);
  });
});
