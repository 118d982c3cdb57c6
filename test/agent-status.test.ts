// How the agent reports health over a real ws link: what a rollout gate reads (a component's state,
// jicofo's bridges) goes out at once, the rest of a burst waits for the 250 ms throttle. The daemon runs in
// this process with a hand-driven clock for its throttles and a scripted health source, so "at once" means
// "without the clock moving", not a timed assertion.
import { EventEmitter } from "node:events";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { ManualClock, sha256 } from "@vmmeet/node";
import {
  type AgentToCoordinator,
  type ComponentHealth,
  NodeDesired,
  type NodeDesiredInput,
} from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AgentDaemon, type HealthSource } from "../packages/agent/src/daemon.js";
import type { HealthEvents } from "../packages/agent/src/health/source.js";
import { lenientAccounts } from "../packages/agent/src/reconcile/accounts.js";
import { FakeServiceManager } from "../packages/agent/src/services/fake.js";
import { ServiceLife } from "../packages/agent/src/services/life.js";
import { fileStates } from "../packages/agent/src/status.js";
import { type FakeCoordinator, fakeCoordinator } from "./helpers/fake-coordinator.js";
import { jicofoConf } from "./helpers/jicofo-desired.js";
import type { Cleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A health source the test sets by hand; change() is what the monitor does after a signal. Given the
 * service owner, it probes as the monitor does when a service runs again: asking the owner whether
 * jicofo runs, and noting which rcctl calls that question cost.
 */
class ScriptedHealth extends EventEmitter<HealthEvents> implements HealthSource {
  current: ComponentHealth[] = [];
  probes = 0;
  /** Per probe, the rcctl calls its question made. */
  probeCalls: string[][] = [];
  follow(life: ServiceLife, services: FakeServiceManager): void {
    life.on("running", () => {
      this.probes += 1;
      const before = services.calls.length;
      void life.running("jicofo").then(() => this.probeCalls.push(services.calls.slice(before)));
    });
  }
  async configure(): Promise<void> {}
  components(): ComponentHealth[] {
    return this.current;
  }
  serviceHint() {
    return undefined;
  }
  async stop(): Promise<void> {}
  set(c: Partial<ComponentHealth>): void {
    this.current = [
      {
        component: "jicofo",
        state: "starting",
        explain: "",
        since: "2026-11-21T08:00:00.000Z",
        signals: [],
        ...c,
      },
    ];
    this.emit("change");
  }
}

type StatusFrame = Extract<AgentToCoordinator, { type: "status" }>;
const statuses = (frames: AgentToCoordinator[]) =>
  frames.filter((f): f is StatusFrame => f.type === "status");

describe("agent status frames", () => {
  it("send gate changes at once and throttle the rest of a burst", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-status-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const coord = await fakeCoordinator({ cleanups });
    const clock = new ManualClock(0);
    const health = new ScriptedHealth();
    const agent = new AgentDaemon({
      node: "jicofo",
      coordinator: coord.url,
      stateDir: path.join(dir, "state"),
      root: path.join(dir, "root"),
      services: new FakeServiceManager(),
      accounts: lenientAccounts(),
      logger: pino({ level: "silent" }),
      health,
      heal: false,
      clock,
    });
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), { what: "the first snapshot" });
    let syncs = 0;
    /** Everything the agent sent before a snapshot it sends on request has arrived (one ordered link). */
    const sync = async () => {
      const id = `sync-${++syncs}`;
      coord.send({ type: "snapshot-request", id });
      await waitFor(() => coord.frames.some((f) => f.type === "snapshot" && f.replyTo === id), { what: id });
    };

    health.set({ state: "starting", explain: "jicofo is starting" });
    await waitFor(() => statuses(coord.frames).length === 1, { what: "the first change, at once" });

    // Only the explanation changes: held until the throttle's 250 ms have passed.
    health.set({ state: "starting", explain: "jicofo is starting (still)" });
    await sync();
    expect(statuses(coord.frames)).toHaveLength(1);

    // A bridge joins jicofo's brewery: the brewery gate reads that, so it is sent without the clock moving,
    // carrying the held explanation with it.
    health.set({
      state: "healthy",
      explain: "1 bridge",
      bridges: ["jvb1"],
      bridgesSince: { jvb1: "2026-11-21T08:00:01.000Z" },
    });
    await waitFor(() => statuses(coord.frames).length === 2, { what: "the gate change, at once" });
    const second = statuses(coord.frames)[1]!.status.health?.[0];
    expect(second).toMatchObject({ state: "healthy", bridges: ["jvb1"] });

    // The held frame was folded into that one: nothing more when the interval ends.
    clock.advance(1_000);
    await sync();
    expect(statuses(coord.frames)).toHaveLength(2);

    // After the interval, a cosmetic change goes out at once again (leading edge), the next one is held
    // until the clock reaches the end of the interval.
    health.set({ state: "healthy", explain: "1 bridge, 0 conferences" });
    await waitFor(() => statuses(coord.frames).length === 3, { what: "a change after a quiet spell" });
    health.set({ state: "healthy", explain: "1 bridge, 1 conference" });
    await sync();
    expect(statuses(coord.frames)).toHaveLength(3);
    clock.advance(250);
    await waitFor(() => statuses(coord.frames).length === 4, {
      what: "the held change at the interval's end",
    });
    expect(statuses(coord.frames)[3]!.status.health?.[0]?.explain).toBe("1 bridge, 1 conference");
  });
});

describe("after an apply", () => {
  const desired = (conf: string): NodeDesiredInput => ({
    node: "jicofo",
    role: "jicofo",
    files: [jicofoConf(conf)],
    services: [{ name: "jicofo", flags: null, order: 20 }],
    actions: [],
    health: { release: 9646 },
  });

  /** A connected daemon on a temp root with the scripted health source, after its first snapshot. */
  async function connected(
    services: FakeServiceManager,
    heal: ConstructorParameters<typeof AgentDaemon>[0]["heal"],
  ) {
    const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-status-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const coord = await fakeCoordinator({ cleanups });
    const health = new ScriptedHealth();
    const root = path.join(dir, "root");
    await mkdir(root);
    // The owner the daemon and the health source share; its time stands still, so what it saw stays
    // fresh (the snapshot right after an apply takes milliseconds, this keeps a loaded machine out of it).
    const clock = new ManualClock(0);
    const life = new ServiceLife(services, { now: () => clock.now() });
    health.follow(life, services);
    const agent = new AgentDaemon({
      node: "jicofo",
      coordinator: coord.url,
      stateDir: path.join(dir, "state"),
      root,
      services: life,
      accounts: lenientAccounts(),
      logger: pino({ level: "silent" }),
      health,
      heal,
      clock,
    });
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), { what: "the first snapshot" });
    return { coord, health, root };
  }

  /** Sends a desired state; returns the status of the snapshot the daemon sends after the apply's result. */
  async function applied(coord: FakeCoordinator, generation: number, d: NodeDesiredInput) {
    coord.send({ type: "desired", id: `d${generation}`, generation, desired: d });
    const after = () => {
      const i = coord.frames.findIndex((f) => f.type === "apply-result" && f.replyTo === `d${generation}`);
      return i < 0 ? undefined : coord.frames.slice(i + 1).find((f) => f.type === "snapshot");
    };
    const snap = await waitFor(after, { what: `the snapshot after generation ${generation}` });
    return (snap as Extract<AgentToCoordinator, { type: "snapshot" }>).status;
  }

  it("snapshots what the apply left without asking again, and probes only after a (re)start", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, running: false } });
    const { coord, health, root } = await connected(services, false);
    const apply = async (generation: number, conf: string) => {
      services.calls.length = 0;
      return applied(coord, generation, desired(conf));
    };

    // jicofo was stopped: started, then probed at once.
    const first = await apply(1, "jicofo {}\n");
    expect(services.actions).toEqual(["start jicofo"]);
    expect(health.probes).toBe(1);
    // The owner's check after the start answers the probe: it need not ask rcctl again.
    await waitFor(() => health.probeCalls.length === 1, { what: "the probe's answer" });
    expect(health.probeCalls).toEqual([[]]);
    // Every rcctl call came from the apply itself (get flags, check, start, check): none for the snapshot.
    // The count is the point here: the snapshot and the probe cost no rcctl call.
    expect(services.calls).toEqual(["get jicofo flags", "check jicofo", "start jicofo", "check jicofo"]);
    const d1 = NodeDesired.parse(desired("jicofo {}\n"));
    expect(first.files).toEqual(await fileStates(d1, root, lenientAccounts()));
    expect(first.services).toMatchObject([{ name: "jicofo", enabled: true, running: true, flags: "" }]);

    // The same state again: nothing (re)started, nothing probed.
    await apply(2, "jicofo {}\n");
    expect(services.actions).toEqual([]);
    expect(health.probes).toBe(1);

    // A changed file restarts jicofo: probed again.
    await apply(3, "jicofo { xmpp {} }\n");
    expect(services.actions).toEqual(["restart jicofo"]);
    expect(health.probes).toBe(2);
  });

  it("reports the files after an apply as the apply left them, without reading them again", async () => {
    // This jicofo rewrites its config when it starts: the file differs from what the apply wrote by the
    // time the daemon builds the snapshot. The snapshot after the apply still reports what the apply
    // wrote, so it did not read the file again; a snapshot asked for later reads the disk.
    class Rewriting extends FakeServiceManager {
      file = "";
      override async start(name: string) {
        const r = await super.start(name);
        await writeFile(this.file, "rewritten by jicofo\n");
        return r;
      }
    }
    const services = new Rewriting({ jicofo: { enabled: true, running: false } });
    const { coord, root } = await connected(services, false);
    services.file = path.join(root, "etc/jicofo/jicofo.conf");
    const after = await applied(coord, 1, desired("jicofo {}\n"));
    expect(services.actions).toEqual(["start jicofo"]);
    expect(after.files[0]?.sha256).toBe(sha256(Buffer.from("jicofo {}\n")));
    coord.send({ type: "snapshot-request", id: "later" });
    const later = await waitFor(
      () =>
        coord.frames.find(
          (f): f is Extract<AgentToCoordinator, { type: "snapshot" }> =>
            f.type === "snapshot" && f.replyTo === "later",
        ),
      { what: "the snapshot asked for" },
    );
    expect(later.status.files[0]?.sha256).toBe(sha256(Buffer.from("rewritten by jicofo\n")));
  });

  it("probes a service the healer started again, with the healer's check", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, running: true } });
    // A heal pass every 50 ms (real time): the killed service is noticed at once.
    const { coord, health } = await connected(services, { intervalMs: 50, jitter: 0, watch: false });
    coord.send({ type: "desired", id: "d1", generation: 1, desired: desired("jicofo {}\n") });
    await waitFor(() => coord.frames.some((f) => f.type === "apply-result"), { what: "the apply's result" });
    const before = health.probes;
    // jicofo dies: the healer starts it again, and its component is probed right after.
    services.services.get("jicofo")!.running = false;
    await waitFor(() => services.actions.includes("start jicofo"), { what: "the healer's start" });
    await waitFor(() => health.probes > before, { what: "the probe after it" });
    await waitFor(() => health.probeCalls.length === health.probes, { what: "the probe's answer" });
    expect(health.probeCalls.at(-1)).toEqual([]);
  });
});
