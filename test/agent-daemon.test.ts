// The real agent process (compiled dist/main.js) against a real ws server on port 0 playing the coordinator,
// with the rcctl test double and real daemon processes: an apply writes the files with their modes, enables,
// sets flags and starts the services; the same apply again changes nothing and restarts nothing; a stale
// generation is refused; with the coordinator gone and the agent restarted, the persisted state is still
// enforced.
import { readFile, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  type AgentToCoordinator,
  type NodeDesired,
  type NodeDesiredInput,
  NodeDesired as NodeDesiredSchema,
} from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { doubleProcesses } from "./doubles/rcctl/index.js";
import { type AgentSandbox, agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { type FakeCoordinator, fakeCoordinator } from "./helpers/fake-coordinator.js";
import { type CapturedChild, spawnAgent, useCleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();

const coordinator = () => fakeCoordinator({ cleanups });

async function sandbox() {
  // jicofo stands in as a sleeper: the agent only needs a process rc.subr semantics can find.
  return agentSandbox("vmmeet-agentd-", cleanups, ["jicofo", "syslogd"]);
}

function startAgent(s: AgentSandbox, coordinator: string | null): CapturedChild {
  const args = [...sandboxAgentArgs(s), "--log-level", "debug"];
  if (coordinator) args.push("--coordinator", coordinator);
  return spawnAgent(args, { cleanups });
}

function desired(version: string): NodeDesired {
  const d: NodeDesiredInput = {
    node: "jicofo",
    role: "jicofo",
    files: [
      {
        path: "/etc/jicofo/jicofo.conf",
        content: `jicofo { xmpp { client { password = "SECRET-${version}" } } }\n`,
        mode: "0640",
        owner: "root",
        group: "_jicofo",
        secret: true,
        notify: [{ service: "jicofo", action: "restart" }],
      },
      {
        path: "/etc/jicofo/jicofo.in.sh",
        content: "JICOFO_MAXMEM=3G\n",
        mode: "0640",
        owner: "root",
        group: "_jicofo",
        notify: [{ service: "jicofo", action: "restart" }],
      },
      {
        path: "/etc/hosts",
        content: "100.64.2.3 xmpp jts.fips.de\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
      },
    ],
    services: [{ name: "jicofo", flags: "--host=jts.fips.de", order: 20 }],
    actions: [],
    health: { release: 9646 },
  };
  return NodeDesiredSchema.parse(d);
}

const applyResults = (c: FakeCoordinator) =>
  c.frames.filter(
    (f): f is Extract<AgentToCoordinator, { type: "apply-result" }> => f.type === "apply-result",
  );
const jicofoPids = (root: string) =>
  doubleProcesses(root)
    .filter((p) => p.kind === "daemon" && p.cmdline.includes("jicofo-sleeper"))
    .map((p) => p.pid);

describe("vmmeet-agent process", () => {
  it("applies, is idempotent, refuses stale generations, and enforces its state with the coordinator gone", async () => {
    const s = await sandbox();
    const coord = await coordinator();
    const agent = startAgent(s, coord.url);
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "hello and snapshot",
      timeoutMs: 20_000,
    });
    expect(coord.frames[0]).toMatchObject({ type: "hello", node: "jicofo", generation: 0 });

    coord.socket()!.send(JSON.stringify({ type: "desired", id: "d1", generation: 1, desired: desired("A") }));
    await waitFor(() => applyResults(coord).length === 1, { what: "first apply", timeoutMs: 30_000 });
    const first = applyResults(coord)[0]!;
    if (!first.ok) throw new Error(`apply failed: ${first.error}\n${JSON.stringify(first.items)}`);
    expect(first).toMatchObject({ replyTo: "d1", generation: 1, ok: true, unchanged: false });
    expect(first.items).toContainEqual({
      kind: "file",
      target: "/etc/jicofo/jicofo.conf",
      status: "written",
    });
    expect(first.items).toContainEqual({ kind: "service", target: "jicofo", status: "enabled" });
    expect(first.items).toContainEqual({ kind: "service", target: "jicofo", status: "flags-set" });
    expect(first.items).toContainEqual({ kind: "service", target: "jicofo", status: "started" });
    const conf = path.join(s.root, "etc/jicofo/jicofo.conf");
    expect(await readFile(conf, "utf8")).toContain("SECRET-A");
    expect((await stat(conf)).mode & 0o777).toBe(0o640);
    expect(await readFile(path.join(s.root, "etc/rc.conf.local"), "utf8")).toBe(
      "jicofo_flags=--host=jts.fips.de\npkg_scripts=jicofo\n",
    );
    const pids = jicofoPids(s.root);
    expect(pids).toHaveLength(1);
    // The snapshot after the apply reports the file as the coordinator rendered it.
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot" && f.status.generation === 1), {
      what: "snapshot at generation 1",
    });

    coord.socket()!.send(JSON.stringify({ type: "desired", id: "d2", generation: 2, desired: desired("A") }));
    await waitFor(() => applyResults(coord).length === 2, { what: "second apply", timeoutMs: 30_000 });
    expect(applyResults(coord)[1]).toMatchObject({ ok: true, unchanged: true });
    expect(
      applyResults(coord)[1]!.items.some((i) =>
        ["written", "started", "restarted", "enabled", "flags-set"].includes(i.status),
      ),
    ).toBe(false);
    expect(jicofoPids(s.root)).toEqual(pids);

    coord
      .socket()!
      .send(JSON.stringify({ type: "desired", id: "d0", generation: 1, desired: desired("OLD") }));
    await waitFor(() => applyResults(coord).length === 3, { what: "stale answer", timeoutMs: 30_000 });
    expect(applyResults(coord)[2]).toMatchObject({ replyTo: "d0", ok: false });
    expect(applyResults(coord)[2]!.error).toMatch(/stale generation 1/);
    expect(await readFile(conf, "utf8")).toContain("SECRET-A");

    // Secrets never appear in the agent's log output.
    expect(agent.output()).not.toContain("SECRET-A");

    // Coordinator gone; the agent stops; someone deletes a managed file; the agent starts without a coordinator.
    await coord.close();
    agent.kill("SIGTERM");
    await waitFor(() => agent.exitCode !== null, { what: "agent exited", timeoutMs: 15_000 });
    expect(agent.exitCode).toBe(0);
    await unlink(conf);
    await writeFile(path.join(s.root, "etc/hosts"), "tampered\n");
    const again = startAgent(s, null);
    await waitFor(
      async () =>
        (await readFile(conf, "utf8").catch(() => "")).includes("SECRET-A") &&
        (await readFile(path.join(s.root, "etc/hosts"), "utf8").catch(() => "")) ===
          "100.64.2.3 xmpp jts.fips.de\n",
      { what: "both files restored offline", timeoutMs: 30_000 },
    );
    expect(await readFile(path.join(s.root, "etc/hosts"), "utf8")).toBe("100.64.2.3 xmpp jts.fips.de\n");
    expect(again.output()).not.toContain("SECRET-A");
  });
});
