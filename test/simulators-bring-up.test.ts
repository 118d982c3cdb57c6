// The jitsi SIMULATORS (test/simulators: test doubles of prosody, prosodyctl, jicofo, jvb and nginx) brought
// up step by step on rendered files (test/simulators/test-deployment.ts): prosodyctl registers the agent's
// accounts, prosody, jicofo and jvb come up and find each other, nginx proxies BOSH to prosody, a restarted
// prosody gets its clients back, and the agents' health state machines and the verdict agree. Their log
// lines go through the real classifier, so a format drift between simulator and rules shows here. Every
// wait is on a condition (a log line, a file, an HTTP answer), never a sleep.
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { ProsodyActions } from "../packages/agent/src/actions/prosody.js";
import { execRunner } from "../packages/agent/src/actions/runner.js";
import { classify } from "../packages/agent/src/health/classify.js";
import { waitFor } from "./helpers/wait.js";
import { SIMULATOR, simulatedPort, startService } from "./simulators/index.js";
import {
  ADDR,
  AUTH,
  BREWERY,
  DOMAIN,
  get,
  read,
  sessions,
  simulatedDeployment,
} from "./simulators/test-deployment.js";

const sim = simulatedDeployment();
const { vms, logOf, mark, lineIn, health, rcctl, flagsOf } = sim;
let watchFrom: Map<string, number>;

describe("jitsi simulators on rendered files: bring-up", () => {
  it("every simulator says what it is in --help", () => {
    for (const [name, file] of Object.entries(SIMULATOR)) {
      const r = spawnSync(process.execPath, [file, "--help"], { encoding: "utf8" });
      expect(r.status, name).toBe(0);
      expect(r.stdout.split("\n")[0], name).toMatch(new RegExp(`^${name}-simulator: a test double of `));
    }
    // like the OpenBSD port's launcher, jicofo refuses to start without --host
    const r = spawnSync(process.execPath, [SIMULATOR.jicofo, "--root", sim.base, "--net", sim.netDir], {
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("usage: jicofo --host=HOST");
  });

  it("prosodyctl simulator: the agent's prosody-user action registers accounts as salted keys", async () => {
    const xmpp = sim.nodes.xmpp as NodeDesired;
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
    await waitFor(() => simulatedPort(sim.netDir, ADDR.xmpp, 5222), { what: "prosody's c2s port" });
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
    const added = await lineIn("jicofo", "Added brewery instance", "Added brewery instance");
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
    const joined = await lineIn("jvb", "Joined MUC", "jvb's Joined MUC");
    const jvbLog = logOf.jvb();
    expect(jvbLog.split("\n")[0]).toContain("jvb-simulator");
    expect(classify("jvb", joined)).toMatchObject({ signal: "brewery-muc-joined", detail: BREWERY });
    const srtp = await lineIn("jvb", "jitsisrtp", "jvb's srtp line");
    expect(classify("jvb", srtp).signal).toBe("srtp-native-loaded");
    // prosody's MUC registry knows the bridge
    const registry = JSON.parse(read(path.join(vms.xmpp.root, "var/prosody/simulator-muc.json")));
    expect(registry.rooms[BREWERY].sort()).toEqual(["focus", "jvb"]);
  });

  it("nginx simulator proxies /http-bind to prosody and logs a refused upstream like nginx", async () => {
    await startService(vms.web, flagsOf("web", "nginx"));
    const port = await waitFor(() => simulatedPort(sim.netDir, ADDR.web, 443), { what: "nginx's 443" });
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
    watchFrom = sim.logEnds();
    const jicofo = mark("jicofo");
    await rcctl("xmpp", "start", "prosody");
    const line = await waitFor(() => jicofo().find((l) => l.includes("Added brewery instance")), {
      what: "the bridge back",
    });
    expect(line).toContain(`${BREWERY}/jvb`);
    expect(await health("jicofo")).toBe(200);
  });

  it("the health state machine and the verdict see a conference-ready deployment", async () => {
    const v = await sim.verdictNow(watchFrom);
    expect(v, v.reasons.join("\n")).toMatchObject({ verdict: "conference-ready" });
    expect(v.reasons).toContain("jicofo on jicofo has 1 bridge in the brewery");
  });
});
