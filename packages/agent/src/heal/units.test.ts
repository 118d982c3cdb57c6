// Each of the healer's units on its own, with a manual clock, the in-memory rcctl (services/fake.ts) and a
// scripted re-apply: what each owns (its timers, its state) and how it talks to the rest. The units
// composed, against the real apply engine: healer.test.ts.
import { EventEmitter } from "node:events";
import type { FSWatcher } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ManualClock } from "@vmmeet/node";
import type { AgentEvent, HealthSignal, NodeDesired, NodeDesiredInput } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { jicofoDesired } from "../../../../test/helpers/jicofo-desired.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import type { HealthEvents } from "../health/source.js";
import { lenientAccounts } from "../reconcile/accounts.js";
import type { ApplyResult } from "../reconcile/apply.js";
import { FakeServiceManager } from "../services/fake.js";
import { ServiceLife } from "../services/life.js";
import { CertificateRenewal } from "./certificate.js";
import { HealContext } from "./context.js";
import { DriftRepair } from "./driftRepair.js";
import type { EnforceOutcome } from "./enforce.js";
import { PeriodicPass } from "./pass.js";
import { RemedyRunner } from "./remedyRunner.js";
import { Restarter } from "./restarter.js";
import { type HealerTuningInput, healerTuning } from "./tuning.js";

const log = pino({ level: "silent" });
const T0 = Date.parse("2026-12-01T12:00:00Z");

const HOSTS = {
  path: "/etc/hosts",
  content: "100.64.2.3 xmpp\n",
  mode: "0644",
  owner: "root",
  group: "wheel",
};

function desired(over: Partial<NodeDesiredInput> = {}): NodeDesired {
  return jicofoDesired(
    [HOSTS],
    {},
    {
      services: [{ name: "jicofo", flags: null, order: 20, graceSeconds: 30 }],
      ...over,
    },
  );
}

function context(
  tuning: HealerTuningInput = {},
  options: { busy?: () => boolean; random?: () => number; fake?: FakeServiceManager } = {},
) {
  const clock = new ManualClock(T0);
  const events: AgentEvent[] = [];
  const fake = options.fake ?? new FakeServiceManager({ jicofo: {} });
  // The service owner on the healer's clock, as the daemon builds them.
  const life = new ServiceLife(fake, { now: () => clock.now() });
  const ctx = new HealContext({
    clock,
    random: options.random ?? (() => 0.5),
    log,
    tuning: healerTuning({ watch: false, ...tuning }),
    life,
    ...(options.busy ? { busy: options.busy } : {}),
    onEvent: (e) => events.push(e),
  });
  ctx.desired = desired();
  return { clock, ctx, events, fake, life };
}

const noChange = (): EnforceOutcome => ({ written: [], restarted: [], failed: [], actions: [] });

describe("HealContext", () => {
  it("stamps events and budgets with the injected clock", () => {
    const { clock, ctx, events } = context();
    ctx.event("repair-file", "degraded", "restored /etc/hosts (missing)", "/etc/hosts");
    expect(events[0]).toEqual({
      at: "2026-12-01T12:00:00.000Z",
      kind: "repair-file",
      label: "degraded",
      message: "restored /etc/hosts (missing)",
      target: "/etc/hosts",
    });
    const runs: number[] = [];
    expect([ctx.allow(runs, 2), ctx.allow(runs, 2), ctx.allow(runs, 2)]).toEqual([true, true, false]);
    ctx.limited("files", "spent");
    ctx.limited("files", "spent");
    expect(events.filter((e) => e.kind === "heal-limited")).toHaveLength(1);
    clock.advance(3_600_000);
    expect(ctx.allow(runs, 2)).toBe(true);
  });

  it("takes each service's grace period from the desired state, its start time from the owner", async () => {
    const { clock, ctx, life } = context();
    expect(ctx.grace("jicofo")).toBe(30_000);
    expect(life.graceMs("jicofo")).toBe(30_000);
    expect(ctx.grace("unknown")).toBe(10_000);
    expect(ctx.inGrace("jicofo")).toBe(false);
    // Anyone's start through the owner (an apply's, the healer's) begins it.
    await life.restart("jicofo");
    clock.advance(29_999);
    expect(ctx.inGrace("jicofo")).toBe(true);
    clock.advance(1);
    expect(ctx.inGrace("jicofo")).toBe(false);
  });
});

describe("Restarter", () => {
  function setup(tuning: HealerTuningInput = {}, fake = new FakeServiceManager({ jicofo: {} })) {
    const c = context(tuning, { fake });
    const told: string[] = [];
    let changes = 0;
    // The service owner tells the health monitor; the test listens where the monitor does.
    c.life.on("starting", (e) =>
      told.push(`started ${e.service} after ${fake.actions.length} rcctl actions`),
    );
    c.life.on("running", (e) => told.push(`running ${e.service}`));
    const restarter = new Restarter({
      ctx: c.ctx,
      onChange: () => {
        changes += 1;
      },
    });
    restarter.configure();
    return { ...c, told, restarter, changes: () => changes };
  }

  it("startAndCheck: announces the start before rcctl runs, then has the running service probed", async () => {
    const t = setup();
    expect(await t.restarter.startAndCheck("jicofo", "restart")).toEqual({ ok: true });
    expect(t.fake.calls).toEqual(["restart jicofo", "check jicofo"]);
    expect(t.told).toEqual(["started jicofo after 0 rcctl actions", "running jicofo"]);
    expect(t.life.startedAt("jicofo")).toBe(T0);
    expect(t.ctx.inGrace("jicofo")).toBe(true);
  });

  it("startAndCheck: a start rcctl reports ok but whose process is gone fails, and is not probed", async () => {
    const t = setup({}, new FakeServiceManager({ jicofo: { startsButCheckFails: true } }));
    const r = await t.restarter.startAndCheck("jicofo", "start");
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/rcctl check finds no process/) });
    expect(t.told).toEqual(["started jicofo after 0 rcctl actions"]);
  });

  it("says when the next attempt is due, gives up after maxAttempts, and starts over on a new desired state", async () => {
    const t = setup({ restart: { initialMs: 1000, maxMs: 4000, maxAttempts: 2 } });
    const svc = t.fake.services.get("jicofo")!;
    svc.startFails = true;
    expect(t.restarter.nextAttemptIn()).toBeUndefined();
    await t.restarter.check();
    expect(t.fake.actions).toEqual(["start jicofo"]);
    expect(t.restarter.nextAttemptIn()).toBe(1000);
    expect(t.restarter.serviceHint("jicofo")).toMatchObject({ state: "backoff", restarts: 0 });
    // Before the time comes: no attempt.
    t.clock.advance(500);
    await t.restarter.check();
    expect(t.fake.actions).toHaveLength(1);
    t.clock.advance(500);
    await t.restarter.check();
    expect(t.fake.actions).toHaveLength(2);
    t.clock.advance(10_000);
    await t.restarter.check();
    expect(t.events.map((e) => e.kind)).toEqual(["repair-service", "repair-service", "service-failed"]);
    expect(t.restarter.nextAttemptIn()).toBeUndefined();
    expect(t.restarter.serviceHint("jicofo")?.state).toBe("failed");
    expect(t.changes()).toBeGreaterThanOrEqual(2);
    // A new desired state may fix it: attempts again.
    svc.startFails = false;
    t.restarter.configure();
    await t.restarter.check();
    expect(t.fake.actions.at(-1)).toBe("start jicofo");
    expect(t.restarter.serviceHint("jicofo")).toMatchObject({ state: "starting", restarts: 1 });
  });

  it("does nothing after stop(), and while the daemon applies", async () => {
    let busy = true;
    const c = context({}, { busy: () => busy });
    const restarter = new Restarter({ ctx: c.ctx });
    restarter.configure();
    await restarter.check();
    expect(c.fake.calls).toEqual([]);
    busy = false;
    restarter.stop();
    await restarter.check();
    expect(c.fake.calls).toEqual([]);
  });

  it("restartService: queued, reported with its reason", async () => {
    const t = setup({}, new FakeServiceManager({ jicofo: { running: true } }));
    expect(await t.restarter.restartService("jicofo", "the coordinator asked")).toBe(true);
    expect(t.events.map((e) => e.message)).toEqual(["restarted jicofo: the coordinator asked"]);
  });
});

describe("PeriodicPass", () => {
  it("arms one timer with jitter, brought forward by what is due, none while stopped", async () => {
    const c = context({ intervalMs: 10_000, jitter: 0.2 }, { random: () => 1 });
    let runs = 0;
    let due: number | undefined;
    const pass = new PeriodicPass({
      ctx: c.ctx,
      run: async () => {
        runs += 1;
      },
      dueIn: () => due,
      logLine: "test pass",
    });
    expect(c.clock.pending).toBe(0);
    pass.start();
    expect(c.clock.pending).toBe(1);
    // random() = 1: the full +20 %.
    expect(c.clock.nextAt).toBe(T0 + 12_000);
    due = 3000;
    c.clock.advance(12_000);
    await waitFor(() => pass.passes === 1 && c.clock.pending === 1, { what: "re-armed", intervalMs: 0 });
    expect(runs).toBe(1);
    expect(c.clock.nextAt).toBe(c.clock.now() + 3000);
    pass.stop();
    expect(c.clock.pending).toBe(0);
    await pass.now();
    expect(runs).toBe(1);
  });

  it("skips a pass while the daemon applies or before a desired state", async () => {
    let busy = true;
    const c = context({}, { busy: () => busy });
    let runs = 0;
    const pass = new PeriodicPass({
      ctx: c.ctx,
      run: async () => {
        runs += 1;
      },
      logLine: "test pass",
    });
    await pass.now();
    busy = false;
    c.ctx.desired = null;
    await pass.now();
    expect([runs, pass.passes]).toEqual([0, 0]);
    c.ctx.desired = desired();
    await pass.now();
    expect([runs, pass.passes]).toEqual([1, 1]);
  });

  it("does not poll an apply in progress for what is due: a second later at the soonest", async () => {
    const c = context({ intervalMs: 10_000, jitter: 0 }, { busy: () => true });
    const pass = new PeriodicPass({ ctx: c.ctx, run: async () => {}, dueIn: () => 0, logLine: "test pass" });
    pass.start();
    expect(c.clock.nextAt).toBe(T0 + 20);
    c.clock.advance(20);
    await waitFor(() => c.clock.pending === 1 && c.clock.nextAt !== T0 + 20, {
      what: "re-armed",
      intervalMs: 0,
    });
    expect(c.clock.nextAt).toBe(T0 + 20 + 1000);
    pass.stop();
  });
});

describe("CertificateRenewal", () => {
  const ACME: NodeDesiredInput["actions"] = [
    {
      kind: "acme-certificate",
      domain: "meet.example.org",
      certificate: "/etc/ssl/meet.example.org.fullchain.pem",
      key: "/etc/ssl/private/meet.example.org.key",
      challengeDir: "/var/www/acme",
      renewBeforeDays: 30,
    },
  ];
  const item = (status: "done" | "skipped" | "failed"): ApplyResult["actions"][number] => ({
    kind: "action",
    action: "acme-certificate",
    target: "meet.example.org",
    status,
    detail: status,
  });

  it("arms nothing without an acme-certificate action", () => {
    const c = context();
    const cert = new CertificateRenewal({ ctx: c.ctx, enforce: async () => noChange() });
    cert.start();
    expect(c.clock.pending).toBe(0);
  });

  it("checks after the retry delay, again sooner after a failure, at the interval after a renewal", async () => {
    const c = context({ certificateRetryMs: 1000, certificateIntervalMs: 50_000, jitter: 0 });
    c.ctx.desired = desired({ role: "web", node: "web", services: [], actions: ACME });
    const outcomes = [item("failed"), item("done")];
    const cert = new CertificateRenewal({
      ctx: c.ctx,
      enforce: async () => ({ ...noChange(), actions: [outcomes.shift() ?? item("skipped")] }),
    });
    cert.start();
    expect(c.clock.nextAt).toBe(T0 + 1000);
    c.clock.advance(1000);
    await waitFor(() => cert.checks === 1, { what: "the first check", intervalMs: 0 });
    expect(c.events.map((e) => `${e.kind} ${e.label}`)).toEqual(["certificate-pending failed"]);
    expect(c.clock.nextAt).toBe(c.clock.now() + 1000);
    c.clock.advance(1000);
    await waitFor(() => cert.checks === 2, { what: "the retry", intervalMs: 0 });
    expect(c.events.at(-1)).toMatchObject({ kind: "certificate-renewed", label: "healthy" });
    expect(c.clock.nextAt).toBe(c.clock.now() + 50_000);
    cert.stop();
    expect(c.clock.pending).toBe(0);
  });
});

describe("RemedyRunner", () => {
  const failed = (name: string): HealthSignal => ({
    component: "jicofo",
    signal: name,
    label: "failed",
    explain: "test",
    at: new Date(T0).toISOString(),
  });

  function setup() {
    const c = context({ graceMs: 5000 });
    const health = new EventEmitter<HealthEvents>();
    const restarts: string[] = [];
    const runner = new RemedyRunner({
      ctx: c.ctx,
      health,
      enforce: async () => noChange(),
      restart: async (service) => {
        restarts.push(service);
        return { ok: true };
      },
    });
    return { ...c, runner, restarts, health, emit: (s: HealthSignal) => health.emit("signal", s) };
  }

  it("hears the health's signals once started; waits on the clock for a cure, then restarts", async () => {
    const t = setup();
    t.emit(failed("xmpp-not-connected"));
    expect(t.clock.pending).toBe(0);
    t.runner.start();
    t.emit(failed("xmpp-not-connected"));
    expect(t.clock.pending).toBe(1);
    t.clock.advance(5000);
    await waitFor(() => t.events.some((e) => e.kind === "remedy-reconnect"), {
      what: "remedy",
      intervalMs: 0,
    });
    expect(t.restarts).toEqual(["jicofo"]);
    expect(t.events.at(-1)!.at).toBe(new Date(T0 + 5000).toISOString());
  });

  it("leaves a service inside its grace period alone; stop() ends a wait as not cured", async () => {
    const t = setup();
    t.runner.start();
    await t.life.restart("jicofo");
    t.emit(failed("xmpp-not-connected"));
    expect(t.clock.pending).toBe(0);
    t.clock.advance(5000);
    t.emit(failed("xmpp-not-connected"));
    expect(t.clock.pending).toBe(1);
    expect(t.health.listenerCount("signal")).toBe(1);
    t.runner.stop();
    await t.runner.settled();
    expect(t.health.listenerCount("signal")).toBe(0);
    expect(t.clock.pending).toBe(0);
    t.emit(failed("xmpp-not-connected"));
    expect(t.clock.pending).toBe(0);
    expect(t.restarts).toEqual([]);
    expect(t.events).toEqual([]);
  });
});

describe("DriftRepair", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  /** fs.watch stand-in: the test fires the events a platform would. */
  function fakeWatch() {
    const listeners = new Map<string, (event: string, name: string | null) => void>();
    const watchImpl = ((target: string, _o: unknown, listener: (e: string, n: string | null) => void) => {
      listeners.set(String(target), listener);
      const w = new EventEmitter() as EventEmitter & { close: () => void };
      w.close = () => listeners.delete(String(target));
      return w as unknown as FSWatcher;
    }) as unknown as typeof import("node:fs").watch;
    return { listeners, watchImpl };
  }

  it("compares after a watch event once the debounce has passed on the clock, and restores", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-drift-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    await mkdir(path.join(dir, "etc"));
    const c = context({ watch: true, debounceMs: 250 });
    const w = fakeWatch();
    let enforced = 0;
    const drift = new DriftRepair({
      ctx: c.ctx,
      root: dir,
      accounts: lenientAccounts(),
      watchImpl: w.watchImpl,
      engine: {
        enforce: async () => {
          await writeFile(path.join(dir, "etc/hosts"), "100.64.2.3 xmpp\n", { mode: 0o644 });
          enforced += 1;
          return null;
        },
      },
    });
    drift.start();
    expect([...w.listeners.keys()].sort()).toEqual([path.join(dir, "etc"), path.join(dir, "etc/hosts")]);
    // Its own periodic compare, at the interval.
    expect([c.clock.pending, c.clock.nextAt]).toEqual([1, T0 + 15_000]);
    w.listeners.get(path.join(dir, "etc"))!("rename", "hosts");
    expect([c.clock.pending, c.clock.nextAt]).toEqual([2, T0 + 250]);
    c.clock.advance(249);
    expect(enforced).toBe(0);
    c.clock.advance(1);
    await waitFor(() => enforced === 1, { what: "the restore", intervalMs: 0 });
    // Restored: the periodic compare finds nothing to do.
    await drift.periodic();
    expect(enforced).toBe(1);
    drift.stop();
    expect(w.listeners.size).toBe(0);
    expect(c.clock.pending).toBe(0);
  });
});
