// Day two in the sandbox (test/harness/deployment.ts: the real coordinator and agents, the rcctl double,
// the prosody/jicofo/jvb/nginx SIMULATORS): from a conference-ready deployment, changes are pushed one after
// the other. Each push must exit 0 without a rollback, leave the deployment conference-ready, and start,
// restart or reload exactly the services the change needs (read from the rcctl calls each node made).
import { readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { PROSODY } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deployment } from "./harness/deployment.js";
import { waitFor } from "./helpers/wait.js";

let d: Deployment;

beforeAll(async () => {
  d = await Deployment.start({ agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"] });
  await d.pushReady();
}, 240_000);
afterAll(async () => {
  await d?.remove();
}, 60_000);

/** Edits the spec file in place; an edit that changes nothing is a mistake of the test. */
async function editSpec(edit: (text: string) => string): Promise<void> {
  const text = await readFile(d.specFile, "utf8");
  const next = edit(text);
  if (next === text) throw new Error("the spec edit changed nothing");
  await writeFile(d.specFile, next);
}

const SERVICE_VERB = /^(start|stop|restart|reload) /;

/** Per node, the rcctl start/stop/restart/reload calls made since `since` (call counts per node). */
async function serviceCalls(since: Map<string, number>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const name of d.nodes.keys()) {
    const calls = (await d.rcctlCalls(name)).slice(since.get(name) ?? 0).filter((c) => SERVICE_VERB.test(c));
    if (calls.length > 0) out[name] = calls;
  }
  return out;
}

async function callCounts(): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const name of d.nodes.keys()) m.set(name, (await d.rcctlCalls(name)).length);
  return m;
}

/**
 * Pushes a spec edit as an admin would, from a deployment steady for longer than jicofo's and jvb's 90 s
 * grace periods (their agents are started again, so they know of no recent (re)start: recovery, not grace,
 * carries the push). Returns the push output; asserts exit 0, no rollback, conference-ready again and the
 * services each node started, restarted or reloaded.
 */
async function pushChange(
  edit: (text: string) => string,
  want: Record<string, string[]>,
  /** Node changes around the push: a node added gets its VM once the push is accepted. */
  nodes: { add?: string; remove?: string } = {},
): Promise<{ stdout: string; pushedAt: number }> {
  await d.leaveGracePeriods();
  await editSpec(edit);
  const before = await callCounts();
  const generation = (await d.status()).desiredGeneration;
  const pushedAt = Date.now();
  const pushing = d.push(120);
  if (nodes.add) {
    await waitFor(async () => (await d.status()).desiredGeneration > generation, {
      what: "the push accepted",
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    await d.addNode(nodes.add);
  }
  const push = await pushing;
  // The host's vm.conf no longer names the removed node: its VM stops.
  if (nodes.remove) await d.removeNode(nodes.remove);
  expect(push.stdout, push.stdout).not.toMatch(/rolled back|restoring generation/);
  expect(push.code, push.stdout).toBe(0);
  // A bridge taken out of the spec leaves jicofo's brewery as expected: conference-ready again as soon as
  // the remaining bridges are in it (the desired state tells jicofo's agent the spec's bridges).
  await d.waitVerdict("conference-ready", 60_000);
  expect(await serviceCalls(before), push.stdout).toEqual(want);
  return { stdout: push.stdout, pushedAt };
}

const set = (re: RegExp, value: string) => (t: string) => t.replace(re, value);

describe("day two: each change to a running deployment rolls out without a rollback", () => {
  it("xmppWebsocket on: plan lists the restart, the reload and who reconnects; prosody restarts, nginx reloads", async () => {
    await editSpec(set(/^xmppWebsocket: false/m, "xmppWebsocket: true"));
    const plan = await d.vmmeet("plan");
    expect(plan.code, plan.stdout).toBe(2);
    expect(plan.stdout).toMatch(/^xmpp:\n(?: {2}.*\n)*? {2}restart: prosody\n/m);
    expect(plan.stdout).toMatch(
      /^ {2}reconnect \(not restarted\): jicofo on jicofo \(XMPP \(5222\)\), jvb on jvb \(XMPP \(5222\), the brewery\), nginx on web \(BOSH, XMPP websocket\)$/m,
    );
    expect(plan.stdout).toMatch(/^web:\n(?: {2}.*\n)*? {2}reload: {2}nginx\n/m);
    for (const n of ["vmm", "jicofo", "jvb"]) expect(plan.stdout).toContain(`${n}: no changes`);
    await editSpec(set(/^xmppWebsocket: true/m, "xmppWebsocket: false"));
    const { pushedAt } = await pushChange(set(/^xmppWebsocket: false/m, "xmppWebsocket: true"), {
      xmpp: ["restart prosody"],
      web: ["reload nginx"],
    });
    // The gate waited for the bridge to be back in jicofo's brewery after prosody's restart.
    const st = await d.status();
    const j = st.nodes.find((n) => n.node === "jicofo")?.health.find((h) => h.component === "jicofo");
    expect(Date.parse(j?.bridgesSince?.jvb ?? "")).toBeGreaterThanOrEqual(pushedAt);
  }, 180_000);

  it("xmppWebsocket off", async () => {
    await pushChange(set(/^xmppWebsocket: true/m, "xmppWebsocket: false"), {
      xmpp: ["restart prosody"],
      web: ["reload nginx"],
    });
  }, 180_000);

  it("bridgeChannel colibri-websocket: jvb restarts, nginx reloads; and back", async () => {
    await pushChange(set(/^bridgeChannel: none/m, "bridgeChannel: colibri-websocket"), {
      jvb: ["restart jvb"],
      web: ["reload nginx"],
    });
    await pushChange(set(/^bridgeChannel: colibri-websocket/m, "bridgeChannel: none"), {
      jvb: ["restart jvb"],
      web: ["reload nginx"],
    });
  }, 300_000);

  it("auth anonymous -> internal with guests, and back", async () => {
    // nginx.conf does not change (config.js does, which nginx serves as a file): no reload.
    await pushChange(set(/^ {2}mode: anonymous/m, "  mode: internal"), {
      xmpp: ["restart prosody"],
      jicofo: ["restart jicofo"],
    });
    await pushChange(set(/^ {2}mode: internal/m, "  mode: anonymous"), {
      xmpp: ["restart prosody"],
      jicofo: ["restart jicofo"],
    });
  }, 300_000);

  it("a jvb's udpPort: jvb restarts (the host's pf.conf is loaded by pfctl, no rcctl)", async () => {
    await pushChange(set(/jvb: \{ udpPort: 10000 \}/, "jvb: { udpPort: 10001 }"), { jvb: ["restart jvb"] });
  }, 180_000);

  it("web settings: config.js only, nothing restarts", async () => {
    await pushChange((t) => `${t}web:\n  welcomePage: false\n  prejoin: false\n`, {});
  }, 180_000);

  it("host.adminNetworks: pf.conf only, nothing restarts", async () => {
    await pushChange(set(/^ {2}adminNetworks: \[\]/m, "  adminNetworks: [192.0.2.0/24]"), {});
  }, 180_000);

  it("host.monitorNetworks: pf.conf, and jicofo's and jvb's REST servers listen beyond loopback (both restart)", async () => {
    await pushChange(set(/^ {2}monitorNetworks: \[\]/m, "  monitorNetworks: [198.51.100.0/24]"), {
      jicofo: ["restart jicofo"],
      jvb: ["restart jvb"],
    });
  }, 180_000);

  it("jitsi.release 9646 -> 11146 (the newest, with Java 17) -> 9646: prosody's template changes, prosody restarts, jicofo and jvb reconnect", async () => {
    await pushChange(
      (t) => set(/^ {2}java: 11$/m, "  java: 17")(set(/^ {2}release: 9646$/m, "  release: 11146")(t)),
      { xmpp: ["restart prosody"] },
    );
    await pushChange(
      (t) => set(/^ {2}java: 17$/m, "  java: 11")(set(/^ {2}release: 11146$/m, "  release: 9646")(t)),
      { xmpp: ["restart prosody"] },
    );
  }, 300_000);

  it("turn on and off: the turn node is added (its VM, agent and turnserver) and removed again", async () => {
    const turnNode = "  - name: turn\n    role: turn\n    address: 100.64.5.3\n";
    await pushChange(
      (t) =>
        t
          .replace(/^ {2}enabled: false {12}# true needs a node with role: turn$/m, "  enabled: true")
          .replace(/\n# TLS for the public site/, `${turnNode}\n# TLS for the public site`),
      // A new VM's first apply: its syslog.conf (syslogd is restarted: the sandbox's stand-in has no
      // reload) and its service started; prosody gets the TURN credentials.
      { turn: ["restart syslogd", "start turnserver"], xmpp: ["restart prosody"] },
      { add: "turn" },
    );
    await pushChange(
      (t) => t.replace(/^ {2}enabled: true$/m, "  enabled: false").replace(turnNode, ""),
      { xmpp: ["restart prosody"] },
      { remove: "turn" },
    );
  }, 300_000);

  it("a jvb node added, and removed again: the new bridge joins the brewery, nothing else restarts", async () => {
    const jvb2 = "  - name: jvb2\n    role: jvb\n    address: 100.64.6.3\n    jvb: { udpPort: 10002 }\n";
    const { pushedAt } = await pushChange(
      (t) => t.replace(/\n# TLS for the public site/, `${jvb2}\n# TLS for the public site`),
      { jvb2: ["restart syslogd", "start jvb"] },
      { add: "jvb2" },
    );
    const jicofo = (await d.status()).nodes
      .find((n) => n.node === "jicofo")
      ?.health.find((h) => h.component === "jicofo");
    expect(jicofo?.bridges?.sort()).toEqual(["jvb", "jvb2"]);
    expect(Date.parse(jicofo?.bridgesSince?.jvb2 ?? "")).toBeGreaterThanOrEqual(pushedAt);
    await pushChange((t) => t.replace(jvb2, ""), {}, { remove: "jvb2" });
    const after = await waitFor(
      async () => {
        const st = await d.status();
        const h = st.nodes.find((n) => n.node === "jicofo")?.health.find((x) => x.component === "jicofo");
        return h?.bridges?.length === 1 && st.verdict.verdict === "conference-ready" && h;
      },
      { what: "jicofo without jvb2, and conference-ready" },
    );
    expect(after.bridges).toEqual(["jvb"]);
    // jicofo did log jvb2 leaving (so the verdict is clean because the departure was expected, not unseen).
    expect(after.signals.map((x) => x.signal)).toContain("brewery-instance-removed");
  }, 300_000);

  it("the agent on the jicofo VM restarts while jicofo runs: it still knows the bridges in the brewery", async () => {
    const beforeNode = (await d.status()).nodes.find((n) => n.node === "jicofo");
    const before = beforeNode?.health.find((h) => h.component === "jicofo");
    expect(before?.bridges).toEqual(["jvb"]);
    const jicofoCalls = (await d.rcctlCalls("jicofo")).length;
    const restartedAt = Date.now();
    await d.restartAgent("jicofo");
    // The new process's report (its component states begin after the restart): the brewery it resumed with,
    // not an empty one.
    const { node: afterNode, h: after } = await waitFor(
      async () => {
        const n = (await d.status()).nodes.find((x) => x.node === "jicofo");
        const h = n?.health.find((x) => x.component === "jicofo");
        return n?.connected && h && h.state !== "unknown" && Date.parse(h.since) >= restartedAt
          ? { node: n, h }
          : undefined;
      },
      { what: "the restarted agent reporting", timeoutMs: 60_000, intervalMs: 200 },
    );
    expect(after.bridges).toEqual(["jvb"]);
    // The same join, kept with the log offsets: no new "Added brewery instance" line was read. The agent
    // keeps the time on its own clock; status shows it on the coordinator's, moved by the skew measured on
    // each connection (fleet/clock.ts), so the two readings may differ by the two measurements' bounds.
    const bound = (beforeNode?.clock?.uncertaintyMs ?? 0) + (afterNode.clock?.uncertaintyMs ?? 0) + 1;
    const joined = (h: typeof after | undefined) => Date.parse(h?.bridgesSince?.jvb ?? "");
    expect(Math.abs(joined(after) - joined(before))).toBeLessThanOrEqual(bound);
    // jicofo itself was not restarted (the new agent only asked rcctl: check, get flags).
    expect((await d.rcctlCalls("jicofo")).slice(jicofoCalls).filter((c) => SERVICE_VERB.test(c))).toEqual([]);
    await d.waitVerdict("conference-ready", 60_000);
  }, 300_000);

  it("vmmeet secrets rotate --all: prosody's accounts first, then jicofo and the bridge restart; nothing printed", async () => {
    await d.leaveGracePeriods();
    const before = await callCounts();
    const old = await readFile(path.join(d.stateDir, "secrets.json"), "utf8");
    const pushedAt = Date.now();
    const r = await d.vmmeet("secrets", "rotate", "--all", "--timeout", "120");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok: focus, jvb, truststore, turn rotated; generation \d+ rolled out$/m);
    await d.waitVerdict("conference-ready", 60_000);
    // New values, the previous ones gone from the state directory, none of either printed.
    const now = await readFile(path.join(d.stateDir, "secrets.json"), "utf8");
    const oldValues = Object.values(JSON.parse(old) as Record<string, unknown>).filter(isSecret);
    const newValues = Object.values(JSON.parse(now) as Record<string, unknown>).filter(isSecret);
    expect(newValues).toHaveLength(4);
    for (const v of newValues) expect(oldValues).not.toContain(v);
    for (const v of [...oldValues, ...newValues]) expect(r.stdout + r.stderr).not.toContain(v);
    expect(await readdir(d.stateDir)).not.toContain("secrets.json.previous");
    // Only jicofo and the bridge restart: prosody's users get the new passwords without a restart (the
    // accounts are changed in place, one account per user).
    expect(await serviceCalls(before)).toEqual({ jicofo: ["restart jicofo"], jvb: ["restart jvb"] });
    expect(await accountFiles()).toEqual(["focus.dat", "jvb.dat"]);
    // prosody saw both log in again with the new passwords (the xmpp agent reports its signals on its own
    // schedule, so the status may show them a moment after the verdict).
    const loggedInSince = async (who: string) => {
      const prosody = (await d.status()).nodes
        .find((n) => n.node === "xmpp")
        ?.health.find((h) => h.component === "prosody");
      // prosody's log stamps whole seconds
      const since = Math.floor(pushedAt / 1000) * 1000;
      return Date.parse(prosody?.signals.find((x) => x.signal === who)?.at ?? "") >= since;
    };
    for (const who of ["c2s-authenticated-focus", "c2s-authenticated-jvb"])
      await waitFor(() => loggedInSince(who), {
        what: `prosody reports ${who} after the rotation`,
        timeoutMs: 30_000,
        intervalMs: 200,
      });
  }, 240_000);

  it("a rotation prosody does not take (a wrong focus password): rolled back, conference-ready on the old generation", async () => {
    await d.leaveGracePeriods();
    // prosodyctl on the xmpp VM accepts and does nothing: jicofo gets a new password prosody never had.
    const prosodyctl = path.join(d.nodes.get("xmpp")!.root, PROSODY.prosodyctl.value);
    const real = await readFile(prosodyctl, "utf8");
    await writeFile(
      prosodyctl,
      "#!/bin/sh\n# fault injected by e2e-day-two.test.ts: accepts and does nothing\nexit 0\n",
    );
    const secretsBefore = await readFile(path.join(d.stateDir, "secrets.json"), "utf8");
    const generationBefore = (await d.status()).desiredGeneration;
    try {
      const r = await d.vmmeet("secrets", "rotate", "focus", "--timeout", "120");
      expect(r.code, r.stdout).toBe(1);
      expect(r.stdout).toMatch(/jicofo on jicofo failed after its own restart, and waiting will not heal it/);
      expect(r.stdout).toMatch(/rolled back to generation \d+; conference-ready again/);
      expect(r.stdout).toMatch(/^FAILED: .*the previous focus values are in force again$/m);
    } finally {
      await writeFile(prosodyctl, real);
    }
    // The previous value is in force again, byte for byte, and the deployment runs the old generation's
    // content (plan: nothing to change).
    expect(await readFile(path.join(d.stateDir, "secrets.json"), "utf8")).toBe(secretsBefore);
    const st = await d.waitVerdict("conference-ready", 60_000);
    expect(st.desiredGeneration).toBe(generationBefore + 2);
    const plan = await d.vmmeet("plan");
    expect(plan.code, plan.stdout).toBe(0);
  }, 240_000);
});

const isSecret = (v: unknown): v is string => typeof v === "string" && v.length >= 16;

/** The account files in the xmpp VM's prosody data directory for auth.DOMAIN. */
async function accountFiles(): Promise<string[]> {
  const data = path.join(d.nodes.get("xmpp")!.root, "var/prosody");
  const host = (await readdir(data)).find((h) => h.startsWith("auth%2e"));
  return host ? (await readdir(path.join(data, host, "accounts"))).sort() : [];
}
