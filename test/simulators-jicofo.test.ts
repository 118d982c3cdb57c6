// jicofo's SIMULATOR (test/simulators/jicofo-simulator.mjs) in a running simulated deployment
// (test/simulators/test-deployment.ts): after a prosody restart jicofo and jvb print release 9646's own
// lines in 9646's order (the catalog extract test/simulators/reconnect-catalog-9646.json) and reconnect,
// VMMEET_SIM_SEED fixes jicofo's reconnect delay, and the paper's name pitfalls give their signals. Every
// wait is on a condition, never a sleep.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { classify } from "../packages/agent/src/health/classify.js";
import { waitFor } from "./helpers/wait.js";
import { RECONNECT } from "./simulators/lib.mjs";
import { SIM_SEED_ENV, simRandom } from "./simulators/random.mjs";
import { AUTH, catalogEntry, jitsiMessages, simulatedDeployment } from "./simulators/test-deployment.js";

const sim = simulatedDeployment();
const { vms, mark, health, rcctl } = sim;
beforeAll(() => sim.bringUp());

describe("jitsi simulators on rendered files: jicofo's reconnect and its name pitfalls", () => {
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
