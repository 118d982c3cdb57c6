import { once } from "node:events";
import { appendFile, mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { ManualClock } from "@vmmeet/node";
import { NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../../../../test/helpers/wait.js";
import { FakeServiceManager } from "../services/fake.js";
import { ServiceLife } from "../services/life.js";
import { HealthMonitor, SETTLE_PROBE_MS } from "./monitor.js";
import { JsonFileOffsetStore } from "./offsetStore.js";
import type { ProbeOptions } from "./probes.js";

const dirs: string[] = [];
const monitors: HealthMonitor[] = [];
afterEach(async () => {
  for (const m of monitors.splice(0)) await m.stop();
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const jicofoDesired = NodeDesired.parse({
  node: "jicofo",
  role: "jicofo",
  files: [],
  services: [{ name: "jicofo", flags: "--host=jts.fips.de", order: 20, graceSeconds: 0 }],
  actions: [],
  health: {
    release: 7648,
    logs: [
      { component: "jicofo", path: "/var/log/jicofo" },
      { component: "jicofo", path: "/var/log/daemon", tag: "jicofo" },
    ],
    probes: [{ component: "jicofo", service: "jicofo", ports: [] }],
  },
});

/** The VM's clock of every monitor here: its probe rounds come only when a test moves it. */
const VM_TIME = Date.parse("2023-03-01T12:00:00.000Z");

async function setup(
  options: {
    ownLog?: boolean;
    probeIntervalMs?: number;
    dir?: string;
    now?: () => number;
    probe?: ProbeOptions;
  } = {},
) {
  const dir = options.dir ?? (await mkdtemp(path.join(os.tmpdir(), "vmmeet-monitor-")));
  if (!options.dir) dirs.push(dir);
  const root = path.join(dir, "root");
  await mkdir(path.join(root, "var/log"), { recursive: true });
  if (options.ownLog ?? true) await appendFile(path.join(root, "var/log/jicofo"), "");
  await appendFile(path.join(root, "var/log/daemon"), "");
  const services = new FakeServiceManager({ jicofo: { enabled: true, running: true } });
  // Every probe asks rcctl (no observation stays fresh) unless the test drives the owner's time itself:
  // the tests count probes by their checks.
  const life = new ServiceLife(services, options.now ? { now: options.now } : { freshMs: 0 });
  const clock = new ManualClock(VM_TIME);
  const m = new HealthMonitor({
    root,
    stateDir: path.join(dir, "state"),
    services: life,
    logger: pino({ level: "silent" }),
    pollIntervalMs: 20,
    clock,
    ...(options.probeIntervalMs ? { probeIntervalMs: options.probeIntervalMs } : {}),
    ...(options.probe ? { probe: options.probe } : {}),
    ownLogCacheMs: 0,
  });
  monitors.push(m);
  let changes = 0;
  m.on("change", () => {
    changes += 1;
  });
  await m.configure(jicofoDesired);
  /** Where the monitor's tailer of `file` has read to, as it saved it (after handing the lines on). */
  const readTo = async (file: string) =>
    (await new JsonFileOffsetStore(path.join(dir, "state", "log-offsets.json")).load(path.join(root, file)))
      ?.offset ?? -1;
  /** rcctl checks of jicofo: one per probe round (and one per action of the owner). */
  const checks = () => services.calls.filter((c) => c === "check jicofo").length;
  return { dir, root, m, services, life, clock, checks, changes: () => changes, readTo };
}

const added =
  "Jicofo 2022-09-16 14:45:24.260 INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.addInstance#341: Added brewery instance: jvbbrewery@internal.auth.jts.fips.de/jvb";
const removed =
  "Jicofo 2022-09-16 14:50:24.260 INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.removeInstance#380: Removed brewery instance: jvbbrewery@internal.auth.jts.fips.de/jvb";

/** Writes "Added brewery instance" to jicofo's own log; jicofo's report once the monitor has the bridge. */
async function bridgeAdded(t: Awaited<ReturnType<typeof setup>>) {
  await appendFile(path.join(t.root, "var/log/jicofo"), `${added}\n`);
  return waitFor(
    () => t.m.components().find((c) => c.component === "jicofo" && (c.bridges?.length ?? 0) > 0),
    { what: "bridge seen" },
  );
}

describe("HealthMonitor", () => {
  it("turns jicofo's log into the bridges of its brewery, and reports the change", async () => {
    const t = await setup();
    const report = await bridgeAdded(t);
    expect(report.bridges?.join()).toMatch(/jvb/);
    expect(t.changes()).toBeGreaterThan(0);
    await appendFile(path.join(t.root, "var/log/jicofo"), `${removed}\n`);
    await waitFor(() => t.m.components().find((c) => c.component === "jicofo" && c.bridges?.length === 0), {
      what: "bridge gone",
    });
  });

  it("reads a shared syslog file only for the component's tag and never reports raw lines", async () => {
    // No /var/log/jicofo (no syslog program block yet): /var/log/daemon is where jicofo's lines are.
    const t = await setup({ ownLog: false });
    const other = `Sep 16 14:45:24 jicofo jvb[4242]: ${added}`;
    await appendFile(path.join(t.root, "var/log/daemon"), `${other}\n`);
    await t.m.probeNow();
    expect(t.m.components()[0]?.bridges ?? []).toEqual([]);
    await appendFile(path.join(t.root, "var/log/daemon"), `Sep 16 14:45:25 jicofo jicofo[4243]: ${added}\n`);
    const report = await waitFor(() => t.m.components().find((c) => (c.bridges?.length ?? 0) > 0), {
      what: "tagged line used",
    });
    expect(JSON.stringify(report)).not.toContain("BaseBrewery.addInstance");
  });
});

describe("HealthMonitor across a restart of the agent", () => {
  const jicofo = (m: HealthMonitor) => m.components().find((c) => c.component === "jicofo");

  it("keeps jicofo's brewery with the log offsets: a new monitor knows it before reading a line", async () => {
    const first = await setup();
    await appendFile(path.join(first.root, "var/log/jicofo"), `${added}\n`);
    const seen = await waitFor(() => (jicofo(first.m)?.bridges?.length ? jicofo(first.m) : null), {
      what: "bridge seen",
    });
    await first.m.stop();
    // The new process resumes the tailer at its kept offset: the "Added brewery instance" line is behind it.
    const second = await setup({ dir: first.dir });
    expect(jicofo(second.m)?.bridges).toEqual(["jvb"]);
    expect(jicofo(second.m)?.bridgesSince).toEqual(seen?.bridgesSince);
    expect(jicofo(second.m)?.state).not.toBe("failed");
    // Trackers built again for a new desired state (another probe) keep it too.
    await second.m.configure(
      NodeDesired.parse({
        ...jicofoDesired,
        health: {
          ...jicofoDesired.health,
          probes: [{ component: "jicofo", service: "jicofo", ports: [8888] }],
        },
      }),
    );
    expect(jicofo(second.m)?.bridges).toEqual(["jvb"]);
    // A removal read after the restart is kept as well.
    await appendFile(path.join(first.root, "var/log/jicofo"), `${removed}\n`);
    await waitFor(() => jicofo(second.m)?.bridges?.length === 0, { what: "bridge gone" });
    await second.m.stop();
    const third = await setup({ dir: first.dir });
    expect(jicofo(third.m)?.bridges).toEqual([]);
  });
});

/**
 * Lets a probe round whose check has answered end. It has no ports to try, so the rest of the round is
 * promise callbacks, which all run before the next turn of the event loop (one still running would absorb
 * the next round the test asks for).
 */
const roundOver = () => new Promise<void>((r) => setImmediate(r));

/** A monitor whose first probe round (configure's) is over: the tests below count the rounds after it. */
async function probed(options: { now?: () => number; probe?: ProbeOptions } = {}) {
  const t = await setup(options);
  await waitFor(() => t.checks() === 1, { what: "the first probe" });
  await roundOver();
  return t;
}

describe("HealthMonitor and the service owner", () => {
  it("begins the grace period when the owner starts the service, and probes once it runs", async () => {
    const t = await probed();
    const graced = jicofoDesired.services.map((s) => ({ ...s, graceSeconds: 3600 }));
    await t.m.configure({ ...jicofoDesired, services: graced });
    await waitFor(() => t.checks() === 2, { what: "the probe of the new trackers" });
    await roundOver();
    await t.life.restart("jicofo");
    // The restart's own check, then the probe the running event asked for.
    await waitFor(() => t.checks() === 4, { what: "the probe after the restart" });
    await waitFor(() => t.m.components()[0]?.state === "starting", { what: "the grace period" });
    expect(t.m.components()[0]?.explain).toMatch(/\(re\)started .* ago/);
  });

  it("reports a service the owner's check finds gone without waiting for the probe interval", async () => {
    const t = await probed();
    t.services.services.get("jicofo")!.running = false;
    // The healer's pass, say: its check is the owner's, and the owner says the service stopped.
    await t.life.check("jicofo");
    await waitFor(() => /jicofo is not running/.test(t.m.components()[0]?.explain ?? ""), {
      what: "jicofo reported not running",
    });
  });
});

describe("HealthMonitor after a start", () => {
  it("probes a starting component again a second later while its port refuses, and stops once it answers", async () => {
    // jicofo's REST port, as jicofo's probe has it; where it "is" on this machine is decided by the test.
    let listening: number | undefined;
    const t = await probed({ probe: { mapPort: () => listening } });
    const desired = {
      ...jicofoDesired,
      services: jicofoDesired.services.map((s) => ({ ...s, graceSeconds: 3600 })),
      health: {
        ...jicofoDesired.health,
        probes: [{ component: "jicofo" as const, service: "jicofo", ports: [8888] }],
      },
    };
    await t.m.configure(desired);
    await waitFor(() => t.checks() === 2, { what: "the probe of the new trackers" });
    await waitFor(() => t.clock.pending === 1, { what: "that round over" });
    // Started: rcctl says it runs, but the port does not answer yet.
    await t.life.restart("jicofo");
    await waitFor(() => t.clock.pending === 2, { what: "a follow-up round armed by the refused port" });
    const before = t.checks();
    // It keeps refusing: a round each second, not one per probe interval.
    t.clock.advance(SETTLE_PROBE_MS);
    await waitFor(() => t.checks() === before + 1 && t.clock.pending === 2, {
      what: "the second-later round",
    });
    const server = net.createServer((socket) => socket.destroy()).listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      listening = (server.address() as net.AddressInfo).port;
      t.clock.advance(SETTLE_PROBE_MS);
      await waitFor(() => t.checks() === before + 2, { what: "the round that finds the port open" });
      // Answered: back to the probe interval alone.
      await waitFor(() => t.clock.pending === 1, { what: "no follow-up after the port answered" });
      t.clock.advance(SETTLE_PROBE_MS * 3);
      await roundOver();
      expect(t.checks()).toBe(before + 2);
    } finally {
      server.close();
    }
  });
});

describe("HealthMonitor fallback log", () => {
  it("probes when its configuration is new, not when a push brings the same one again", async () => {
    // The monitor's clock stands still: every `rcctl check` here comes from configure().
    const t = await probed();
    await t.m.configure(jicofoDesired);
    // A negative without a sleep: a round's first step is its rcctl check, and configure() starts its round
    // before it returns, so a probe it started would already be counted here.
    expect(t.checks()).toBe(1);
    const changed = NodeDesired.parse({
      ...jicofoDesired,
      health: {
        ...jicofoDesired.health,
        probes: [{ component: "jicofo", service: "jicofo", ports: [8888] }],
      },
    });
    await t.m.configure(changed);
    await waitFor(() => t.checks() === 2, { what: "a probe of the new configuration" });
  });

  it("takes the owner's fresh observation instead of asking rcctl", async () => {
    let now = 1_000_000;
    const t = await probed({ now: () => now });
    // Within the owner's freshness the first probe's check answers again.
    await t.m.probeNow();
    expect(t.checks()).toBe(1);
    // Once it is old, rcctl is asked.
    now += 60_000;
    await t.m.probeNow();
    expect(t.checks()).toBe(2);
  });

  it("runs a round asked for during one after it", async () => {
    const t = await probed();
    // Asked twice at once: the second comes while the first round waits for rcctl; it runs after it.
    const first = t.m.probeNow();
    await t.m.probeNow();
    await first;
    expect(t.checks()).toBe(3);
  });

  it("ignores /var/log/daemon while the component's own log exists (syslogd writes both)", async () => {
    const t = await setup();
    const { rm: remove } = await import("node:fs/promises");
    // With /var/log/jicofo present, a tagged line in /var/log/daemon is a duplicate: not counted.
    // Two records: a used first one would be complete (and counted) once the second begins, not a second later.
    const tagged = (second: number) => `Sep 16 14:45:${second} jicofo jicofo[4243]: ${added}\n`;
    await appendFile(path.join(t.root, "var/log/daemon"), tagged(24) + tagged(25));
    // A negative without a sleep: the tailer saves its offset after it has handed the lines on.
    const size = (await stat(path.join(t.root, "var/log/daemon"))).size;
    await waitFor(async () => (await t.readTo("/var/log/daemon")) === size, {
      what: "the tailer of /var/log/daemon to read the line",
    });
    await t.m.probeNow();
    expect(t.m.components()[0]?.bridges ?? []).toEqual([]);
    // Without it (no program block yet), /var/log/daemon is where jicofo's lines are.
    await remove(path.join(t.root, "var/log/jicofo"));
    await appendFile(path.join(t.root, "var/log/daemon"), `Sep 16 14:45:26 jicofo jicofo[4243]: ${added}\n`);
    await waitFor(() => t.m.components().find((c) => (c.bridges?.length ?? 0) > 0), {
      what: "fallback used",
    });
  });
});

describe("HealthMonitor on its clock", () => {
  it("probes once per interval of its clock, and leaves no timer armed after stop", async () => {
    const t = await probed();
    expect(t.clock.pending).toBe(1);
    // One millisecond short of the interval (15 s by default): no round.
    t.clock.advance(14_999);
    await roundOver();
    expect(t.checks()).toBe(1);
    t.clock.advance(1);
    await waitFor(() => t.checks() === 2, { what: "the round of the first interval" });
    await roundOver();
    t.clock.advance(15_000);
    await waitFor(() => t.checks() === 3, { what: "the round of the second interval" });
    await t.m.stop();
    expect(t.clock.pending).toBe(0);
  });

  it("stamps the signals it reads with the VM's clock, not the machine's", async () => {
    const t = await setup();
    const report = await bridgeAdded(t);
    const vmTime = new Date(VM_TIME).toISOString();
    expect(report.bridgesSince).toEqual({ jvb: vmTime });
    expect(report.signals.map((s) => s.at)).toContain(vmTime);
  });
});
