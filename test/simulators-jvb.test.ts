// jvb's SIMULATOR (test/simulators/jvb-simulator.mjs) in a running simulated deployment
// (test/simulators/test-deployment.ts): a stopped jvb leaves jicofo's brewery, a wrong password and a
// truststore of another CA fail its login with prosody's and jvb's real lines, and an incomplete MUC config
// makes it try no XMPP at all. Every wait is on a condition, never a sleep.
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { classify } from "../packages/agent/src/health/classify.js";
import { createCa, trustStoreP12 } from "../packages/coordinator/src/secrets/index.js";
import { waitFor } from "./helpers/wait.js";
import { BREWERY, read, sessions, simulatedDeployment } from "./simulators/test-deployment.js";

const sim = simulatedDeployment();
const { vms, mark, health, rcctl, jvbConfPath, storePath } = sim;
beforeAll(() => sim.bringUp());
/** The agents watched the logs from the deployment's start. */
const watchFrom = new Map<string, number>();

describe("jitsi simulators on rendered files: jvb leaving and failing its login", () => {
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
    const v = await sim.verdictNow(watchFrom);
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
    await writeFile(storePath(), trustStoreP12(other.certPem, sim.truststorePassword));
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
});
