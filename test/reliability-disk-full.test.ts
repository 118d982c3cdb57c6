// Fault 2, a full disk. Each side gets a small file system of its own (a tmpfs of a few KiB in a private
// mount namespace, test/helpers/mount-namespace.ts), which the test fills to the last byte:
//   - a VM's /etc/jicofo during an apply: every managed file stays whole (the old version, byte for byte,
//     no temp file left), the apply is reported failed with ENOSPC named, jicofo is not restarted, the agent
//     does not retry in a loop (its restores back off), and once space is back the next heal converges;
//   - the coordinator's state directory during a push: the push is refused with ENOSPC named, nothing of it
//     is stored, the generation in force stays, the coordinator keeps serving; once space is back the next
//     push is stored.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadOrCreateMaterial, parseSpecText } from "@vmmeet/coordinator";
import type { AgentEvent, AgentToCoordinator } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { fixturesDir } from "./fixtures/material.js";
import { agentSandbox, sandboxAgentArgs, sleeperPids } from "./helpers/agent-sandbox.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { jicofoConf, jicofoDesired, jicofoInSh } from "./helpers/jicofo-desired.js";
import { mountNamespace } from "./helpers/mount-namespace.js";
import { AGENT_MAIN, type CapturedChild, useCleanups } from "./helpers/processes.js";
import { recordFigure } from "./helpers/reliability.js";
import { COORDINATOR_CLI } from "./helpers/secret-scan.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();
const CONF = "/etc/jicofo/jicofo.conf";
const IN_SH = "/etc/jicofo/jicofo.in.sh";

/** Fills the file system holding `dir` to the last byte; returns the filler's path. */
async function fill(dir: string): Promise<string> {
  const filler = path.join(dir, "filler");
  const fh = await open(filler, "w");
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) await fh.write(chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  }
  // What is left is less than a page: fill that too, a byte at a time.
  try {
    for (;;) await fh.write(Buffer.alloc(1, 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    await fh.close();
  }
  return filler;
}

function desired(version: string, confBytes: number) {
  return jicofoDesired([
    // Random text: a version that does not fit cannot share pages with the old one.
    jicofoConf(`# ${version}\n${randomBytes(confBytes).toString("base64").slice(0, confBytes)}\n`),
    jicofoInSh(`JICOFO_MAXMEM=${version === "A" ? 3 : 4}G\n`),
  ]);
}

describe("a full disk", () => {
  it("on a VM during an apply: old files whole, ENOSPC reported, no retry loop, converges when space is back", async () => {
    const ns = await mountNamespace(cleanups);
    const s = await agentSandbox("vmmeet-diskfull-", cleanups, ["jicofo"]);
    const etc = path.join(s.root, "etc/jicofo");
    await mkdir(etc, { recursive: true });
    await ns.tmpfs(etc, "128k");
    const coord = await fakeCoordinator({ cleanups });
    const agent = ns.spawnNode(
      [
        AGENT_MAIN,
        ...sandboxAgentArgs(s),
        "--coordinator",
        coord.url,
        "--log-level",
        "debug",
        "--heal-interval",
        "0.3",
      ],
      { cleanups },
    );
    const passes = () => (agent.output().match(/"msg":"heal pass"/g) ?? []).length;
    const results = () =>
      coord.frames.filter(
        (f): f is Extract<AgentToCoordinator, { type: "apply-result" }> => f.type === "apply-result",
      );
    const events = () => coord.frames.flatMap((f): AgentEvent[] => (f.type === "event" ? [f.event] : []));
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "agent connected",
      timeoutMs: 20_000,
    });
    const a = desired("A", 20_000);
    coord.send({ type: "desired", id: "d1", generation: 1, desired: a });
    await waitFor(() => results().find((r) => r.replyTo === "d1"), {
      what: "generation 1 applied",
      timeoutMs: 30_000,
    });
    expect(results()[0], agent.output()).toMatchObject({ ok: true });
    const jicofo = () => sleeperPids(s.root, "jicofo");
    const [pid] = jicofo();
    expect(pid).toBeDefined();

    const filler = await fill(ns.view(etc));
    const b = desired("B", 60_000);
    coord.send({ type: "desired", id: "d2", generation: 2, desired: b });
    const failed = await waitFor(() => results().find((r) => r.replyTo === "d2"), {
      what: "generation 2 answered",
      timeoutMs: 30_000,
    });
    expect(failed.ok).toBe(false);
    expect(failed.error).toMatch(/ENOSPC/);
    expect(failed.error).toContain(CONF);
    // Whole files, the old ones; nothing left half-written beside them.
    const onDisk = async () => ({
      conf: await readFile(ns.view(path.join(s.root, CONF)), "utf8"),
      inSh: await readFile(ns.view(path.join(s.root, IN_SH)), "utf8"),
    });
    expect(await onDisk()).toEqual({ conf: a.files[0]!.content, inSh: a.files[1]!.content });
    expect((await readdir(ns.view(etc))).sort()).toEqual(["filler", "jicofo.conf", "jicofo.in.sh"]);
    expect(jicofo()).toEqual([pid]);

    // No loop: over a dozen heal passes, a few restores (each waits twice as long as the one before).
    const base = passes();
    await waitFor(() => passes() >= base + 12, { what: "twelve heal passes", timeoutMs: 30_000 });
    // One failed event per file and attempt; without the back-off, one attempt per pass and per watch event.
    const restores = events().filter(
      (e) => e.kind === "repair-file" && e.label === "failed" && e.target === CONF,
    );
    expect(restores.length).toBeGreaterThan(0);
    expect(restores.length, restores.map((e) => e.message).join("\n")).toBeLessThanOrEqual(6);
    expect(restores[0]!.message).toMatch(/ENOSPC/);
    expect(await onDisk()).toEqual({ conf: a.files[0]!.content, inSh: a.files[1]!.content });

    // Space comes back: the next heal after the wait writes generation 2 and restarts jicofo once.
    await rm(filler);
    const back = performance.now();
    // Both files (the restore writes one after the other).
    await waitFor(
      async () => {
        const now = await onDisk();
        return now.conf === b.files[0]!.content && now.inSh === b.files[1]!.content;
      },
      { what: "generation 2 on disk", timeoutMs: 30_000 },
    );
    const timeToHealthyMs = performance.now() - back;
    await waitFor(() => jicofo().length === 1 && jicofo()[0] !== pid, { what: "jicofo restarted" });
    expect(agent.exited()).toBe(false);

    await recordFigure({
      fault: "disk full (VM /etc during an apply)",
      what: "applies and restores refused",
      count: 1 + restores.length,
      lost: 0,
      timeToHealthyMs: Math.round(timeToHealthyMs),
      details: {
        tmpfs: "128 KiB",
        healPassesWatched: passes() - base,
        restoresWhileFull: restores.length,
        heal: "--heal-interval 0.3 s: restores wait 0.3, 0.6, 1.2... s (15 s, 30 s... by default)",
      },
    });
  });

  it("in the coordinator's state directory during a push: refused, the generation in force stays", async () => {
    const ns = await mountNamespace(cleanups);
    const base = await mkdtemp(path.join(os.tmpdir(), "vmmeet-statefull-"));
    cleanups.push(() => rm(base, { recursive: true, force: true }));
    const specText = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
    await writeFile(path.join(base, "vmmeet.yaml"), specText);
    const state = path.join(base, ".vmmeet");
    await mkdir(state, { mode: 0o700 });
    await ns.tmpfs(state, "1m", "0700");
    const inside = ns.view(state);
    const parsed = parseSpecText(specText, "vmmeet.yaml");
    if (!parsed.ok) throw new Error("fixture invalid");
    await loadOrCreateMaterial(inside, parsed.spec);

    const serve = ns.spawnNode([COORDINATOR_CLI, "serve", "--state", state, "--listen", "127.0.0.1:0"], {
      cwd: base,
      cleanups,
    });
    await waitFor(
      () => {
        if (serve.exited()) throw new Error(`vmmeet serve exited: ${serve.output()}`);
        return /agents on wss?:\/\/127\.0\.0\.1:\d+\/agent/.test(serve.output());
      },
      { what: "the coordinator listening", timeoutMs: 20_000 },
    );
    const cli = async (args: string[]): Promise<{ code: number | string; out: string }> => {
      const p: CapturedChild = ns.spawnNode([COORDINATOR_CLI, ...args, "--state", state], {
        cwd: base,
        cleanups,
      });
      const code = await p.exit;
      return { code, out: p.output() };
    };
    // No agent: each rollout ends at its timeout (failed), but the generation is stored when accepted.
    const first = await cli(["push", "--timeout", "1"]);
    expect(first.out).toMatch(/generation 1 accepted/);
    const pointer = async () => JSON.parse(await readFile(path.join(inside, "current.json"), "utf8"));
    expect(await pointer()).toMatchObject({ desired: 1 });

    const filler = await fill(inside);
    await writeFile(path.join(base, "vmmeet.yaml"), specText.replace("release: 7648", "release: 9646"));
    const refused = await cli(["push", "--timeout", "1"]);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(
      /cannot store generation 2 in .*: no space left on device \(ENOSPC\); the push is refused and generation 1 stays in force/,
    );
    expect(await pointer()).toMatchObject({ desired: 1 });
    expect((await readdir(path.join(inside, "generations"))).sort()).toEqual(["00000001.json"]);
    expect((await readdir(inside)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const status = await cli(["status", "--json"]);
    expect(status.code, status.out).not.toBe(64);
    expect(serve.exited()).toBe(false);

    await rm(filler);
    const back = performance.now();
    // Stored once it says accepted; then waited for (no agent: its rollout ends at the timeout), so that no
    // rollout is left running at the end.
    const again = ns.spawnNode([COORDINATOR_CLI, "push", "--timeout", "1", "--state", state], {
      cwd: base,
      cleanups,
    });
    await waitFor(() => /generation 2 accepted/.test(again.output()), {
      what: "generation 2 accepted",
      timeoutMs: 20_000,
    });
    const timeToStoredMs = performance.now() - back;
    await again.exit;
    expect(await pointer()).toMatchObject({ desired: 2 });
    expect(serve.exited()).toBe(false);
    expect(serve.output()).not.toMatch(/Uncaught|unhandled/i);

    await recordFigure({
      fault: "disk full (coordinator state directory during a push)",
      what: "pushes refused",
      count: 1,
      lost: 0,
      timeToHealthyMs: Math.round(timeToStoredMs),
      details: {
        tmpfs: "1 MiB",
        timeToHealthy: "space freed to the next push stored (vmmeet push says accepted)",
      },
    });
  });
});
