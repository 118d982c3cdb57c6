// The healer against the real apply engine on a temp root, with the in-memory rcctl (services/fake.ts)
// and a manual clock: drift restored with one restart, backoff timing, give-up and recovery, remedies and
// their budget. The same healer against real processes and the rcctl double: test/heal-agent.test.ts.
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ManualClock } from "@vmmeet/node";
import type { AgentEvent, HealthSignal, NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { jicofoConf, jicofoDesired } from "../../../../test/helpers/jicofo-desired.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import { lenientAccounts } from "../reconcile/accounts.js";
import { ApplyEngine } from "../reconcile/engine.js";
import { FakeServiceManager } from "../services/fake.js";
import { ServiceLife } from "../services/life.js";
import { Healer, type HealerTuningInput } from "./healer.js";

let dir: string;
let root: string;
const cleanups: (() => Promise<unknown> | unknown)[] = [];
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "vmmeet-heal-"));
  root = path.join(dir, "root");
  await mkdir(root);
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await rm(dir, { recursive: true, force: true });
});

const log = pino({ level: "silent" });
const STORE = "/etc/ssl/jicofo-key.store";
const CONF = "/etc/jicofo/jicofo.conf";

function desired(): NodeDesired {
  return jicofoDesired(
    [
      { ...jicofoConf('jicofo { xmpp { client { password = "PW" } } }\n'), secret: true },
      {
        path: STORE,
        content: Buffer.from("truststore bytes").toString("base64"),
        encoding: "base64",
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "jicofo", action: "restart" }],
      },
      { path: "/etc/hosts", content: "100.64.2.3 xmpp\n", mode: "0644", owner: "root", group: "wheel" },
    ],
    {},
    { services: [{ name: "jicofo", flags: null, order: 20, graceSeconds: 90 }] },
  );
}

/** The apply engine on the temp root; its service owner on `clock` when given (the healer's, as in the daemon). */
function engineFor(fake: FakeServiceManager, clock?: ManualClock): ApplyEngine {
  return new ApplyEngine({
    root,
    stateDir: path.join(dir, "state"),
    services: clock ? new ServiceLife(fake, { now: () => clock.now() }) : fake,
    accounts: lenientAccounts(),
    log,
  });
}

async function setup(tuning: HealerTuningInput = {}, fake = new FakeServiceManager({ jicofo: {} })) {
  const clock = new ManualClock(Date.parse("2024-05-01T12:00:00Z"));
  const engine = engineFor(fake, clock);
  const d = desired();
  const res = await engine.apply(d, 1);
  expect(res.outcome).toBe("applied");
  fake.calls.length = 0;
  const events: AgentEvent[] = [];
  let changes = 0;
  // The services whose start the owner saw succeed (its check after the start found the process).
  const running: string[] = [];
  engine.services.on("running", (e) => running.push(e.service));
  const healer = new Healer({
    engine,
    services: engine.services,
    root,
    accounts: lenientAccounts(),
    log,
    clock,
    random: () => 0.5,
    tuning: { watch: false, ...tuning },
  });
  healer.on("event", (e) => events.push(e));
  healer.on("change", () => {
    changes += 1;
  });
  // The apply's restart of jicofo: its grace period is the owner's, nothing to pass along.
  healer.configure(d);
  cleanups.push(() => healer.stop());
  return { engine, fake, clock, events, healer, changes: () => changes, running };
}

const signal = (
  component: HealthSignal["component"],
  name: string,
  label: HealthSignal["label"] = "failed",
) => ({ component, signal: name, label, explain: "test", at: new Date().toISOString() }) as HealthSignal;

describe("healer", () => {
  it("restores a drifted file and restarts its service once; reports both, never the content", async () => {
    const t = await setup();
    await writeFile(path.join(root, CONF), 'jicofo { xmpp { client { password = "HAND" } } }\n');
    await writeFile(path.join(root, STORE), "garbage");
    await t.healer.pass();
    expect(await readFile(path.join(root, CONF), "utf8")).toContain('"PW"');
    expect(await readFile(path.join(root, STORE), "utf8")).toBe("truststore bytes");
    expect(t.fake.actions).toEqual(["restart jicofo"]);
    expect(t.events.map((e) => `${e.kind} ${e.target}`)).toEqual([
      `repair-file ${CONF}`,
      `repair-file ${STORE}`,
      "repair-service jicofo",
    ]);
    expect(t.events[0]!.message).toBe(`restored ${CONF} (content changed)`);
    expect(t.events[2]!.message).toBe(`restarted jicofo after restoring ${CONF}, ${STORE}`);
    expect(JSON.stringify(t.events)).not.toContain("PW");
    // Nothing differs any more: the next pass does nothing.
    await t.healer.pass();
    expect(t.fake.actions).toEqual(["restart jicofo"]);
    expect(t.events).toHaveLength(3);
  });

  it("waits twice as long after each restore that failed (a full disk, a directory in the way), then converges", async () => {
    const t = await setup({ intervalMs: 1000 });
    const hosts = path.join(root, "etc/hosts");
    await rm(hosts);
    await mkdir(hosts);
    const failures = () => t.events.filter((e) => e.target === "/etc/hosts" && e.label === "failed").length;
    await t.healer.pass();
    expect(failures()).toBe(1);
    expect(t.events.find((e) => e.target === "/etc/hosts")!.message).toMatch(
      /^cannot restore \/etc\/hosts: /,
    );
    // Passes within the wait do not try again: 1 s after the first failure, then 2 s, then 4 s.
    const tries: number[] = [];
    const t0 = t.clock.now();
    for (let i = 0; i < 8; i++) {
      t.clock.advance(1000);
      const before = failures();
      await t.healer.pass();
      if (failures() > before) tries.push(t.clock.now() - t0);
    }
    expect(tries).toEqual([1000, 3000, 7000]);
    // The directory goes: the first pass after the wait restores the file.
    await rm(hosts, { recursive: true });
    t.clock.advance(8000);
    await t.healer.pass();
    expect(await readFile(hosts, "utf8")).toBe("100.64.2.3 xmpp\n");
    expect(t.events.at(-1)!.message).toBe("restored /etc/hosts (missing)");
  });

  it("reports a mode change as drift and fixes it without a restart", async () => {
    const { chmod } = await import("node:fs/promises");
    const t = await setup();
    await chmod(path.join(root, "etc/hosts"), 0o666);
    await t.healer.pass();
    expect(t.events.map((e) => e.message)).toEqual(["restored /etc/hosts (mode 0666, desired 0644)"]);
    expect(t.fake.actions).toEqual([]);
  });

  it("starts a stopped service, backs off while it keeps failing, gives up, and recovers when it runs", async () => {
    const t = await setup({ restart: { initialMs: 1000, maxMs: 4000, maxAttempts: 4 } });
    const svc = t.fake.services.get("jicofo")!;
    svc.running = false;
    svc.startFails = true;
    const starts = () => t.fake.actions.filter((a) => a === "start jicofo").length;
    const timeline: string[] = [];
    const t0 = t.clock.now();
    for (let s = 0; s <= 20; s++) {
      const before = starts();
      await t.healer.pass();
      if (starts() > before) timeline.push(`${(t.clock.now() - t0) / 1000}s`);
      t.clock.advance(1000);
    }
    // Attempts at 0, +1 s, +2 s, +4 s (capped at 4 s); then the last delay, then it gives up.
    expect(timeline).toEqual(["0s", "1s", "3s", "7s"]);
    expect(t.running).toEqual([]); // none of those starts ran
    expect(t.events.filter((e) => e.kind === "service-failed")).toHaveLength(1);
    expect(t.events.find((e) => e.kind === "service-failed")!.message).toMatch(
      /^gave up on jicofo after 4 starts that did not last \(last: rcctl start: failed jicofo\(failed\)\)/,
    );
    expect(t.healer.serviceHint("jicofo")).toMatchObject({ state: "failed", restarts: 0 });
    expect(t.events.filter((e) => e.kind === "repair-service").map((e) => e.label)).toEqual([
      "failed",
      "failed",
      "failed",
      "failed",
    ]);
    // Someone fixes it and starts it by hand: the healer notices and watches it again.
    svc.startFails = false;
    svc.running = true;
    await t.healer.pass();
    expect(t.events.at(-1)).toMatchObject({ kind: "service-recovered", label: "healthy" });
    // Inside the grace period (90 s) of the last start the healer made.
    expect(t.healer.serviceHint("jicofo")?.state).toBe("starting");
    expect(t.changes()).toBeGreaterThanOrEqual(2);
  });

  it("restarts a killed service at once and counts the restart; starting within its grace period", async () => {
    const t = await setup({ graceMs: 5000 });
    t.clock.advance(10_000);
    await t.healer.pass();
    expect(t.healer.serviceHint("jicofo")).toEqual({ state: "ok", restarts: 0 });
    t.fake.services.get("jicofo")!.running = false;
    await t.healer.pass();
    expect(t.fake.actions).toEqual(["start jicofo"]);
    // Once its check after the start matched: the daemon probes jicofo's component now.
    expect(t.running).toEqual(["jicofo"]);
    expect(t.healer.serviceHint("jicofo")).toEqual({ state: "starting", restarts: 1 });
    expect(t.events.map((e) => e.message)).toEqual(["jicofo was not running: started it (attempt 1 of 6)"]);
    t.clock.advance(5000);
    expect(t.healer.serviceHint("jicofo")?.state).toBe("ok");
  });

  it("stands aside while the daemon applies", async () => {
    let busy = true;
    const t = await setup({});
    const healer = new Healer({
      engine: t.engine,
      services: t.fake,
      root,
      accounts: lenientAccounts(),
      log,
      clock: t.clock,
      tuning: { watch: false },
      busy: () => busy,
    });
    healer.configure(desired());
    t.fake.services.get("jicofo")!.running = false;
    await healer.pass();
    expect(t.fake.calls).toEqual([]);
    busy = false;
    await healer.pass();
    expect(t.fake.actions).toEqual(["start jicofo"]);
  });

  it("truststore remedy: reinstalls the store and restarts jicofo once, within its hourly budget", async () => {
    const t = await setup({ graceMs: 1000 });
    // A signal inside the grace period after the apply is expected noise.
    t.healer.onSignal(signal("jicofo", "truststore-rejected"));
    await t.healer.pass();
    expect(t.fake.actions).toEqual([]);
    t.clock.advance(2000);

    await writeFile(path.join(root, STORE), "corrupt");
    t.healer.onSignal(signal("jicofo", "truststore-rejected"));
    await waitFor(() => t.events.some((e) => e.kind === "remedy-truststore"), {
      what: "remedy event",
      intervalMs: 0,
    });
    expect(await readFile(path.join(root, STORE), "utf8")).toBe("truststore bytes");
    // enforce restarted jicofo for the store (notify); the plan's own restart is skipped: once.
    expect(t.fake.actions).toEqual(["restart jicofo"]);
    expect(t.events.find((e) => e.kind === "remedy-truststore")!.message).toBe(
      `jicofo logged truststore-rejected: reinstalled ${STORE}`,
    );

    // Store intact, jicofo still rejects: restart only.
    t.clock.advance(2000);
    t.healer.onSignal(signal("jicofo", "truststore-rejected"));
    await waitFor(() => t.events.filter((e) => e.kind === "remedy-truststore").length === 2, {
      what: "second remedy",
      intervalMs: 0,
    });
    expect(t.fake.actions).toEqual(["restart jicofo", "restart jicofo"]);
    expect(t.events.filter((e) => e.kind === "remedy-truststore")[1]!.message).toBe(
      "jicofo logged truststore-rejected: files already as desired; restarted jicofo",
    );

    // Budget spent (2 per hour): reported once, not acted on.
    t.clock.advance(2000);
    t.healer.onSignal(signal("jicofo", "truststore-rejected"));
    await waitFor(() => t.events.some((e) => e.kind === "heal-limited"), { what: "limited", intervalMs: 0 });
    t.clock.advance(2000);
    t.healer.onSignal(signal("jicofo", "truststore-rejected"));
    await t.healer.pass();
    expect(t.events.filter((e) => e.kind === "heal-limited")).toHaveLength(1);
    expect(t.fake.actions).toHaveLength(2);
    // An hour later it may run again.
    t.clock.advance(3_600_000);
    t.healer.onSignal(signal("jicofo", "truststore-rejected"));
    await waitFor(() => t.events.filter((e) => e.kind === "remedy-truststore").length === 3, {
      what: "third remedy",
      intervalMs: 0,
    });
  });

  it("reconnect remedy: no restart when jicofo reconnects within its grace, a restart when it does not", async () => {
    const t = await setup({ graceMs: 30_000 });
    t.clock.advance(31_000);
    t.healer.onSignal(signal("jicofo", "xmpp-not-connected"));
    // Repeats while waiting join the same remedy.
    t.healer.onSignal(signal("jicofo", "xmpp-connection-refused"));
    t.clock.advance(10_000);
    t.healer.onSignal(signal("jicofo", "brewery-room-joined", "healthy"));
    await t.healer.pass();
    t.clock.advance(60_000);
    await t.healer.pass();
    expect(t.fake.actions).toEqual([]);
    expect(t.events).toEqual([]);

    t.healer.onSignal(signal("jicofo", "xmpp-connect-failed"));
    t.clock.advance(29_000);
    expect(t.fake.actions).toEqual([]);
    t.clock.advance(1000);
    await waitFor(() => t.events.some((e) => e.kind === "remedy-reconnect"), {
      what: "restart",
      intervalMs: 0,
    });
    expect(t.fake.actions).toEqual(["restart jicofo"]);
    expect(t.events[0]).toMatchObject({
      kind: "remedy-reconnect",
      label: "degraded",
      target: "jicofo",
      message: "jicofo logged xmpp-connect-failed: jicofo did not recover within 30 s; restarted jicofo",
    });
  });

  it("ignores signals of a service this node does not manage and stops cleanly mid-wait", async () => {
    const t = await setup({ graceMs: 30_000 });
    t.clock.advance(31_000);
    t.healer.onSignal(signal("jvb", "xmpp-not-connected"));
    t.healer.onSignal(signal("jicofo", "xmpp-not-connected"));
    expect(t.clock.pending).toBe(1);
    await t.healer.stop();
    expect(t.clock.pending).toBe(0);
    t.clock.advance(60_000);
    expect(t.fake.actions).toEqual([]);
    expect(t.events).toEqual([]);
  });

  it("arms a timer per unit, the restarter's earlier when a start attempt is due, and none after stop", async () => {
    const t = await setup({ intervalMs: 60_000, jitter: 0, restart: { initialMs: 5000 } });
    t.fake.services.get("jicofo")!.running = false;
    t.fake.services.get("jicofo")!.startFails = true;
    t.healer.start();
    // Drift repair's periodic compare and the restarter's periodic check.
    expect(t.clock.pending).toBe(2);
    t.clock.advance(60_000);
    // It ran when last seen: the first attempt 2 s later (settleMs: an admin's restart may be under way).
    await waitFor(() => t.clock.nextAt === t.clock.now() + 2000, { what: "settle armed", intervalMs: 0 });
    expect(t.fake.actions).toEqual([]);
    t.clock.advance(2000);
    await waitFor(() => t.fake.actions.length === 1, { what: "first attempt", intervalMs: 0 });
    await waitFor(() => t.clock.nextAt === t.clock.now() + 5000, { what: "re-armed", intervalMs: 0 });
    t.clock.advance(5000);
    await waitFor(() => t.fake.actions.length === 2, {
      what: "second attempt after 5 s, not 60 s",
      intervalMs: 0,
    });
    await t.healer.stop();
    expect(t.clock.pending).toBe(0);
  });
});

describe("healer and the service owner", () => {
  it("starts a service someone else's check found gone settleMs later, not at its next pass", async () => {
    const t = await setup({ intervalMs: 60_000, jitter: 0 });
    t.healer.start();
    t.clock.advance(10_000);
    t.fake.services.get("jicofo")!.running = false;
    // The health monitor's probe (or the status) asks the owner: "stopped", told to the restarter.
    expect(await t.engine.services.check("jicofo")).toBe(false);
    await waitFor(() => t.clock.nextAt === t.clock.now() + 2000, { what: "brought forward", intervalMs: 0 });
    t.clock.advance(2000);
    await waitFor(() => t.fake.actions.length === 1, { what: "the start", intervalMs: 0 });
    expect(t.fake.actions).toEqual(["start jicofo"]);
    expect(t.events.map((e) => e.message)).toEqual(["jicofo was not running: started it (attempt 1 of 6)"]);
  });

  it("leaves alone a service an admin's rcctl restart stops and starts again (checked in between)", async () => {
    const t = await setup({ intervalMs: 60_000, jitter: 0, graceMs: 5000 });
    t.healer.start();
    t.clock.advance(10_000);
    await t.healer.pass();
    const svc = t.fake.services.get("jicofo")!;
    // `rcctl restart jicofo` has stopped it; the healer's check comes before its start.
    svc.running = false;
    await t.healer.pass();
    expect(t.fake.actions).toEqual([]);
    // The admin's restart starts it.
    svc.running = true;
    t.clock.advance(2000);
    await waitFor(() => t.fake.calls.filter((c) => c === "check jicofo").length === 3, {
      what: "the look after settleMs",
      intervalMs: 0,
    });
    expect(t.fake.actions).toEqual([]);
    expect(t.events).toEqual([]);
    // Back: the owner tells it (the health monitor probes again), and nothing counts as a restart.
    expect(t.running).toEqual(["jicofo"]);
    expect(t.healer.serviceHint("jicofo")).toEqual({ state: "ok", restarts: 0 });
  });
});

describe("healer with watches", () => {
  it("restores a hand edit from the watch event, well before the periodic pass", async () => {
    const fake = new FakeServiceManager({ jicofo: {} });
    const engine = engineFor(fake);
    await engine.apply(desired(), 1);
    fake.calls.length = 0;
    const events: AgentEvent[] = [];
    const healer = new Healer({
      engine,
      services: fake,
      root,
      accounts: lenientAccounts(),
      log,
      tuning: { intervalMs: 3_600_000, debounceMs: 20 },
    });
    healer.on("event", (e) => events.push(e));
    healer.configure(desired());
    healer.start();
    cleanups.push(() => healer.stop());
    // An editor that rewrites in place, then one that replaces by rename: both are seen.
    await writeFile(path.join(root, CONF), "edited in place\n");
    await waitFor(() => events.length >= 2, {
      what: "in-place edit restored",
      timeoutMs: 10_000,
      intervalMs: 0,
    });
    expect(await readFile(path.join(root, CONF), "utf8")).toContain('"PW"');
    const tmp = path.join(root, "etc/jicofo/.jicofo.conf.swp");
    await writeFile(tmp, "replaced\n");
    const { rename } = await import("node:fs/promises");
    await rename(tmp, path.join(root, CONF));
    await waitFor(() => events.length >= 4, {
      what: "replaced file restored",
      timeoutMs: 10_000,
      intervalMs: 0,
    });
    expect(await readFile(path.join(root, CONF), "utf8")).toContain('"PW"');
    expect(fake.actions).toEqual(["restart jicofo", "restart jicofo"]);
    expect(healer.passes).toBe(0);
  });
});
