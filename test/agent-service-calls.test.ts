// How many rcctl calls the agent makes around a restart, with the daemon, the health monitor and the
// healer wired as main.ts wires them (one service owner shared by all three). The count is the point
// here: the status snapshot and the health probe that follow a restart take the owner's fresh
// observation instead of asking rcctl again. The owner's time moves only by hand (a loaded machine must
// not make an observation stale between the restart and the snapshot, milliseconds later).
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AgentToCoordinator, NodeDesiredInput } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AgentDaemon } from "../packages/agent/src/daemon.js";
import { HealthMonitor } from "../packages/agent/src/health/monitor.js";
import { lenientAccounts } from "../packages/agent/src/reconcile/accounts.js";
import { FakeServiceManager } from "../packages/agent/src/services/fake.js";
import { ServiceLife } from "../packages/agent/src/services/life.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { jicofoConf } from "./helpers/jicofo-desired.js";
import type { Cleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Snapshot = Extract<AgentToCoordinator, { type: "snapshot" }>;

const desired = (conf: string): NodeDesiredInput => ({
  node: "jicofo",
  role: "jicofo",
  files: [jicofoConf(conf)],
  services: [{ name: "jicofo", flags: null, order: 20, graceSeconds: 0 }],
  actions: [],
  health: {
    release: 9646,
    probes: [{ component: "jicofo", service: "jicofo", ports: [] }],
  },
});

async function agent() {
  const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-calls-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, "root");
  await mkdir(root);
  const coord = await fakeCoordinator({ cleanups });
  const fake = new FakeServiceManager({ jicofo: { enabled: true, running: false } });
  let now = 0;
  const services = new ServiceLife(fake, { now: () => now });
  const logger = pino({ level: "silent" });
  const daemon = new AgentDaemon({
    node: "jicofo",
    coordinator: coord.url,
    stateDir: path.join(dir, "state"),
    root,
    services,
    accounts: lenientAccounts(),
    logger,
    // No periodic pass or probe during the test: the healer's pass is run by hand.
    // No wait after finding a service stopped (settleMs): the rcctl calls of the start are the subject here.
    heal: { intervalMs: 3_600_000, watch: false, restart: { settleMs: 0 } },
    health: new HealthMonitor({
      root,
      stateDir: path.join(dir, "state"),
      services,
      logger,
      probeIntervalMs: 3_600_000,
    }),
  });
  await daemon.start();
  cleanups.push(() => daemon.stop());
  await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), { what: "the first snapshot" });
  const snapshots = () => coord.frames.filter((f): f is Snapshot => f.type === "snapshot");
  return { coord, fake, daemon, snapshots, advance: (ms: number) => (now += ms) };
}

describe("rcctl calls around a restart", () => {
  it("an apply that restarts jicofo: the apply's own four, none for the snapshot or the probe", async () => {
    const { coord, fake, snapshots } = await agent();
    coord.send({ type: "desired", id: "d1", generation: 1, desired: desired("jicofo {}\n") });
    await waitFor(() => coord.frames.some((f) => f.type === "apply-result"), { what: "the first apply" });
    await waitFor(() => snapshots().length === 2, { what: "the snapshot after it" });

    fake.calls.length = 0;
    coord.send({ type: "desired", id: "d2", generation: 2, desired: desired("jicofo { a = 1 }\n") });
    await waitFor(() => snapshots().length === 3, { what: "the snapshot after the restart" });
    expect(snapshots()[2]!.status.services).toMatchObject([{ name: "jicofo", running: true }]);
    expect(fake.calls).toEqual(["get jicofo flags", "check jicofo", "restart jicofo", "check jicofo"]);
  });

  it("the healer starts a stopped jicofo: its check, the start and the check after it, and the flags", async () => {
    const { coord, fake, daemon, snapshots, advance } = await agent();
    coord.send({ type: "desired", id: "d1", generation: 1, desired: desired("jicofo {}\n") });
    await waitFor(() => snapshots().length === 2, { what: "the snapshot after the apply" });
    // A minute later: what the apply saw is no longer fresh, so the snapshot asks for the flags again.
    advance(60_000);

    fake.services.get("jicofo")!.running = false;
    fake.calls.length = 0;
    const before = snapshots().length;
    await daemon.healer!.pass();
    await waitFor(() => snapshots().length > before, { what: "the snapshot after the healer's start" });
    expect(snapshots().at(-1)!.status.services).toMatchObject([{ name: "jicofo", running: true }]);
    expect(fake.calls).toEqual(["check jicofo", "start jicofo", "check jicofo", "get jicofo flags"]);
  });
});
