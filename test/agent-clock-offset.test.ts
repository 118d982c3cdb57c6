// An agent whose VM clock is off (vmmeet-agent --clock-offset, AgentDaemonOptions.now) reads that clock
// everywhere it stamps or schedules by wall time, not only in what the transport reports: the healer's
// events and pf's confirm deadline are on the VM's clock too. The daemon runs in this process against a
// real ws server on port 0, with the in-memory rcctl and the pfctl test double.
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type AgentToCoordinator, NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AgentDaemon } from "../packages/agent/src/daemon.js";
import { lenientAccounts } from "../packages/agent/src/reconcile/accounts.js";
import { FakeServiceManager } from "../packages/agent/src/services/fake.js";
import { makePfctl } from "./doubles/pfctl/index.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import type { Cleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Two days ahead: far beyond anything the test's own run time could explain. */
const OFFSET_MS = 2 * 86_400_000;
/** Half the offset: a time this far ahead of the machine's clock was read from the VM's clock. */
const AHEAD_MS = OFFSET_MS / 2;

type EventFrame = Extract<AgentToCoordinator, { type: "event" }>;

describe("an agent whose clock is two days ahead (--clock-offset)", () => {
  it("stamps the healer's events and sets pf's confirm deadline on its own clock", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-clockoff-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const root = path.join(dir, "root");
    await mkdir(root);
    const stateDir = path.join(dir, "state");
    const coord = await fakeCoordinator({ cleanups });
    const services = new FakeServiceManager({ jicofo: { enabled: true, running: true } });
    const agent = new AgentDaemon({
      node: "jicofo",
      coordinator: coord.url,
      stateDir,
      root,
      services,
      accounts: lenientAccounts(),
      logger: pino({ level: process.env.DBG ? "debug" : "silent" }),
      pfctl: await makePfctl(root),
      // A heal pass every 50 ms (real time): the stopped service is noticed at once.
      heal: { intervalMs: 50, jitter: 0, watch: false },
      now: () => Date.now() + OFFSET_MS,
    });
    await agent.start();
    cleanups.push(() => agent.stop());
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), { what: "the first snapshot" });

    coord.send({
      type: "desired",
      id: "d1",
      generation: 1,
      desired: NodeDesired.parse({
        node: "jicofo",
        role: "jicofo",
        files: [
          {
            path: "/etc/pf.conf",
            content: "set skip on lo\nblock return log\npass out quick on egress proto tcp to any port 443\n",
            mode: "0600",
            owner: "root",
            group: "wheel",
            notify: [{ service: "pf", action: "reload" }],
          },
        ],
        services: [{ name: "jicofo", flags: null, order: 20 }],
        actions: [],
        health: { release: 9646 },
      }),
    });
    await waitFor(() => coord.frames.some((f) => f.type === "apply-result"), { what: "the apply's result" });

    // pf waits for a confirmation (none comes here): its deadline is the VM's now plus the window.
    const pf = JSON.parse(await readFile(path.join(stateDir, "pf/state.json"), "utf8"));
    expect(pf.pending, "a confirm window is open").not.toBeNull();
    expect(pf.pending.deadline - Date.now()).toBeGreaterThan(AHEAD_MS);

    // jicofo dies: the healer starts it again and says so, on the VM's clock.
    services.services.get("jicofo")!.running = false;
    const repair = await waitFor(
      () =>
        coord.frames.find((f): f is EventFrame => f.type === "event" && f.event.kind === "repair-service"),
      { what: "the healer's repair event" },
    );
    expect(repair.event.target).toBe("jicofo");
    expect(Date.parse(repair.event.at) - Date.now()).toBeGreaterThan(AHEAD_MS);
  });
});
