// No secret in any log line or CLI output: the main flows with real processes - init, validate, render,
// a live coordinator over TLS, five live agents that join with tokens and apply through the rcctl test
// double (with the prosodyctl simulator, which receives the XMPP passwords), a push, plan, status, events,
// agents list/revoke, restarts - every output recorded, then scanned for every generated secret: the
// passwords of secrets.json, every private key line (CA, prosody's, the coordinator's, each agent's) and
// the join tokens (shown only by `vmmeet agents token`). The audit log and the coordinator's node records
// are scanned too. Files holding secrets must land 0640 and the state directories 0700.
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { killDoubleProcesses, makeRcctl, writeRcScript } from "./doubles/rcctl/index.js";
import {
  collectSecrets,
  OutputRecorder,
  scanOutputs,
  startAgent,
  startCoordinator,
} from "./helpers/secret-scan.js";
import { waitFor } from "./helpers/wait.js";
import { installSimulatedVm } from "./simulators/index.js";

const NODES = ["vmm", "xmpp", "jicofo", "jvb", "web"] as const;
const SERVICES: Record<(typeof NODES)[number], string[]> = {
  vmm: ["vmd"],
  xmpp: ["prosody", "syslogd"],
  jicofo: ["jicofo", "syslogd"],
  jvb: ["jvb", "syslogd"],
  web: ["nginx", "syslogd"],
};

/**
 * Leaks found by this test in code outside the security issue's paths, reported to their owners; each entry
 * exempts exactly one (output, secret) pair and must go once fixed. fleet/plan.ts masks the passwords in
 * diffs but not PEM private keys: `vmmeet plan` prints prosody's auth.DOMAIN key for a node whose file
 * differs from what it reported.
 */
const KNOWN_LEAKS: { output: RegExp; secret: RegExp }[] = [];

const rec = new OutputRecorder();
let dir = "";
const roots: string[] = [];
afterAll(async () => {
  await rec.stopAll();
  for (const r of roots) await killDoubleProcesses(r);
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * Every entry under `d` (files and directories), with its mode. The agents still run: an entry an apply
 * removes meanwhile (pending.json, a pruned backup generation) is gone, so it cannot be readable by
 * others; skipped.
 */
async function walk(d: string): Promise<{ file: string; mode: number; dir: boolean }[]> {
  const out: { file: string; mode: number; dir: boolean }[] = [];
  const gone = (err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw err;
  };
  for (const e of (await readdir(d, { withFileTypes: true }).catch(gone)) ?? []) {
    const file = path.join(d, e.name);
    const st = await stat(file).catch(gone);
    if (!st) continue;
    out.push({ file, mode: st.mode & 0o777, dir: e.isDirectory() });
    if (e.isDirectory()) out.push(...(await walk(file)));
  }
  return out;
}

describe("secrets stay out of every output", () => {
  it("runs init, render, serve, join, push, plan, status, events and revoke, and no output holds a secret", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-sec-secrets-"));
    const state = path.join(dir, ".vmmeet");
    const cli = (...args: string[]) => rec.cli(args, dir);
    expect((await cli("init", "--dir", dir)).code).toBe(0);
    expect((await cli("validate")).code).toBe(0);
    expect((await cli("render", "--out", path.join(dir, "rendered"))).code).toBe(0);
    const coord = await startCoordinator(rec, { dir, state, args: ["--heartbeat", "1"] });

    // Each VM: a sandbox root with the rcctl double, sleepers for its services, the prosodyctl simulator.
    const sleeper = path.join(dir, "sleeper.mjs");
    await writeFile(sleeper, "setInterval(() => {}, 1000);\n");
    const vms: Record<string, { root: string; state: string; rcctl: string; prosodyctl?: string }> = {};
    const tokens: string[] = [];
    let caHash = "";
    for (const node of NODES) {
      const root = path.join(dir, "vms", node, "root");
      await mkdir(root, { recursive: true });
      roots.push(root);
      const rcctl = await makeRcctl(root);
      let prosodyctl: string | undefined;
      if (node === "xmpp")
        prosodyctl = (await installSimulatedVm(root, "xmpp", { netDir: path.join(dir, "net"), rcctl }))
          .prosodyctl;
      for (const svc of SERVICES[node])
        await writeRcScript(root, svc, {
          daemon: `${process.execPath} ${sleeper} ${node}-${svc}`,
          bg: true,
          timeout: 5,
        });
      vms[node] = {
        root,
        state: path.join(dir, "vms", node, "state"),
        rcctl,
        ...(prosodyctl ? { prosodyctl } : {}),
      };
      const t = await cli("agents", "token", node, "--ttl", "10m", "--json");
      expect(t.code, t.err).toBe(0);
      const answer = JSON.parse(t.out) as { token: string; caHash: string };
      tokens.push(answer.token);
      caHash = answer.caHash;
    }
    const agentArgs = (node: string) =>
      vms[node]!.prosodyctl ? ["--prosodyctl", vms[node]!.prosodyctl!] : [];
    const agents = new Map<string, ReturnType<typeof startAgent>>();
    NODES.forEach((node, i) => {
      agents.set(
        node,
        startAgent(rec, {
          node,
          url: coord.url,
          root: vms[node]!.root,
          state: vms[node]!.state,
          rcctl: vms[node]!.rcctl,
          join: { token: tokens[i]!, caHash },
          args: agentArgs(node),
        }),
      );
    });
    for (const [node, a] of agents)
      await waitFor(() => /connected to coordinator/.test(a.output()), {
        what: `${node} connected`,
        timeoutMs: 20_000,
      });

    // A push: the rollout reaches the host and xmpp (prosody's gate cannot pass with sleepers for services).
    const push = await cli("push", "--timeout", "4");
    expect([0, 1]).toContain(push.code);
    // Restarted agents (mutual TLS from their state, no --join) catch up with the generation in force.
    for (const node of ["xmpp", "jicofo", "jvb", "web"]) {
      await agents.get(node)!.stop();
      agents.set(
        node,
        startAgent(rec, {
          node,
          url: coord.url,
          root: vms[node]!.root,
          state: vms[node]!.state,
          rcctl: vms[node]!.rcctl,
          args: agentArgs(node),
          label: `vmmeet-agent ${node} (restarted)`,
        }),
      );
    }
    const secretsJson = JSON.parse(await readFile(path.join(state, "secrets.json"), "utf8")) as Record<
      string,
      string
    >;
    const jicofoConf = path.join(vms.jicofo!.root, "etc/jicofo/jicofo.conf");
    await waitFor(
      async () => (await readFile(jicofoConf, "utf8").catch(() => "")).includes(secretsJson.focusPassword!),
      { what: "jicofo.conf with its password on the jicofo VM", timeoutMs: 30_000 },
    );
    const focusAccount = path.join(vms.xmpp!.root, "var/prosody/auth%2ejts%2efips%2ede/accounts/focus.dat");
    await waitFor(() => stat(focusAccount).catch(() => null), {
      what: "prosodyctl registered focus",
      timeoutMs: 30_000,
    });
    await waitFor(() => stat(path.join(vms.jvb!.root, "etc/jvb/jvb.conf")).catch(() => null), {
      what: "jvb.conf on the jvb VM",
      timeoutMs: 30_000,
    });

    // The other commands, against the live coordinator.
    for (const args of [
      ["plan"],
      ["status"],
      ["status", "--json"],
      ["events", "--limit", "500"],
      ["agents", "list"],
      ["agents", "list", "--json"],
      ["agents", "revoke", "web"],
      ["events", "--limit", "500", "--json"],
    ])
      expect([0, 1, 2], args.join(" ")).toContain((await cli(...args)).code);

    // Files holding secrets: 0640, group the program's account (here the test's own, --lenient-accounts).
    for (const [node, file] of [
      ["jicofo", "etc/jicofo/jicofo.conf"],
      ["jicofo", "etc/jicofo/jicofo.in.sh"],
      ["jvb", "etc/jvb/jvb.conf"],
      ["xmpp", "etc/prosody/prosody.cfg.lua"],
      ["xmpp", "var/prosody/auth.jts.fips.de.key"],
    ] as const) {
      const st = await stat(path.join(vms[node]!.root, file));
      expect(st.mode & 0o777, file).toBe(0o640);
      expect(st.uid, file).toBe(process.getuid?.());
    }
    // State directories 0700 and nothing in them readable by others, on every VM and on the host.
    for (const node of NODES) {
      expect((await stat(vms[node]!.state)).mode & 0o777).toBe(0o700);
      for (const e of await walk(vms[node]!.state))
        expect(e.mode & 0o077, `${e.file} ${e.mode.toString(8)}`).toBe(0);
    }
    expect((await stat(state)).mode & 0o777).toBe(0o700);
    for (const e of await walk(state))
      if (!/\/(ca|auth|coordinator)\.crt$/.test(e.file))
        expect(e.mode & 0o077, `${e.file} ${e.mode.toString(8)}`).toBe(0);

    await rec.stopAll();
    rec.record("audit.log", await readFile(path.join(state, "audit.log"), "utf8"));
    rec.record("nodes.json", await readFile(path.join(state, "nodes.json"), "utf8").catch(() => ""));
    const secrets = await collectSecrets({
      coordinatorState: state,
      agentStates: NODES.map((n) => vms[n]!.state),
      tokens,
    });
    expect(secrets.filter((s) => s.label.startsWith("secrets.json")).length).toBe(4);
    expect(secrets.filter((s) => s.label.includes("/enroll/agent.key")).length).toBeGreaterThan(5 * 20);
    const findings = scanOutputs(
      rec.outputs,
      secrets,
      (out, s) =>
        (out.startsWith("vmmeet agents token") && s.startsWith("join token")) ||
        KNOWN_LEAKS.some((k) => k.output.test(out) && k.secret.test(s)),
    );
    expect(findings).toEqual([]);
    // The scan would have seen them: the outputs are substantial and the secrets were on the wire.
    const all = rec.outputs.map((o) => o.text()).join("\n");
    expect(all.length).toBeGreaterThan(20_000);
    expect(all).toMatch(/"msg":"apply finished"/);
  });
});
