// End to end in the sandbox (test/harness/deployment.ts): the real coordinator and one real agent process per
// node of the paper's topology, the rcctl/pfctl/vmctl doubles, and the prosody/jicofo/jvb/nginx SIMULATORS.
// One deployment for the whole file; the scenarios run in order, each starting from a conference-ready
// deployment.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { PROSODY } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rotateSecret } from "../packages/coordinator/src/secrets/index.js";
import { Deployment } from "./harness/deployment.js";
import { waitFor } from "./helpers/wait.js";

let d: Deployment;

beforeAll(async () => {
  d = await Deployment.start({ agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"] });
}, 120_000);
afterAll(async () => {
  await d?.remove();
}, 60_000);

const node = (name: string) => d.nodes.get(name)!;
const events = async (name: string) => (await d.status()).nodes.find((n) => n.node === name)?.events ?? [];

describe("a sandbox deployment of the paper's topology", () => {
  it("push: every file in place, services started in order, status conference-ready", async () => {
    const push = await d.push(120);
    expect(push.stdout).toMatch(/ok: generation 1 rolled out/);
    expect(push.code).toBe(0);
    // The rollout order of the paper: host, prosody, then jicofo and the bridges and, beside them, web (nginx
    // needs prosody only, fleet/stages.ts).
    const applying = push.stdout
      .split("\n")
      .filter((l) => /^\s+\S+\s+applying/.test(l))
      .map((l) => l.trim().split(/\s+/)[0]);
    expect(applying[0]).toBe("vmm");
    expect(applying[1]).toBe("xmpp");
    expect(new Set(applying.slice(2, 5))).toEqual(new Set(["jicofo", "jvb", "web"]));
    const status = await d.waitVerdict("conference-ready");
    expect(status.verdict.reasons.join("; ")).toMatch(/jicofo on jicofo has 1 bridge in the brewery/);
    for (const [name, file] of [
      ["xmpp", "etc/prosody/prosody.cfg.lua"],
      ["jicofo", "etc/jicofo/jicofo.conf"],
      ["jvb", "etc/jvb/jvb.conf"],
      ["web", "etc/nginx/nginx.conf"],
      ["vmm", "etc/vm.conf"],
    ] as const) {
      expect((await readFile(path.join(node(name).root, file), "utf8")).length).toBeGreaterThan(10);
    }
    expect(await readFile(path.join(node("jicofo").root, "etc/rc.conf.local"), "utf8")).toMatch(
      /^jicofo_flags=--host=jts\.fips\.de$/m,
    );
    for (const n of status.nodes) expect(n.generation).toEqual({ applied: 1, desired: 1 });
    // The host started the VMs that vm.conf enables.
    const vmm = status.nodes.find((n) => n.node === "vmm") as unknown as {
      vms?: { name: string; state: string }[];
    };
    expect(vmm.vms?.map((v) => v.name).sort()).toEqual(["jicofo", "jvb", "web", "xmpp"]);
    expect((await d.vmmeet("plan")).code).toBe(0);
  }, 180_000);

  it("a stopped jvb: jicofo loses its bridge, status says so with the explanation, and the agent restarts it", async () => {
    const stoppedAt = Date.now();
    const stop = await d.rcctl("jvb", "stop", "jvb");
    expect(stop.code).toBe(0);
    // jicofo's log line reaches the coordinator's status as a signal with its meaning and its time. (The
    // moment the verdict is down can be shorter than a status frame: the jvb agent restarts jvb at once.)
    const removed = await waitFor(
      async () => {
        const st = await d.status();
        const jicofo = st.nodes
          .find((n) => n.node === "jicofo")
          ?.health.find((h) => h.component === "jicofo");
        const sig = jicofo?.signals.find((x) => x.signal === "brewery-instance-removed");
        return sig && Date.parse(sig.at) >= stoppedAt - 1000 ? sig : undefined;
      },
      { what: "jicofo's bridge-removed signal in status", timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(removed.label).toBe("degraded");
    expect(removed.explain).toMatch(/bridge left the brewery/i);
    expect(removed.detail).toMatch(/\/jvb$/);
    // Self-healing: the jvb agent starts it again and reports the repair; the bridge is back.
    const repair = await waitFor(
      async () =>
        (await events("jvb")).find(
          (e) => e.kind === "repair-service" && Date.parse(e.at) >= stoppedAt - 1000,
        ),
      { what: "repair event of jvb", timeoutMs: 30_000 },
    );
    expect(repair.message).toMatch(/jvb was not running: started it/);
    const back = await d.waitVerdict("conference-ready", 60_000);
    const jicofo = back.nodes.find((n) => n.node === "jicofo")?.health.find((h) => h.component === "jicofo");
    expect(jicofo?.bridges).toEqual(["jvb"]);
    expect(Date.parse(jicofo?.bridgesSince?.jvb ?? "")).toBeGreaterThanOrEqual(stoppedAt - 1000);
  }, 120_000);

  it("jvb stopped with self-healing held off: status turns down, naming the missing bridge and the fix", async () => {
    // The agent's healer restarts a stopped service at its next pass; stop jvb and hold it down by
    // disabling... no: stop it repeatedly is racy. Instead stop the jvb agent itself first (the VM keeps
    // running without its agent), then jvb: nothing restarts it, and status must explain why.
    const jvb = node("jvb");
    jvb.agent?.kill("SIGTERM");
    await waitFor(() => jvb.agent?.exitCode !== null, { what: "jvb agent gone", timeoutMs: 20_000 });
    try {
      expect((await d.rcctl("jvb", "stop", "jvb")).code).toBe(0);
      const down = await d.waitVerdict("down", 30_000);
      expect(down.verdict.reasons.join("; ")).toMatch(/jicofo on jicofo has no bridge in the brewery/);
      const j = down.nodes.find((n) => n.node === "jicofo")?.health.find((h) => h.component === "jicofo");
      expect(j?.bridges).toEqual([]);
      expect(j?.fix ?? "").toMatch(/rcctl check jvb|jvb/);
      expect(down.nodes.find((n) => n.node === "jvb")?.connected).toBe(false);
    } finally {
      await d.restartAgent("jvb");
    }
    // The agent, back, finds jvb stopped and starts it.
    await d.waitVerdict("conference-ready", 60_000);
  }, 120_000);

  it("jicofo.conf edited by hand: restored, jicofo restarted once, the repair reported", async () => {
    const file = path.join(node("jicofo").root, "etc/jicofo/jicofo.conf");
    const good = await readFile(file, "utf8");
    const pidBefore = await readFile(path.join(node("jicofo").root, "var/run/rc.d/jicofo"), "utf8");
    await writeFile(file, good.replace("use-tls = true", "use-tls = false"));
    await waitFor(async () => (await readFile(file, "utf8")) === good, {
      what: "jicofo.conf restored",
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    await waitFor(
      async () =>
        (await events("jicofo")).find((e) => e.kind === "repair-file" || /jicofo\.conf/.test(e.message)),
      { what: "repair-file event", timeoutMs: 30_000 },
    );
    expect(await readFile(path.join(node("jicofo").root, "var/run/rc.d/jicofo"), "utf8")).not.toBe(pidBefore);
    await d.waitVerdict("conference-ready", 60_000);
  }, 120_000);

  it("a push with a jvb password prosody does not have: the failure and its fix in the push, then rollback", async () => {
    // prosodyctl on the xmpp VM stops registering users (it exits 0 and does nothing), then the jvb password
    // is rotated: jvb.conf gets the new one, prosody keeps the old one.
    const prosodyctl = path.join(node("xmpp").root, PROSODY.prosodyctl.value);
    const real = await readFile(prosodyctl, "utf8");
    await writeFile(
      prosodyctl,
      "#!/bin/sh\n# fault injected by e2e-sandbox.test.ts: accepts and does nothing\nexit 0\n",
    );
    await rotateSecret(d.stateDir, "jvbPassword");
    try {
      const push = await d.push(45);
      expect(push.code).toBe(1);
      expect(push.stdout).toMatch(/FAILED: generation 2 failed: jicofo: /);
      expect(push.stdout).toMatch(/rolled back to generation 1/);
      // The real failure lines were read: prosody rejected jvb's login.
      const xmppSignals =
        (await d.status()).nodes
          .find((n) => n.node === "xmpp")
          ?.health.flatMap((h) => h.signals.map((s) => s.signal)) ?? [];
      const jvbSignals =
        (await d.status()).nodes
          .find((n) => n.node === "jvb")
          ?.health.flatMap((h) => h.signals.map((s) => s.signal)) ?? [];
      expect([...xmppSignals, ...jvbSignals].join(" ")).toMatch(
        /auth-failed|xmpp-auth|c2s-auth-failed-disconnect/,
      );
      const status = await d.waitVerdict("conference-ready", 60_000);
      expect(status.desiredGeneration).toBe(3);
      const audit = await readFile(path.join(d.stateDir, "audit.log"), "utf8");
      expect(audit).toMatch(/"kind":"push-failed"/);
      expect(audit).toMatch(/"kind":"rollback"/);
    } finally {
      await writeFile(prosodyctl, real);
    }
  }, 180_000);

  it("coordinator kill -9 and restart: state intact, agents reconnect, nothing re-applied", async () => {
    const before = await d.status();
    const applies = () =>
      [...d.nodes.values()].reduce(
        (n, x) => n + x.output.filter((l) => /"msg":"apply finished"/.test(l)).length,
        0,
      );
    const appliesBefore = applies();
    const audit = await readFile(path.join(d.stateDir, "audit.log"), "utf8");
    await d.restartCoordinator("SIGKILL");
    // Until a node's first snapshot on the new link arrives, status shows what nodes.json kept of it, and
    // nodes.json is written at most every 200 ms: a kill -9 inside that window loses the last report. So wait
    // for each node to report the generation in force again, not only to be connected.
    const after = await waitFor(
      async () => {
        const st = await d.status();
        const current = st.nodes.every(
          (n) => n.connected && n.generation.applied === before.desiredGeneration,
        );
        return current ? st : undefined;
      },
      { what: "every agent reconnected and reporting its generation", timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(after.desiredGeneration).toBe(before.desiredGeneration);
    for (const n of after.nodes) expect(n.generation.applied).toBe(before.desiredGeneration);
    // The audit log kept every entry (append-only, fsynced): the old content is a prefix of the new.
    expect((await readFile(path.join(d.stateDir, "audit.log"), "utf8")).startsWith(audit)).toBe(true);
    await d.waitVerdict("conference-ready", 60_000);
    // Agents that were current got no desired state again.
    expect(applies()).toBe(appliesBefore);
    // The rotated jvb password of the previous scenario is still waiting for a push that works: plan shows
    // exactly that, and nothing else.
    const plan = await d.vmmeet("plan");
    expect(plan.code).toBe(2);
    expect(plan.stdout).toMatch(/^jvb:\n\s+modify\s+\/etc\/jvb\/jvb\.conf \(holds secrets\)/m);
    for (const n of ["vmm", "web", "jicofo"]) expect(plan.stdout).toContain(`${n}: no changes`);
    // The node still holds the old, rotated password: not among the current secrets, masked all the same.
    expect(plan.stdout).not.toMatch(/[A-Za-z0-9]{32,}/);
    const secrets = JSON.parse(await readFile(path.join(d.stateDir, "secrets.json"), "utf8")) as Record<
      string,
      unknown
    >;
    for (const v of Object.values(secrets))
      if (typeof v === "string" && v.length > 8) expect(plan.stdout).not.toContain(v);
  }, 120_000);
});
