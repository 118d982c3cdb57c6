// Hostile files on a VM, against a live agent: after a good apply, someone with a shell on the VM puts a
// symlink to a secret file (a stand-in for /etc/master.passwd, outside the VM's root here) where
// jicofo.conf was, a FIFO where jicofo.in.sh was, a directory where /etc/hosts was, and a symlink to the
// same secret where jicofo's log was. The agent keeps running and answering (no open(2) hangs on the FIFO),
// writes nothing through the links (the secret keeps its bytes and its mtime), reads nothing through them
// back to the coordinator (neither the secret's text nor its hash nor a "bridge" its lines would make
// appear), says what it refused, and does not retry in a loop.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentEvent, AgentToCoordinator } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { jicofoConf, jicofoDesired, jicofoInSh } from "./helpers/jicofo-desired.js";
import { spawnAgent, useCleanups } from "./helpers/processes.js";
import { recordFigure } from "./helpers/reliability.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();
const CONF = "/etc/jicofo/jicofo.conf";
const IN_SH = "/etc/jicofo/jicofo.in.sh";
const HOSTS = "/etc/hosts";
const LOG = "/var/log/jicofo";
// Were the agent to read the secret as jicofo's log, this line would make a bridge appear in the status.
const SECRET = `root:$2b$10$SECRETHASHSECRETHASHSECRETHASH:0:0:daemon:0:0:Charlie &:/root:/bin/ksh
Jicofo 2026-12-06 08:01:00.000 INFO: [35] BaseBrewery.addInstance#341: Added brewery instance: jvbbrewery@internal.auth.meet.example.org/leakedjvb
`;

function desired(version: string) {
  return jicofoDesired(
    [
      jicofoConf(`jicofo { version = ${version} }\n`),
      jicofoInSh("JICOFO_MAXMEM=3G\n"),
      {
        path: HOSTS,
        content: "100.64.2.3 xmpp meet.example.org\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
      },
    ],
    { logs: [{ component: "jicofo", path: LOG }] },
  );
}

describe("hostile files on a VM", () => {
  it("a symlink to a secret, a FIFO and a directory at managed paths, a symlinked log: nothing written or read through them", async () => {
    const s = await agentSandbox("vmmeet-hostile-", cleanups, ["jicofo"]);
    const secret = path.join(s.dir, "master.passwd");
    await writeFile(secret, SECRET, { mode: 0o600 });
    const secretBefore = await stat(secret);
    await mkdir(path.join(s.root, "var/log"), { recursive: true });
    await writeFile(path.join(s.root, LOG), "");
    const coord = await fakeCoordinator({ cleanups });
    const agent = spawnAgent(
      [...sandboxAgentArgs(s), "--coordinator", coord.url, "--log-level", "debug", "--heal-interval", "0.3"],
      { cleanups },
    );
    const passes = () => (agent.output().match(/"msg":"heal pass"/g) ?? []).length;
    const events = () => coord.frames.flatMap((f): AgentEvent[] => (f.type === "event" ? [f.event] : []));
    const reply = (id: string) => coord.frames.find((f) => "replyTo" in f && f.replyTo === id);
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "agent connected",
      timeoutMs: 20_000,
    });
    coord.send({ type: "desired", id: "d1", generation: 1, desired: desired("1") });
    const first = await waitFor(() => reply("d1"), { what: "generation 1 applied", timeoutMs: 30_000 });
    expect(first, agent.output()).toMatchObject({ type: "apply-result", ok: true });
    const framesBefore = coord.frames.length;

    // The hostile changes.
    const at = (p: string) => path.join(s.root, p);
    await rm(at(CONF));
    await symlink(secret, at(CONF));
    await rm(at(IN_SH));
    execFileSync("mkfifo", [at(IN_SH)]);
    await rm(at(HOSTS));
    await mkdir(at(HOSTS));
    await rm(at(LOG));
    await symlink(secret, at(LOG));

    // The agent goes on: heal passes, a snapshot on request, a new push answered (refused: a link).
    const base = passes();
    await waitFor(() => passes() >= base + 10, { what: "ten heal passes", timeoutMs: 30_000 });
    coord.send({ type: "snapshot-request", id: "s1" });
    const snap = await waitFor(() => reply("s1"), { what: "the snapshot", timeoutMs: 10_000 });
    const pushedAt = performance.now();
    coord.send({ type: "desired", id: "d2", generation: 2, desired: desired("2") });
    const second = await waitFor(() => reply("d2"), { what: "generation 2 answered", timeoutMs: 30_000 });
    const answeredMs = performance.now() - pushedAt;
    expect(second).toMatchObject({ type: "apply-result", ok: false });
    expect(JSON.stringify(second)).toMatch(/jicofo\.conf/);
    expect(agent.exited()).toBe(false);

    // Nothing written through the links: the secret has its bytes and its time; the hostile files are as left.
    expect(await readFile(secret, "utf8")).toBe(SECRET);
    expect((await stat(secret)).mtimeMs).toBe(secretBefore.mtimeMs);
    expect((await readdir(s.dir)).sort()).toEqual(["master.passwd", "root", "sleeper.mjs", "state"]);
    expect((await stat(at(IN_SH))).isFIFO()).toBe(true);
    expect((await stat(at(HOSTS))).isDirectory()).toBe(true);

    // Nothing read through them back to the coordinator: not the text, not its hash, not the bridge.
    const sent = JSON.stringify(coord.frames.slice(framesBefore));
    const secretHash = createHash("sha256").update(SECRET).digest("hex");
    for (const leak of ["SECRETHASH", secretHash, "leakedjvb", "Charlie"]) {
      expect(sent, `the coordinator got ${leak}`).not.toContain(leak);
      expect(agent.output(), `the agent logged ${leak}`).not.toContain(leak);
    }
    const files = (snap as Extract<AgentToCoordinator, { type: "snapshot" }>).status.files;
    for (const p of [CONF, IN_SH, HOSTS]) expect(files.find((f) => f.path === p)?.sha256 ?? null).toBeNull();

    // Said, not looped: the restores that cannot be done are reported and back off; the log link is said once.
    const failedRestores = events().filter(
      (e) => e.kind === "repair-file" && e.label === "failed" && e.target === CONF,
    );
    expect(failedRestores.length).toBeGreaterThan(0);
    expect(failedRestores.length).toBeLessThanOrEqual(6);
    expect(failedRestores[0]!.message).toMatch(/^cannot restore \/etc\/jicofo\/jicofo\.conf: .*link/);
    const logRefusals = agent.output().match(/is a symbolic link, not a regular file: not read/g) ?? [];
    expect(logRefusals).toHaveLength(1);

    await recordFigure({
      fault: "hostile files on a VM",
      what: "hostile paths (3 managed files, 1 log)",
      count: 4,
      lost: 0,
      timeToHealthyMs: Math.round(answeredMs),
      details: {
        lost: "bytes written or read through a link or FIFO (none)",
        timeToHealthy: "the next push after the hostile changes, until its answer (refused, naming the link)",
        failedRestoreEvents: failedRestores.length,
        healPasses: passes() - base,
      },
    });
  });
});
