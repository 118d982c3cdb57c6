// The agent started with no program flags (no --rcctl, no --prosodyctl) runs the programs where OpenBSD
// installs them, under --root: rcctl(8) at /usr/sbin/rcctl (the rcctl test double) and net/prosody's
// prosodyctl at /usr/local/sbin/prosodyctl (a logging wrapper around the prosodyctl simulator). On a VM
// --root is /, so these are the real programs; the old default /usr/local/bin/prosodyctl does not exist
// there, and jicofo and the bridges could never log in.
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type NodeDesired, PROSODY } from "@vmmeet/shared";
import { afterAll, describe, expect, it } from "vitest";
import { renderDeployment } from "../packages/coordinator/src/render/index.js";
import { killDoubleProcesses, writeRcScript } from "./doubles/rcctl/index.js";
import { fakeInput } from "./fixtures/material.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { type Cleanups, spawnAgent } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";
import { installSimulatedVm } from "./simulators/index.js";

const stops: Cleanups = [];
let base = "";
let root = "";

afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  if (root) await killDoubleProcesses(root);
  if (base) await rm(base, { recursive: true, force: true });
});

describe("vmmeet-agent without program flags", () => {
  it("calls /usr/local/sbin/prosodyctl under --root to register focus and jvb", async () => {
    base = await mkdtemp(path.join(tmpdir(), "vmmeet-prosodyctl-default-"));
    root = path.join(base, "xmpp");
    await mkdir(root, { recursive: true });
    const vm = await installSimulatedVm(root, "xmpp", { netDir: path.join(base, "net"), backoffMaxMs: 500 });
    // The simulator's wrapper stands where net/prosody installs prosodyctl; a logging wrapper takes its
    // place and records the path it was called by and the command (never the arguments: one is a password).
    const at = path.join(root, PROSODY.prosodyctl.value);
    expect(vm.prosodyctl).toBe(at);
    await rename(at, `${at}.simulator`);
    const calls = path.join(base, "prosodyctl-calls.log");
    await writeFile(
      at,
      `#!/bin/sh\nprintf '%s %s\\n' "$0" "$1" >> '${calls}'\nexec '${at}.simulator' "$@"\n`,
    );
    await chmod(at, 0o755);
    const sleeper = path.join(base, "sleeper.mjs");
    await writeFile(sleeper, "setInterval(() => {}, 1000);\n");
    await writeRcScript(root, "syslogd", {
      daemon: `${process.execPath} ${sleeper} syslogd-sleeper`,
      timeout: 5,
    });

    const input = fakeInput("paper-7648.yaml", (raw) => {
      (raw.jitsi as Record<string, unknown>).release = 9646;
    });
    const rendered = renderDeployment(input).xmpp as NodeDesired;
    // pf.conf goes through pfctl's commit-confirm (pf-agent.test.ts); not this test's subject.
    const desired = { ...rendered, files: rendered.files.filter((f) => f.path !== "/etc/pf.conf") };
    const coord = await fakeCoordinator({ cleanups: stops });
    spawnAgent(
      [
        ...["--node", "xmpp", "--state-dir", path.join(base, "state"), "--root", root],
        ...["--lenient-accounts", "--coordinator", coord.url],
      ],
      { cleanups: stops },
    );
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "agent connected",
      timeoutMs: 20_000,
    });
    coord.socket()!.send(JSON.stringify({ type: "desired", id: "d1", generation: 1, desired }));
    const res = await waitFor(
      () => coord.frames.find((f) => f.type === "apply-result" && f.replyTo === "d1"),
      { what: "apply result", timeoutMs: 30_000 },
    );
    if (res.type !== "apply-result") throw new Error("not an apply result");
    const actions = res.items.filter((i) => i.kind === "action" && /@auth\./.test(i.target));
    expect(actions.map((i) => [i.target, i.status])).toEqual([
      ["prosody-user focus@auth.jts.fips.de", "done"],
      ["prosody-user jvb@auth.jts.fips.de", "done"],
      ["prosody-roster-subscribe focus.jts.fips.de focus@auth.jts.fips.de", "done"],
    ]);
    expect(res.ok).toBe(true);
    expect((await readFile(calls, "utf8")).trim().split("\n")).toEqual([
      `${at} register`,
      `${at} register`,
      `${at} mod_roster_command`,
    ]);
    // The accounts are where prosody keeps them, under the VM root.
    await readFile(path.join(root, "var/prosody/auth%2ejts%2efips%2ede/accounts/focus.dat"), "utf8");
  }, 60_000);
});
