// The deployment the simulators' tests (test/simulators-*.test.ts) run: the paper's spec at release 9646
// rendered by the real renderers with real material (CA, auth certificate, PKCS#12 truststores), one fake
// VM root per role with the SIMULATORS installed as rc.d services of the rcctl test double, and what the
// tests read of it: the logs, the health endpoints, the verdict an agent on each VM would reach.
// KEEP_SIM=1 keeps the VM roots for a look.
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NodeDesired } from "@vmmeet/shared";
import { afterAll, beforeAll } from "vitest";
import { ProsodyActions } from "../../packages/agent/src/actions/prosody.js";
import { execRunner } from "../../packages/agent/src/actions/runner.js";
import { classify } from "../../packages/agent/src/health/classify.js";
import { SessionCorrelator } from "../../packages/agent/src/health/correlator.js";
import { probeComponent } from "../../packages/agent/src/health/probes.js";
import { trackersFor } from "../../packages/agent/src/health/state.js";
import { renderDeployment } from "../../packages/coordinator/src/render/index.js";
import { loadOrCreateMaterial } from "../../packages/coordinator/src/secrets/index.js";
import { deploymentVerdict, type NodeHealth } from "../../packages/shared/src/verdict.js";
import { killDoubleProcesses, runRcctl } from "../doubles/rcctl/index.js";
import { loadSpec } from "../fixtures/material.js";
import { waitFor } from "../helpers/wait.js";
import {
  installSimulatedVm,
  SIMULATORS_DIR,
  type SimRole,
  type SimulatedVm,
  simulatedPort,
  startService,
  writeRenderedFiles,
} from "./index.js";

export const DOMAIN = "jts.fips.de";
export const AUTH = `auth.${DOMAIN}`;
export const BREWERY = `jvbbrewery@internal.auth.${DOMAIN}`;
export const ADDR = {
  web: "100.64.1.3",
  xmpp: "100.64.2.3",
  jicofo: "100.64.3.3",
  jvb: "100.64.4.3",
} as const;
const ROLES: SimRole[] = ["web", "xmpp", "jicofo", "jvb"];

export const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");

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
export function jitsiMessages(lines: string[]): JitsiMessage[] {
  const out: JitsiMessage[] = [];
  for (const raw of lines) {
    const m = /(INFO|WARNING|SEVERE): \[\d+\] (?:\[[^\]]*\] )*([\w$.<>]+)#(\d+): (.*)$/.exec(raw);
    if (m) out.push({ raw, level: m[1]!, where: m[2]!, line: Number(m[3]), text: m[4]! });
  }
  return out;
}
/** The catalog entry a message was printed from: same level, method and line, and its template matches. */
export function catalogEntry(m: JitsiMessage): CatalogEntry | undefined {
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

export function get(port: number, urlPath: string): Promise<{ status: number; body: string }> {
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

/** prosody's c2s sessions since a mark: session id -> its messages in order. */
export function sessions(lines: string[]): Map<string, string[]> {
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
 * The simulated deployment of one test file: set up before its tests (rendered, installed, nothing
 * started), its processes killed and its roots removed after them.
 */
export class SimulatedDeployment {
  base = "";
  netDir = "";
  nodes: Record<string, NodeDesired> = {};
  truststorePassword = "";
  readonly vms = {} as Record<SimRole, SimulatedVm>;

  readonly logOf = {
    prosody: () => read(path.join(this.vms.xmpp.root, "var/prosody/prosody.log")),
    jicofo: () => read(path.join(this.vms.jicofo.root, "var/log/jicofo")),
    jvb: () => read(path.join(this.vms.jvb.root, "var/log/jvb")),
    nginx: () => read(path.join(this.vms.web.root, "var/www/logs/error.log")),
  };

  /** The log's length now, and later the lines written since. */
  readonly mark = (which: keyof SimulatedDeployment["logOf"]) => {
    const at = this.logOf[which]().length;
    return () => this.logOf[which]().slice(at).split("\n").filter(Boolean);
  };

  /** The log's first line holding `text`, once there is one. */
  readonly lineIn = (which: keyof SimulatedDeployment["logOf"], text: string, what: string) =>
    waitFor(
      () =>
        this.logOf[which]()
          .split("\n")
          .find((l) => l.includes(text)),
      { what },
    );

  readonly health = async (role: "jicofo" | "jvb"): Promise<number> => {
    const port = await simulatedPort(this.netDir, ADDR[role], role === "jicofo" ? 8888 : 8080);
    if (port === undefined) throw new Error(`${role}'s health endpoint is not published`);
    return (await get(port, "/about/health")).status;
  };

  readonly rcctl = async (role: SimRole, ...args: string[]): Promise<void> => {
    const r = await runRcctl(this.vms[role].rcctl, args);
    if (r.code !== 0) throw new Error(`rcctl ${args.join(" ")}: ${r.code} ${r.stdout}${r.stderr}`);
  };

  readonly flagsOf = (node: string, service: string) =>
    this.nodes[node]?.services.find((s) => s.name === service)?.flags;
  readonly jvbConfPath = () => path.join(this.vms.jvb.root, "etc/jvb/jvb.conf");
  readonly storePath = () => path.join(this.vms.jvb.root, "etc/ssl/jvb-key.store");

  async setUp(): Promise<void> {
    this.base = await mkdtemp(path.join(tmpdir(), "vmmeet-sim-"));
    this.netDir = path.join(this.base, "net");
    const spec = loadSpec("paper-7648.yaml", (raw) => {
      (raw.jitsi as { release: number }).release = 9646;
    });
    const material = await loadOrCreateMaterial(path.join(this.base, "state"), spec);
    this.truststorePassword = material.secrets.truststorePassword;
    this.nodes = renderDeployment({ spec, secrets: material.secrets, pki: material.pki });
    for (const role of ROLES) {
      const root = path.join(this.base, role);
      const node = this.nodes[role];
      if (!node) throw new Error(`no rendered node ${role}`);
      await writeRenderedFiles(root, node);
      this.vms[role] = await installSimulatedVm(root, role, { netDir: this.netDir, backoffMaxMs: 500 });
    }
  }

  async tearDown(): Promise<void> {
    for (const role of ROLES) if (this.vms[role]) await killDoubleProcesses(this.vms[role].root);
    if (this.base && !process.env.KEEP_SIM) await rm(this.base, { recursive: true, force: true });
  }

  /**
   * What the agents' first apply does and the bring-up test checks step by step: the prosody accounts
   * registered, then prosody, jicofo and jvb started, until jicofo has the bridge in its brewery and jvb
   * has printed its start-up lines (so that a test's mark sees only what it caused).
   */
  async bringUp(): Promise<void> {
    const xmpp = this.nodes.xmpp as NodeDesired;
    const actions = new ProsodyActions({
      prosodyctl: this.vms.xmpp.prosodyctl as string,
      root: this.vms.xmpp.root,
      runner: execRunner(),
    });
    const state = { users: {}, roster: {} };
    for (const a of xmpp.actions) {
      const r =
        a.kind === "prosody-user"
          ? await actions.ensureUser(a, state, Buffer.from("test-salt"))
          : a.kind === "prosody-roster-subscribe"
            ? await actions.ensureRoster(a, state)
            : undefined;
      if (r && r.status !== "done") throw new Error(`${a.kind}: ${JSON.stringify(r)}`);
    }
    await startService(this.vms.xmpp, this.flagsOf("xmpp", "prosody"));
    await startService(this.vms.jicofo, this.flagsOf("jicofo", "jicofo"));
    await startService(this.vms.jvb, this.flagsOf("jvb", "jvb"));
    await waitFor(
      () =>
        this.logOf.jicofo().includes("Added new videobridge") &&
        this.logOf.jvb().includes("Joined MUC") &&
        this.logOf.jvb().includes("jitsisrtp"),
      { what: "jicofo with the bridge in its brewery, jvb started" },
    );
  }

  /**
   * What an agent on each simulated VM would report: its desired state's log files classified line by line
   * (with prosody's session correlator), its probes run against the simulated network, fed to the health
   * state machine; then the coordinator's verdict over all nodes.
   */
  async verdictNow(since: Map<string, number>) {
    const out: NodeHealth[] = [];
    for (const role of ROLES) {
      const vm = this.vms[role];
      const desired = this.nodes[role] as NodeDesired;
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
          mapPort: (port) => simulatedPort(this.netDir, ADDR[role], port),
        });
        for (const o of obs) trackers.get(probe.component)?.observe(o);
      }
      out.push({ node: role, role, health: [...trackers.values()].map((t) => t.report()) });
    }
    return deploymentVerdict(out);
  }

  /** Where each watched log ends now: an agent that starts watching here reads only what follows. */
  logEnds(): Map<string, number> {
    const out = new Map<string, number>();
    for (const role of ROLES) {
      for (const l of (this.nodes[role] as NodeDesired).health.logs) {
        const file = path.join(this.vms[role].root, l.path);
        out.set(file, read(file).length);
      }
    }
    return out;
  }
}

/** A SimulatedDeployment set up before the calling test file's tests and torn down after them. */
export function simulatedDeployment(): SimulatedDeployment {
  const sim = new SimulatedDeployment();
  beforeAll(() => sim.setUp());
  afterAll(() => sim.tearDown());
  return sim;
}
