// The coordinator's cross-node repair (heal schedule: prosody before jicofo before jvb) reaches a real agent
// process as a `repair` frame: the agent restarts the service through rcctl (the test double, real
// processes) and answers with the outcome; a service that is not in its desired state is refused.
import { type AgentToCoordinator, NodeDesired } from "@vmmeet/shared";
import { afterEach, describe, expect, it } from "vitest";
import { doubleProcesses } from "./doubles/rcctl/index.js";
import { agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { type Cleanups, spawnAgent } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups: Cleanups = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const results = (frames: AgentToCoordinator[]) =>
  frames.filter((f): f is Extract<AgentToCoordinator, { type: "apply-result" }> => f.type === "apply-result");

describe("repair frames", () => {
  it("restart a managed service on the coordinator's order, and refuse any other", async () => {
    const s = await agentSandbox("vmmeet-repair-", cleanups, ["jicofo"]);
    const root = s.root;
    const coord = await fakeCoordinator({ cleanups });
    spawnAgent([...sandboxAgentArgs(s), "--coordinator", coord.url, "--pfctl", "/bin/true"], { cleanups });
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "snapshot",
      timeoutMs: 20_000,
    });
    const desired = NodeDesired.parse({
      node: "jicofo",
      role: "jicofo",
      files: [
        {
          path: "/etc/jicofo/jicofo.in.sh",
          content: "JICOFO_MAXMEM=3G\n",
          mode: "0640",
          owner: "root",
          group: "_jicofo",
        },
      ],
      services: [{ name: "jicofo", flags: null, order: 20 }],
      actions: [],
      health: { release: 9646 },
    });
    coord.send({ type: "desired", id: "d1", generation: 1, desired });
    await waitFor(() => results(coord.frames).some((r) => r.replyTo === "d1" && r.ok), {
      what: "applied",
      timeoutMs: 30_000,
    });
    const pid = () =>
      doubleProcesses(root).find((p) => p.kind === "daemon" && p.cmdline.includes("jicofo-sleeper"))?.pid;
    const before = pid();
    expect(before).toBeDefined();

    coord.send({
      type: "repair",
      id: "r1",
      service: "jicofo",
      action: "restart",
      reason: "prosody restarted and jicofo did not reconnect",
    });
    const r1 = await waitFor(() => results(coord.frames).find((r) => r.replyTo === "r1"), {
      what: "repair answered",
      timeoutMs: 30_000,
    });
    expect(r1).toMatchObject({
      ok: true,
      generation: 1,
      items: [{ kind: "service", target: "jicofo", status: "restarted" }],
    });
    expect(pid()).not.toBe(before);
    await waitFor(
      () =>
        coord.frames.find(
          (f) =>
            f.type === "event" &&
            f.event.kind === "repair-service" &&
            /prosody restarted/.test(f.event.message),
        ),
      { what: "repair event" },
    );

    coord.send({ type: "repair", id: "r2", service: "sshd", action: "restart", reason: "nope" });
    const r2 = await waitFor(() => results(coord.frames).find((r) => r.replyTo === "r2"), {
      what: "refusal answered",
      timeoutMs: 30_000,
    });
    expect(r2).toMatchObject({ ok: false, items: [{ kind: "service", target: "sshd", status: "refused" }] });
  });
});
