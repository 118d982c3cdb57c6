// The truststore remedy end to end, with the jitsi simulators (test/simulators) on files rendered from the
// paper's spec with real material: a jicofo whose JVM holds a bad truststore logs "PKIX path building
// failed"; the agent's health pipeline classifies it as truststore-rejected, the healer's remedy re-enforces
// the desired state and restarts jicofo, and jicofo logs in to prosody again.
//
// How jicofo gets there without the drift repair fixing it first: with the agent stopped, the truststore
// is corrupted, jicofo restarted (it loads the bad store, as a JVM does only at start), and the file put
// back by hand. The file then equals the desired one (nothing for the drift repair to do) while jicofo
// keeps failing: only the signal tells.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { AgentEvent, NodeDesired } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProsodyActions } from "../packages/agent/src/actions/prosody.js";
import { execRunner } from "../packages/agent/src/actions/runner.js";
import { renderDeployment } from "../packages/coordinator/src/render/index.js";
import { loadOrCreateMaterial } from "../packages/coordinator/src/secrets/index.js";
import { killDoubleProcesses, makeRcctl, runRcctl, writeRcScript } from "./doubles/rcctl/index.js";
import { loadSpec } from "./fixtures/material.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { type CapturedChild, type Cleanups, spawnAgent } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";
import {
  installSimulatedVm,
  type SimulatedVm,
  simulatedPort,
  startService,
  writeRenderedFiles,
} from "./simulators/index.js";

const STORE = "/etc/ssl/jicofo-key.store";

let base: string;
let netDir: string;
let nodes: Record<string, NodeDesired>;
let xmpp: SimulatedVm;
let jicofo: SimulatedVm;
const stops: Cleanups = [];

const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
const jicofoLog = () => read(path.join(jicofo.root, "var/log/jicofo"));

function startAgent(coordinator: string): CapturedChild {
  return spawnAgent(
    [
      "--node",
      "jicofo",
      "--state-dir",
      path.join(base, "jicofo-state"),
      "--root",
      jicofo.root,
      "--rcctl",
      jicofo.rcctl,
      "--lenient-accounts",
      "--log-level",
      "debug",
      "--heal-interval",
      "0.5",
      "--coordinator",
      coordinator,
    ],
    { cleanups: stops },
  );
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "vmmeet-heal-trust-"));
  netDir = path.join(base, "net");
  const spec = loadSpec("paper-7648.yaml", (raw) => {
    (raw.jitsi as { release: number }).release = 9646;
  });
  const material = await loadOrCreateMaterial(path.join(base, "state"), spec);
  nodes = renderDeployment({ spec, secrets: material.secrets, pki: material.pki });

  // The xmpp VM as simulators-bring-up.test.ts sets it up: rendered files, both accounts registered, prosody started.
  const xmppNode = nodes.xmpp as NodeDesired;
  await writeRenderedFiles(path.join(base, "xmpp"), xmppNode);
  xmpp = await installSimulatedVm(path.join(base, "xmpp"), "xmpp", { netDir, backoffMaxMs: 500 });
  const actions = new ProsodyActions({
    prosodyctl: xmpp.prosodyctl as string,
    root: xmpp.root,
    runner: execRunner(),
  });
  const state = { users: {}, roster: {} };
  for (const a of xmppNode.actions)
    if (a.kind === "prosody-user") await actions.ensureUser(a, state, Buffer.from("salt"));
  await startService(xmpp, xmppNode.services.find((s) => s.name === "prosody")?.flags);
  await waitFor(() => simulatedPort(netDir, "100.64.2.3", 5222), { what: "prosody's c2s port" });

  // The jicofo VM: only the rc.d scripts; the agent writes the files and starts jicofo.
  const root = path.join(base, "jicofo");
  await mkdir(root, { recursive: true });
  const rcctl = await makeRcctl(root);
  jicofo = await installSimulatedVm(root, "jicofo", { netDir, rcctl, backoffMaxMs: 500 });
  const sleeper = path.join(base, "sleeper.mjs");
  await writeFile(sleeper, "setInterval(() => {}, 1000);\n");
  await writeRcScript(root, "syslogd", {
    daemon: `${process.execPath} ${sleeper} syslogd-sleeper`,
    timeout: 5,
  });
}, 120_000);

afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  for (const vm of [xmpp, jicofo]) if (vm) await killDoubleProcesses(vm.root);
  if (base && !process.env.KEEP_SIM) await rm(base, { recursive: true, force: true });
});

describe("truststore remedy with the simulators", () => {
  it("truststore rejected -> signal -> remedy (re-enforce, restart jicofo) -> logged in again", async () => {
    const coord = await fakeCoordinator({ cleanups: stops });
    const rendered = nodes.jicofo as NodeDesired;
    // pf.conf goes through pfctl's commit-confirm (pf-agent.test.ts); not this test's subject.
    const desired = { ...rendered, files: rendered.files.filter((f) => f.path !== "/etc/pf.conf") };
    const first = startAgent(coord.url);
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "agent connected",
      timeoutMs: 20_000,
    });
    coord.socket()!.send(JSON.stringify({ type: "desired", id: "d1", generation: 1, desired }));
    const res = await waitFor(
      () => coord.frames.find((f) => f.type === "apply-result" && f.replyTo === "d1"),
      { what: "apply result", timeoutMs: 30_000 },
    );
    if (res.type !== "apply-result" || !res.ok) throw new Error(`apply failed: ${JSON.stringify(res)}`);
    await waitFor(() => jicofoLog().includes("Joined the room."), {
      what: "jicofo logged in",
      timeoutMs: 20_000,
    });

    // Agent away: the JVM gets a bad truststore, then the file is put back by hand without a restart.
    await first.stop();
    const storeFile = path.join(jicofo.root, STORE);
    const good = readFileSync(storeFile);
    await writeFile(storeFile, "not a PKCS#12 file");
    const before = jicofoLog().length;
    expect((await runRcctl(jicofo.rcctl, ["restart", "jicofo"])).code).toBe(0);
    await waitFor(() => jicofoLog().slice(before).includes("PKIX path building failed"), {
      what: "PKIX failures",
    });
    await writeFile(storeFile, good);

    const events = () => coord.frames.flatMap((f): AgentEvent[] => (f.type === "event" ? [f.event] : []));
    const restartMark = jicofoLog().length;
    startAgent(coord.url);
    const remedy = await waitFor(() => events().find((e) => e.kind === "remedy-truststore"), {
      what: "truststore remedy",
      timeoutMs: 30_000,
    });
    expect(remedy).toMatchObject({
      label: "degraded",
      target: "jicofo",
      message: "jicofo logged truststore-rejected: files already as desired; restarted jicofo",
    });
    // No drift repair was involved: the file was as desired.
    expect(events().filter((e) => e.kind === "repair-file")).toEqual([]);
    await waitFor(() => jicofoLog().slice(restartMark).includes("Joined the room."), {
      what: "jicofo logged in again",
      timeoutMs: 30_000,
    });
    // The agent's health sees the cure: jicofo in its brewery room after the restart.
    await waitFor(
      () =>
        coord.frames.some(
          (f) =>
            (f.type === "snapshot" || f.type === "status") &&
            (f.status.health ?? []).some(
              (h) => h.component === "jicofo" && h.signals.some((s) => s.signal === "brewery-room-joined"),
            ),
        ),
      { what: "cure reported" },
    );
    // Bounded: one remedy, even though jicofo logged the failure many times.
    expect(events().filter((e) => e.kind === "remedy-truststore")).toHaveLength(1);
  });
});
