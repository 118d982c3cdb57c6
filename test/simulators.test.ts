// The jitsi SIMULATORS (test/simulators: test doubles of prosody, prosodyctl, jicofo, jvb and nginx) run
// as rc.d services of the rcctl test double, one fake VM root each, against files rendered by the real
// renderers with real material (CA, auth certificate, PKCS#12 truststores). Their log lines go through
// the real classifier, so a format drift between simulator and rules shows here. Every wait is on a
// condition (a log line, a file, an HTTP answer), never a sleep. KEEP_SIM=1 keeps the VM roots for a look.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NodeDesired } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProsodyActions } from "../packages/agent/src/actions/prosody.js";
import { execRunner } from "../packages/agent/src/actions/runner.js";
import { classify } from "../packages/agent/src/health/classify.js";
import { SessionCorrelator } from "../packages/agent/src/health/correlator.js";
import { probeComponent } from "../packages/agent/src/health/probes.js";
import { trackersFor } from "../packages/agent/src/health/state.js";
import { renderDeployment } from "../packages/coordinator/src/render/index.js";
import { createCa, loadOrCreateMaterial, trustStoreP12 } from "../packages/coordinator/src/secrets/index.js";
import { deploymentVerdict, type NodeHealth } from "../packages/shared/src/verdict.js";
import { killDoubleProcesses, runRcctl } from "./doubles/rcctl/index.js";
import { loadSpec } from "./fixtures/material.js";
import { waitFor } from "./helpers/wait.js";
import {
  installSimulatedVm,
  SIMULATOR,
  SIMULATORS_DIR,
  type SimRole,
  type SimulatedVm,
  simulatedPort,
  startService,
  writeRenderedFiles,
} from "./simulators/index.js";
import { RECONNECT } from "./simulators/lib.mjs";
import { SIM_SEED_ENV, simRandom } from "./simulators/random.mjs";

const DOMAIN = "jts.fips.de";
const AUTH = `auth.${DOMAIN}`;
const BREWERY = `jvbbrewery@internal.auth.${DOMAIN}`;
const ADDR = { web: "100.64.1.3", xmpp: "100.64.2.3", jicofo: "100.64.3.3", jvb: "100.64.4.3" } as const;
const ROLES: SimRole[] = ["web", "xmpp", "jicofo", "jvb"];

let base: string;
let netDir: string;
let nodes: Record<string, NodeDesired>;
let truststorePassword: string;
const vms = {} as Record<SimRole, SimulatedVm>;

const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");

interface CatalogEntry {
  level: string;
  file: string;
  line: number;
  class: string;
  method: string;
  template: string;
}
const CATALOG = (
  JSON.parse(readFileSync(path.join(SIMULATORS_DIR, "reconnect-catalog-9646.json"), "utf8")) as {
    messages: CatalogEntry[];
  }
).messages;

interface JitsiMessage {
  raw: string;
  level: string;
  where: string;
  line: number;
  text: string;
}
/** The Jitsi-layout records of a syslog file's lines: level, Class.method#line and the message text. */
function jitsiMessages(lines: string[]): JitsiMessage[] {
  const out: JitsiMessage[] = [];
  for (const raw of lines) {
    const m = /(INFO|WARNING|SEVERE): \[\d+\] (?:\[[^\]]*\] )*([\w$.<>]+)#(\d+): (.*)$/.exec(raw);
    if (m) out.push({ raw, level: m[1]!, where: m[2]!, line: Number(m[3]), text: m[4]! });
  }
  return out;
}
/** The catalog entry a message was printed from: same level, method and line, and its template matches. */
function catalogEntry(m: JitsiMessage): CatalogEntry | undefined {
  const method = m.where.split(".").pop() ?? "";
  return CATALOG.find((c) => {
    const re = new RegExp(
      `^${c.template
        .split("{}")
        .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
        .join(".*")}$`,
    );
    return c.level === m.level && c.line === m.line && method.includes(c.method) && re.test(m.text);
  });
}
const logOf = {
  prosody: () => read(path.join(vms.xmpp.root, "var/prosody/prosody.log")),
  jicofo: () => read(path.join(vms.jicofo.root, "var/log/jicofo")),
  jvb: () => read(path.join(vms.jvb.root, "var/log/jvb")),
  nginx: () => read(path.join(vms.web.root, "var/www/logs/error.log")),
};
/** The log's length now, and later the lines written since. */
function mark(which: keyof typeof logOf) {
  const at = logOf[which]().length;
  return () => logOf[which]().slice(at).split("\n").filter(Boolean);
}

function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: urlPath }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on("error", reject);
  });
}

async function health(role: "jicofo" | "jvb"): Promise<number> {
  const port = await simulatedPort(netDir, ADDR[role], role === "jicofo" ? 8888 : 8080);
  if (port === undefined) throw new Error(`${role}'s health endpoint is not published`);
  return (await get(port, "/about/health")).status;
}

async function rcctl(role: SimRole, ...args: string[]): Promise<void> {
  const r = await runRcctl(vms[role].rcctl, args);
  if (r.code !== 0) throw new Error(`rcctl ${args.join(" ")}: ${r.code} ${r.stdout}${r.stderr}`);
}

const flagsOf = (node: string, service: string) =>
  nodes[node]?.services.find((s) => s.name === service)?.flags;
const jvbConfPath = () => path.join(vms.jvb.root, "etc/jvb/jvb.conf");
const storePath = () => path.join(vms.jvb.root, "etc/ssl/jvb-key.store");

/** prosody's c2s sessions since a mark: session id -> its messages in order. */
function sessions(lines: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of lines) {
    const m = /^\w{3} \d\d \d\d:\d\d:\d\d (c2s[0-9a-f]+)\t\w+\t(.*)$/.exec(l);
    if (!m) continue;
    const list = out.get(m[1] as string) ?? [];
    list.push(m[2] as string);
    out.set(m[1] as string, list);
  }
  return out;
}

/**
 * What an agent on each simulated VM would report: its desired state's log files classified line by line
 * (with prosody's session correlator), its probes run against the simulated network, fed to the health
 * state machine; then the coordinator's verdict over all nodes.
 */
async function verdictNow(since: Map<string, number>) {
  const out: NodeHealth[] = [];
  for (const role of ROLES) {
    const vm = vms[role];
    const desired = nodes[role] as NodeDesired;
    const trackers = trackersFor(desired);
    let at = Date.now() - 60_000;
    for (const source of desired.health.logs) {
      const correlator = new SessionCorrelator();
      const file = path.join(vm.root, source.path);
      for (const line of read(file)
        .slice(since.get(file) ?? 0)
        .split("\n")) {
        if (line === "" || (source.tag !== undefined && !line.includes(` ${source.tag}[`))) continue;
        let r = classify(source.component, line, desired.health.release);
        if (source.component === "prosody") r = correlator.refine(line, r);
        if (r.signal === null) continue;
        trackers.get(source.component)?.observe({
          kind: "signal",
          signal: {
            component: source.component,
            signal: r.signal,
            label: r.label,
            explain: r.explain,
            ...(r.fix === undefined ? {} : { fix: r.fix }),
            ...(r.detail === undefined ? {} : { detail: r.detail }),
            at: new Date(at++).toISOString(),
          },
        });
      }
    }
    for (const probe of desired.health.probes) {
      const obs = await probeComponent(probe, {
        check: async (service) => (await runRcctl(vm.rcctl, ["check", service])).code === 0,
        mapPort: (port) => simulatedPort(netDir, ADDR[role], port),
      });
      for (const o of obs) trackers.get(probe.component)?.observe(o);
    }
    out.push({ node: role, role, health: [...trackers.values()].map((t) => t.report()) });
  }
  return deploymentVerdict(out);
}

/** Where each watched log ends now: an agent that starts watching here reads only what follows. */
function logEnds(): Map<string, number> {
  const out = new Map<string, number>();
  for (const role of ROLES) {
    for (const l of (nodes[role] as NodeDesired).health.logs) {
      const file = path.join(vms[role].root, l.path);
      out.set(file, read(file).length);
    }
  }
  return out;
}
let watchFrom: Map<string, number>;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "vmmeet-sim-"));
  netDir = path.join(base, "net");
  const spec = loadSpec("paper-7648.yaml", (raw) => {
    (raw.jitsi as { release: number }).release = 9646;
  });
  const material = await loadOrCreateMaterial(path.join(base, "state"), spec);
  truststorePassword = material.secrets.truststorePassword;
  nodes = renderDeployment({ spec, secrets: material.secrets, pki: material.pki });
  for (const role of ROLES) {
    const root = path.join(base, role);
    const node = nodes[role];
    if (!node) throw new Error(`no rendered node ${role}`);
    await writeRenderedFiles(root, node);
    vms[role] = await installSimulatedVm(root, role, { netDir, backoffMaxMs: 500 });
  }
});

afterAll(async () => {
  for (const role of ROLES) if (vms[role]) await killDoubleProcesses(vms[role].root);
  if (base && !process.env.KEEP_SIM) await rm(base, { recursive: true, force: true });
});

describe("jitsi simulators on rendered files", () => {
  it("every simulator says what it is in --help", () => {
    for (const [name, file] of Object.entries(SIMULATOR)) {
      const r = spawnSync(process.execPath, [file, "--help"], { encoding: "utf8" });
      expect(r.status, name).toBe(0);
      expect(r.stdout.split("\n")[0], name).toMatch(new RegExp(`^${name}-simulator: a test double of `));
    }
    // like the OpenBSD port's launcher, jicofo refuses to start without --host
    const r = spawnSync(process.execPath, [SIMULATOR.jicofo, "--root", base, "--net", netDir], {
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("usage: jicofo --host=HOST");
  });

  it("prosodyctl simulator: the agent's prosody-user action registers accounts as salted keys", async () => {
    const xmpp = nodes.xmpp as NodeDesired;
    const actions = new ProsodyActions({
      prosodyctl: vms.xmpp.prosodyctl as string,
      root: vms.xmpp.root,
      runner: execRunner(),
    });
    const state = { users: {}, roster: {} };
    const salt = Buffer.from("test-salt");
    const users = xmpp.actions.filter((a) => a.kind === "prosody-user");
    expect(users.map((u) => `${u.user}@${u.host}`).sort()).toEqual([`focus@${AUTH}`, `jvb@${AUTH}`]);
    for (const u of users) {
      expect(await actions.ensureUser(u, state, salt)).toMatchObject({
        status: "done",
        detail: "registered",
      });
      const dat = await readFile(
        path.join(vms.xmpp.root, `var/prosody/auth%2ejts%2efips%2ede/accounts/${u.user}.dat`),
        "utf8",
      );
      expect(dat).toMatch(/\["stored_key"\] = "[0-9a-f]{40}";/);
      expect(dat).not.toContain(u.password);
      // the existence check finds the file: a second apply does nothing
      expect(await actions.ensureUser(u, state, salt)).toMatchObject({ status: "skipped" });
    }
    for (const r of xmpp.actions.filter((a) => a.kind === "prosody-roster-subscribe")) {
      expect(await actions.ensureRoster(r, state)).toMatchObject({ status: "done" });
    }
    const bad = await execRunner().run(vms.xmpp.prosodyctl as string, [
      "register",
      "focus",
      "nohost.example",
      "pw",
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("hostname does not exist");
  });

  it("prosody, jicofo and jvb come up: jicofo adds the bridge and its health turns 200", async () => {
    await startService(vms.xmpp, flagsOf("xmpp", "prosody"));
    await waitFor(() => simulatedPort(netDir, ADDR.xmpp, 5222), { what: "prosody's c2s port" });
    expect(logOf.prosody()).toContain("prosody-simulator");
    const jicofoFlags = flagsOf("jicofo", "jicofo");
    expect(jicofoFlags).toBe(`--host=${DOMAIN}`);
    await startService(vms.jicofo, jicofoFlags);
    await waitFor(() => logOf.jicofo().includes("Joined the room."), { what: "jicofo in the brewery room" });
    // no bridge yet: jicofo's health fails and jicofo says why
    expect(await health("jicofo")).toBe(500);
    await waitFor(() => logOf.jicofo().includes("No operational bridges available"), {
      what: "jicofo's health failure",
    });

    await startService(vms.jvb, flagsOf("jvb", "jvb"));
    const added = await waitFor(
      () =>
        logOf
          .jicofo()
          .split("\n")
          .find((l) => l.includes("Added brewery instance")),
      { what: "Added brewery instance" },
    );
    expect(added).toMatch(
      new RegExp(
        `^\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d jicofo jicofo\\[\\d+\\]: Jicofo \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO: \\[\\d+\\] \\[type=bridge brewery=jvbbrewery\\] BaseBrewery\\.addInstance#347: Added brewery instance: ${BREWERY.replaceAll(".", "\\.")}/jvb$`,
      ),
    );
    expect(classify("jicofo", added)).toMatchObject({
      signal: "brewery-instance-added",
      detail: `${BREWERY}/jvb`,
    });
    expect(await health("jicofo")).toBe(200);
    expect(await health("jvb")).toBe(200);

    // the paper's "all good" sequence in prosody's log, for focus and for jvb
    const byUser = [...sessions(logOf.prosody().split("\n")).values()];
    for (const user of ["focus", "jvb"]) {
      expect(byUser).toContainEqual([
        "Client connected",
        "Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)",
        `Authenticated as ${user}@${AUTH}`,
      ]);
    }
    const lines = logOf.prosody().split("\n");
    const focusLine = lines.find((l) => l.includes(`Authenticated as focus@${AUTH}`)) as string;
    expect(classify("prosody", focusLine)).toMatchObject({
      signal: "c2s-authenticated-focus",
      label: "healthy",
    });
    expect(
      classify("prosody", lines.find((l) => l.includes("Activated service 'c2s'")) as string).signal,
    ).toBe("c2s-port-activated");
    // jvb's lines reach its log through the logger process: wait for them rather than assume
    const joined = await waitFor(
      () =>
        logOf
          .jvb()
          .split("\n")
          .find((l) => l.includes("Joined MUC")),
      { what: "jvb's Joined MUC" },
    );
    const jvbLog = logOf.jvb();
    expect(jvbLog.split("\n")[0]).toContain("jvb-simulator");
    expect(classify("jvb", joined)).toMatchObject({ signal: "brewery-muc-joined", detail: BREWERY });
    const srtp = await waitFor(
      () =>
        logOf
          .jvb()
          .split("\n")
          .find((l) => l.includes("jitsisrtp")),
      { what: "jvb's srtp line" },
    );
    expect(classify("jvb", srtp).signal).toBe("srtp-native-loaded");
    // prosody's MUC registry knows the bridge
    const registry = JSON.parse(read(path.join(vms.xmpp.root, "var/prosody/simulator-muc.json")));
    expect(registry.rooms[BREWERY].sort()).toEqual(["focus", "jvb"]);
  });

  it("nginx simulator proxies /http-bind to prosody and logs a refused upstream like nginx", async () => {
    await startService(vms.web, flagsOf("web", "nginx"));
    const port = await waitFor(() => simulatedPort(netDir, ADDR.web, 443), { what: "nginx's 443" });
    expect(await get(port, "/http-bind")).toMatchObject({
      status: 200,
      body: expect.stringContaining("It works"),
    });
    const errors = mark("nginx");
    await rcctl("xmpp", "stop", "prosody");
    expect((await get(port, "/http-bind")).status).toBe(502);
    const line = await waitFor(() => errors().find((l) => l.includes("connecting to upstream")), {
      what: "the upstream error",
    });
    expect(classify("nginx", line)).toMatchObject({
      signal: "bosh-upstream-connect-failed",
      label: "failed",
    });
    // the clients lost prosody: jicofo forgets the bridge
    await waitFor(() => logOf.jicofo().includes(`Removed brewery instance: ${BREWERY}/jvb`), {
      what: "Removed brewery instance",
    });
    expect(await health("jicofo")).toBe(500);
  });

  it("a restarted prosody gets its clients back (reconnect with backoff)", async () => {
    watchFrom = logEnds();
    const jicofo = mark("jicofo");
    await rcctl("xmpp", "start", "prosody");
    const line = await waitFor(() => jicofo().find((l) => l.includes("Added brewery instance")), {
      what: "the bridge back",
    });
    expect(line).toContain(`${BREWERY}/jvb`);
    expect(await health("jicofo")).toBe(200);
  });

  it("the health state machine and the verdict see a conference-ready deployment", async () => {
    const v = await verdictNow(watchFrom);
    expect(v, v.reasons.join("\n")).toMatchObject({ verdict: "conference-ready" });
    expect(v.reasons).toContain("jicofo on jicofo has 1 bridge in the brewery");
  });

  it("a prosody restart: jicofo and jvb print release 9646's lines in 9646's order, reconnect and rejoin", async () => {
    const jicofo = mark("jicofo");
    const jvb = mark("jvb");
    await rcctl("xmpp", "restart", "prosody");
    await waitFor(
      () =>
        jicofo().some((l) => l.includes("Added new videobridge")) &&
        jvb().some((l) => l.includes("Joined MUC")),
      { what: "the bridge back in the brewery", timeoutMs: 30_000 },
    );
    expect(await health("jicofo")).toBe(200);
    // Every message is one of the real programs' at its level and line (test/simulators' catalog extract).
    const j = jitsiMessages(jicofo());
    const v = jitsiMessages(jvb());
    for (const m of [...j, ...v]) expect(catalogEntry(m), m.raw).toBeDefined();
    // jicofo (XmppProvider.kt, BaseBrewery.java at 9646): the stream error, the brewery emptied, smack's
    // countdown (ending in 0 twice) and failed attempts, then registered again and the bridge back.
    const seq = j.map((m) => catalogEntry(m)?.template).join("|");
    expect(seq).toMatch(
      /^XMPP connection closed on error: \{\}\|Left the room\.\|Removed brewery instance: \{\}\|Removing JVB: \{\}\|Lost a bridge: \{\}(\|XMPP reconnecting in: \{\} seconds\.|\|XMPP reconnection failed: \{\})+\|Registered\.\|Will discover components for \{\}\|Joined the room\.\|Added brewery instance: \{\}\|Added new videobridge: \{\}$/,
    );
    expect(j[0]?.text).toMatch(/^XMPP connection closed on error: system-shutdown /);
    const countdown = j.filter((m) => m.text.startsWith("XMPP reconnecting in:")).map((m) => m.text);
    expect(countdown.slice(-2)).toEqual([
      "XMPP reconnecting in: 0 seconds.",
      "XMPP reconnecting in: 0 seconds.",
    ]);
    // jvb (jicoco 1.1-141's MucClient): closed with prosody's stream error, then its 5 s task connects,
    // logs in and joins the brewery again.
    expect(v.map((m) => catalogEntry(m)?.template).join("|")).toMatch(
      /^Closed on error:(\|Error connecting:)*\|Connected\.\|Logging in\.\|Authenticated, b=\{\}\|Joined MUC: \{\}$/,
    );
    const closed = jvb().findIndex((l) => l.includes("Closed on error:"));
    expect(jvb()[closed + 1]).toContain("XMPPException$StreamErrorException: system-shutdown");
  });

  it("VMMEET_SIM_SEED, handed to jicofo by rcctl, fixes its reconnect delay: the same seed, the same wait", async () => {
    // smack's randomBase as the simulator draws it (lib.mjs RECONNECT with random.mjs simRandom).
    const base = (seed: number) =>
      RECONNECT.jicofo(1, simRandom("jicofo", { [SIM_SEED_ENV]: String(seed) })).delaySeconds(1);
    const seedFor = (b: number) => Array.from({ length: 1000 }, (_, i) => i).find((i) => base(i) === b) ?? -1;
    const [two, four] = [seedFor(2), seedFor(4)];
    try {
      for (const seed of [two, four, two]) {
        process.env[SIM_SEED_ENV] = String(seed);
        const bridgeBack = (lines: () => string[], what: string) =>
          waitFor(() => lines().some((l) => l.includes("Added brewery instance")), {
            what,
            timeoutMs: 30_000,
          });
        const started = mark("jicofo");
        await rcctl("jicofo", "restart", "jicofo");
        await bridgeBack(started, `jicofo (seed ${seed}) with the bridge in its brewery`);
        const jicofo = mark("jicofo");
        await rcctl("xmpp", "restart", "prosody");
        await bridgeBack(jicofo, `jicofo (seed ${seed}) back after prosody's restart`);
        const first = jicofo().find((l) => l.includes("XMPP reconnecting in:"));
        expect(first, `seed ${seed}`).toContain(`XMPP reconnecting in: ${base(seed) - 1} seconds.`);
      }
    } finally {
      delete process.env[SIM_SEED_ENV];
    }
  });

  it("stopping jvb removes the bridge from the brewery", async () => {
    const jicofo = mark("jicofo");
    await rcctl("jvb", "stop", "jvb");
    const removed = await waitFor(() => jicofo().find((l) => l.includes("Removed brewery instance")), {
      what: "Removed brewery instance",
    });
    expect(classify("jicofo", removed)).toMatchObject({
      signal: "brewery-instance-removed",
      label: "degraded",
      detail: `${BREWERY}/jvb`,
    });
    await waitFor(async () => (await health("jicofo")) === 500, { what: "jicofo unhealthy" });
    const v = await verdictNow(watchFrom);
    expect(v.verdict).toBe("down");
    expect(v.reasons[0]).toBe("jicofo on jicofo has no bridge in the brewery");
    expect(v.reasons).toContain("jvb on jvb is failed: jvb is not running (rcctl check jvb fails)");
  });

  it("a wrong jvb password: prosody logs the paper's failure pair and jicofo never adds the bridge", async () => {
    const good = await readFile(jvbConfPath(), "utf8");
    const password = /password = "([^"]+)"/.exec(good)?.[1] as string;
    await writeFile(jvbConfPath(), good.replace(password, "not-the-password"));
    const prosody = mark("prosody");
    const jicofo = mark("jicofo");
    const jvb = mark("jvb");
    await rcctl("jvb", "start", "jvb");
    // Two failed sessions: jvb retried, and jicofo had every chance to see a bridge.
    const failedSessions = await waitFor(
      () => {
        const failed = [...sessions(prosody()).values()].filter(
          (s) =>
            s.includes("Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)") &&
            !s.some((m) => m.startsWith("Authenticated as")),
        );
        return (
          failed.length >= 2 &&
          failed.every((s) => s.at(-1) === "Client disconnected: connection closed") &&
          failed
        );
      },
      { what: "two failed logins" },
    );
    expect(failedSessions[0]).toEqual([
      "Client connected",
      "Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)",
      "Client disconnected: connection closed",
    ]);
    const disconnect = prosody().find((l) => l.endsWith("Client disconnected: connection closed")) as string;
    expect(classify("prosody", disconnect).signal).toBe("c2s-auth-failed-disconnect");
    // jvb's record (message line + exception line) classifies as a SASL failure
    const lines = await waitFor(
      () => {
        const l = jvb();
        const k = l.findIndex((x) => x.includes("Failed to login."));
        return k >= 0 && k + 1 < l.length && l;
      },
      { what: "jvb's login failure record" },
    );
    const i = lines.findIndex((l) => l.includes("Failed to login."));
    expect(classify("jvb", `${lines[i]}\n${lines[i + 1]}`)).toMatchObject({
      signal: "xmpp-auth-failed",
      detail: "not-authorized",
    });
    expect(jicofo().some((l) => l.includes("Added brewery instance"))).toBe(false);
    expect(await health("jicofo")).toBe(500);
    await rcctl("jvb", "stop", "jvb");
    await writeFile(jvbConfPath(), good);
  });

  it("a truststore holding another CA: prosody logs sslv3 alert certificate unknown, jvb the PKIX error", async () => {
    const good = await readFile(storePath());
    const other = createCa("some other CA", new Date());
    await writeFile(storePath(), trustStoreP12(other.certPem, truststorePassword));
    const prosody = mark("prosody");
    const jvb = mark("jvb");
    const jicofo = mark("jicofo");
    await rcctl("jvb", "start", "jvb");
    const alert = await waitFor(() => prosody().find((l) => l.includes("alert certificate unknown")), {
      what: "the alert",
    });
    expect(alert).toMatch(
      /^\w{3} \d\d \d\d:\d\d:\d\d c2s[0-9a-f]+\tinfo\tClient disconnected: sslv3 alert certificate unknown$/,
    );
    expect(classify("prosody", alert)).toMatchObject({ signal: "truststore-rejected", label: "failed" });
    const pkix = await waitFor(() => jvb().find((l) => l.includes("PKIX path building failed")), {
      what: "jvb's PKIX error",
    });
    expect(classify("jvb", pkix).signal).toBe("truststore-rejected");
    expect(sessions(prosody()).values().next().value).toEqual([
      "Client connected",
      "Client disconnected: sslv3 alert certificate unknown",
    ]);
    expect(jicofo().some((l) => l.includes("Added brewery instance"))).toBe(false);

    // the right truststore again: the bridge is back
    await rcctl("jvb", "stop", "jvb");
    await writeFile(storePath(), good);
    await rcctl("jvb", "start", "jvb");
    await waitFor(() => jicofo().some((l) => l.includes("Added brewery instance")), {
      what: "the bridge back",
    });
  });

  it("an incomplete MUC config is dropped without a word about XMPP", async () => {
    const good = await readFile(jvbConfPath(), "utf8");
    await rcctl("jvb", "stop", "jvb");
    const status = path.join(vms.jvb.root, "var/run/jvb-simulator.json");
    await rm(status, { force: true });
    await writeFile(jvbConfPath(), good.replace(/^\s*muc_nickname = .*$/m, ""));
    const prosody = mark("prosody");
    const jvb = mark("jvb");
    await rcctl("jvb", "start", "jvb");
    const st = await waitFor(() => existsSync(status) && JSON.parse(read(status)), {
      what: "jvb's status file",
    });
    expect(st.xmppClients).toEqual([]);
    expect(jvb().some((l) => /MucClient|XMPP|xmpp/.test(l))).toBe(false);
    expect(prosody().some((l) => l.includes("Authenticated as jvb@"))).toBe(false);
    await rcctl("jvb", "stop", "jvb");
    await writeFile(jvbConfPath(), good);
  });
  it("the paper's name pitfalls: an unknown XMPP host name and a domain prosody has no VirtualHost for", async () => {
    const confPath = path.join(vms.jicofo.root, "etc/jicofo/jicofo.conf");
    const good = await readFile(confPath, "utf8");
    const cases = [
      {
        edit: good.replace('hostname = "100.64.2.3"', 'hostname = "xmpp.nowhere"'),
        want: "xmpp-dns-unknown-host",
      },
      {
        edit: good.replace(`domain = "${AUTH}"`, 'domain = "auth.example.invalid"'),
        want: "xmpp-domain-unknown",
      },
    ];
    for (const c of cases) {
      expect(c.edit).not.toBe(good);
      await rcctl("jicofo", "stop", "jicofo");
      await writeFile(confPath, c.edit);
      const jicofo = mark("jicofo");
      await rcctl("jicofo", "start", "jicofo");
      const line = await waitFor(() => jicofo().find((l) => l.includes("Failed to connect/login")), {
        what: c.want,
      });
      expect(classify("jicofo", line).signal).toBe(c.want);
    }
    await rcctl("jicofo", "stop", "jicofo");
    await writeFile(confPath, good);
  });
});
