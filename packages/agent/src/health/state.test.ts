import { ManualClock } from "@vmmeet/node";
import { ComponentHealth, type HealthSignal, type LogComponent } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import type { ComponentConfig, ComponentHealthReport } from "./assess.js";
import { CATALOG_RULES } from "./catalogRules.js";
import { classify } from "./classify.js";
import { toHealthSignal } from "./pipeline.js";
import { BREWERY_SIGNAL, DEFAULT_SIGNAL_WINDOW_MS, NO_BRIDGE_EXPLAIN, RESOLVED_BY } from "./problems.js";
import { RULES } from "./rules.js";
import { ComponentTracker, trackersFor } from "./state.js";

const T0 = Date.parse("2024-05-01T12:00:00Z");
const BREWERY = "jvbbrewery@internal.auth.jts.fips.de";
const HEALTH_URL = "http://127.0.0.1:8080/about/health";

// Real log lines (the paper's and the corpus' formats) through the real classifier.
const LINES = {
  prosodyConnected: "Sep 16 14:35:58 c2s60a86b47480\tinfo\tClient connected",
  truststore: "Sep 16 14:35:58 c2s60a86b47480\tinfo\tClient disconnected: sslv3 alert certificate unknown",
  focusAuth: "Sep 16 14:37:01 c2s60a5b549900\tinfo\tAuthenticated as focus@auth.jts.fips.de",
  jvbAuth: "Sep 16 14:37:02 c2s60a5b549901\tinfo\tAuthenticated as jvb@auth.jts.fips.de",
  added: (nick: string) =>
    `Jicofo 2022-09-16 14:45:24.260 INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.addInstance#341: Added brewery instance: ${BREWERY}/${nick}`,
  removed: (nick: string) =>
    `Jicofo 2022-09-16 14:50:00.000 INFO: [35] [type=bridge brewery=jvbbrewery] BaseBrewery.removeInstance#366: Removed brewery instance: ${BREWERY}/${nick}`,
  jicofoSasl:
    "Jicofo 2018-01-11 08:44:12.177 SEVERE: [30] XmppProvider.doConnect#245: Failed to connect/login: SASLError using SCRAM-SHA-1: not-authorized",
  roomJoined:
    "Jicofo 2024-01-01 00:00:00.000 INFO: [32] [room=jvbbrewery@internal.auth.x] ChatRoomImpl.joinAs#311: Joined the room.",
  srtpMissing: "JVB 2024-01-01 00:00:00.000 WARNING: [1] Unable to load jitsisrtp: UnsatisfiedLinkError",
};

function signal(component: LogComponent, line: string, at: number): HealthSignal {
  const found = toHealthSignal(component, classify(component, line), new Date(at));
  if (found === null) throw new Error(`no rule matches ${line}`);
  return found;
}

function tracker(cfg: Partial<ComponentConfig> & Pick<ComponentConfig, "component">) {
  const clock = new ManualClock(T0);
  const t = new ComponentTracker({ service: cfg.component, graceSeconds: 10, ...cfg }, clock);
  const feed = (line: string) =>
    t.observe({ kind: "signal", signal: signal(cfg.component, line, clock.now()) });
  return { t, clock, feed };
}

describe("ComponentTracker", () => {
  it("is unknown until it observes something, and reports a schema-valid ComponentHealth", () => {
    const { t } = tracker({ component: "prosody", ports: [5222] });
    const r = t.report();
    expect(r).toMatchObject({ component: "prosody", state: "unknown", signals: [] });
    expect(ComponentHealth.parse(r)).toEqual(r);
  });

  it("inside the grace period after a start problems do not count; after it they do", () => {
    const { t, clock } = tracker({
      component: "jvb",
      graceSeconds: 90,
      http: HEALTH_URL,
    });
    const refused = () =>
      t.observe({ kind: "http", at: clock.now(), url: HEALTH_URL, ok: false, error: "ECONNREFUSED" });
    t.observe({ kind: "started", at: clock.now() });
    expect(t.report().state).toBe("starting");
    clock.advance(5_000);
    t.observe({ kind: "check", at: clock.now(), running: true });
    refused();
    const during = t.report();
    expect(during.state).toBe("starting");
    expect(during.explain).toMatch(/grace period .*does not answer \(ECONNREFUSED\)/);
    clock.advance(90_000);
    refused();
    const after = t.report();
    expect(after.state).toBe("failed");
    expect(after.since).toBe(new Date(clock.now()).toISOString());
    // a passing probe inside a later grace period is final at once
    t.observe({ kind: "started", at: clock.now() });
    t.observe({ kind: "check", at: clock.now(), running: true });
    t.observe({ kind: "http", at: clock.now(), url: HEALTH_URL, ok: true, status: 200 });
    expect(t.report().state).toBe("healthy");
  });

  it("a service that is not running is failed, even inside its grace period", () => {
    const { t, clock } = tracker({ component: "prosody", graceSeconds: 60 });
    t.observe({ kind: "started", at: clock.now() });
    clock.advance(1000);
    t.observe({ kind: "check", at: clock.now(), running: false });
    expect(t.report()).toMatchObject({
      state: "failed",
      explain: "prosody is not running (rcctl check prosody fails)",
    });
  });

  it("a check asked before the restart and answered after it is about the old process", () => {
    const { t, clock } = tracker({ component: "prosody", graceSeconds: 60 });
    const asked = clock.now();
    clock.advance(1000);
    t.observe({ kind: "started", at: clock.now() });
    clock.advance(2000);
    // rcctl answers "not running" (the old process was stopped meanwhile) after the agent started the new one.
    t.observe({ kind: "check", at: asked, running: false });
    expect(t.report().state).toBe("starting");
    // Nor does it count once the grace period is over.
    clock.advance(60_000);
    expect(t.report().state).not.toBe("failed");
    t.observe({ kind: "check", at: clock.now(), running: true });
    expect(t.report().state).toBe("healthy");
  });

  it("a truststore failure ends with a later login; an unanswered one expires after its window", () => {
    const { t, clock, feed } = tracker({ component: "prosody", ports: [5222] });
    t.observe({ kind: "check", at: clock.now(), running: true });
    t.observe({ kind: "port", at: clock.now(), port: 5222, ok: true });
    expect(t.report().state).toBe("healthy");
    feed(LINES.prosodyConnected);
    feed(LINES.truststore);
    const failed = t.report();
    expect(failed.state).toBe("failed");
    expect(failed.explain).toContain("does not trust prosody's certificate");
    expect(failed.fix).toContain("keytool -import");
    clock.advance(60_000);
    feed(LINES.focusAuth);
    expect(t.report().state).toBe("healthy");
    // the failure comes back (jvb retries) and, unanswered, counts for the window only
    clock.advance(1000);
    feed(LINES.truststore);
    expect(t.report().state).toBe("failed");
    clock.advance(DEFAULT_SIGNAL_WINDOW_MS - 1);
    t.observe({ kind: "check", at: clock.now(), running: true });
    t.observe({ kind: "port", at: clock.now(), port: 5222, ok: true });
    expect(t.report().state).toBe("failed");
    clock.advance(1);
    expect(t.report().state).toBe("healthy");
    // the latest signal of each name is reported, newest first
    expect(t.report().signals.map((s) => s.signal)).toEqual([
      "truststore-rejected",
      "c2s-authenticated-focus",
      "c2s-client-connected",
    ]);
  });

  it("per-signal windows override the default", () => {
    const { t, clock, feed } = tracker({ component: "prosody", windowsMs: { "truststore-rejected": 1000 } });
    t.observe({ kind: "check", at: clock.now(), running: true });
    feed(LINES.truststore);
    expect(t.report().state).toBe("failed");
    clock.advance(1000);
    expect(t.report().state).toBe("healthy");
  });

  it("nginx's upstream errors count for a minute: a persisting problem is logged again by the next request", () => {
    const { t, clock, feed } = tracker({ component: "nginx" });
    t.observe({ kind: "check", at: clock.now(), running: true });
    feed(
      '2024/05/01 12:00:00 [error] 123#0: *5 connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: x, request: "POST /http-bind HTTP/1.1", upstream: "http://100.64.2.3:5280/http-bind", host: "x"',
    );
    expect(t.report()).toMatchObject({ state: "failed", explain: expect.stringContaining("BOSH") });
    clock.advance(60_000);
    t.observe({ kind: "check", at: clock.now(), running: true });
    expect(t.report().state).toBe("healthy");
  });

  it("a closed probe port fails the component; stale probe results are ignored", () => {
    const { t, clock } = tracker({ component: "nginx", ports: [80, 443], probeStaleMs: 30_000 });
    t.observe({ kind: "check", at: clock.now(), running: true });
    t.observe({ kind: "port", at: clock.now(), port: 80, ok: true });
    t.observe({ kind: "port", at: clock.now(), port: 443, ok: false, error: "ECONNREFUSED" });
    expect(t.report()).toMatchObject({
      state: "failed",
      explain: "nginx does not accept connections on 127.0.0.1:443 (ECONNREFUSED)",
    });
    clock.advance(30_000);
    expect(t.report()).toMatchObject({ state: "unknown" });
  });

  it("degraded signals make the component degraded until they expire", () => {
    const { t, clock, feed } = tracker({ component: "jvb" });
    t.observe({ kind: "check", at: clock.now(), running: true });
    feed(LINES.srtpMissing);
    expect(t.report()).toMatchObject({ state: "degraded", fix: expect.stringContaining("net/jitsi/srtp") });
    clock.advance(DEFAULT_SIGNAL_WINDOW_MS);
    t.observe({ kind: "check", at: clock.now(), running: true });
    expect(t.report().state).toBe("healthy");
  });

  it("`since` moves only when the state changes", () => {
    const { t, clock } = tracker({ component: "prosody" });
    t.observe({ kind: "check", at: clock.now(), running: true });
    const first = t.report();
    clock.advance(5000);
    t.observe({ kind: "check", at: clock.now(), running: true });
    expect(t.report().since).toBe(first.since);
    t.observe({ kind: "check", at: clock.now(), running: false });
    expect(t.report().since).toBe(new Date(clock.now()).toISOString());
  });
});

describe("jicofo's brewery", () => {
  const cfg = {
    component: "jicofo" as const,
    graceSeconds: 90,
    http: "http://127.0.0.1:8888/about/health",
    ports: [8888],
  };

  it("keeps the bridges from the brewery-instance signals and says when there is none", () => {
    const { t, clock, feed } = tracker(cfg);
    t.observe({ kind: "started", at: clock.now() });
    feed(LINES.roomJoined);
    clock.advance(91_000);
    t.observe({ kind: "check", at: clock.now(), running: true });
    const none = t.report();
    expect(none).toMatchObject({ state: "failed", explain: NO_BRIDGE_EXPLAIN });
    expect(none.fix).toContain("muc_jids");
    expect(none.signals[0]).toMatchObject({ signal: BREWERY_SIGNAL, label: "failed" });

    feed(LINES.added("jvb"));
    feed(LINES.added("jvb2"));
    expect(t.bridges()).toEqual([`${BREWERY}/jvb`, `${BREWERY}/jvb2`]);
    const two = t.report();
    expect(two).toMatchObject({
      state: "healthy",
      explain: expect.stringContaining("2 bridges in the brewery"),
    });
    expect(two.signals[0]).toMatchObject({
      signal: BREWERY_SIGNAL,
      label: "healthy",
      detail: `2: ${BREWERY}/jvb, ${BREWERY}/jvb2`,
    });
    expect(ComponentHealth.parse(two)).toEqual(two);

    clock.advance(1000);
    feed(LINES.removed("jvb"));
    expect(t.bridges()).toEqual([`${BREWERY}/jvb2`]);
    // a bridge left (degraded signal) but one is still there
    expect(t.report().state).toBe("degraded");
    feed(LINES.removed("jvb2"));
    expect(t.report()).toMatchObject({ state: "failed", explain: NO_BRIDGE_EXPLAIN });
    t.observe({ kind: "http", at: clock.now(), url: cfg.http, ok: false, status: 500 });
    expect(t.report()).toMatchObject({ state: "failed", explain: NO_BRIDGE_EXPLAIN });
    // the bridge comes back
    clock.advance(1000);
    feed(LINES.added("jvb"));
    t.observe({ kind: "http", at: clock.now(), url: cfg.http, ok: true, status: 200 });
    expect(t.report().state).toBe("healthy");
  });

  it("a bridge the spec took out leaves the brewery as expected; a bridge of the spec that leaves does not", () => {
    const { t, clock, feed } = tracker(cfg);
    t.observe({ kind: "started", at: clock.now() });
    clock.advance(91_000);
    t.observe({ kind: "check", at: clock.now(), running: true });
    feed(LINES.added("jvb"));
    feed(LINES.added("jvb2"));
    // jvb2's node is removed from the spec: the desired state names jvb alone.
    t.expectBridges(["jvb"]);
    clock.advance(1000);
    // jicofo's lines when jvb2's VM goes away (test/simulators/lib.mjs, jicofo 9646's order).
    feed(LINES.removed("jvb2"));
    feed(
      "Jicofo 2022-09-16 14:50:00.001 WARNING: [35] BridgeSelector.removeJvbAddress#112: Lost a bridge: " +
        `${BREWERY}/jvb2`,
    );
    expect(t.bridges()).toEqual([`${BREWERY}/jvb`]);
    expect(t.report()).toMatchObject({ state: "healthy", explain: expect.stringContaining("1 bridge in") });
    // Without the spec's bridges (an older desired state) the departure stays a problem.
    t.expectBridges(undefined);
    expect(t.report().state).toBe("degraded");
    t.expectBridges(["jvb"]);
    // A bridge of the spec leaving is a problem, whatever else left before.
    clock.advance(1000);
    feed(LINES.removed("jvb"));
    clock.advance(1000);
    feed(LINES.added("jvb3"));
    // Another bridge joining does not make up for a bridge of the spec that is out.
    expect(t.report().state).toBe("degraded");
    clock.advance(1000);
    feed(LINES.added("jvb"));
    clock.advance(1000);
    feed(LINES.removed("jvb3"));
    expect(t.report().state).toBe("healthy");
  });

  it("a jicofo restart or stop empties the brewery", () => {
    const { t, clock, feed } = tracker(cfg);
    feed(LINES.added("jvb"));
    t.observe({ kind: "check", at: clock.now(), running: false });
    expect(t.bridges()).toEqual([]);
    feed(LINES.added("jvb"));
    t.observe({ kind: "started", at: clock.now() + 1 });
    expect(t.bridges()).toEqual([]);
    // lines read before the restart belong to the old process
    t.observe({ kind: "signal", signal: signal("jicofo", LINES.added("old"), clock.now()) });
    expect(t.bridges()).toEqual([]);
  });

  it("with an empty brewery but a passing health endpoint (history before the agent), jicofo is healthy", () => {
    const { t, clock } = tracker(cfg);
    t.observe({ kind: "check", at: clock.now(), running: true });
    t.observe({ kind: "http", at: clock.now(), url: cfg.http, ok: true, status: 200 });
    expect(t.report()).toMatchObject({ state: "healthy", explain: expect.stringContaining("has a bridge") });
  });

  it("a login failure explains more than 'no bridge', and a later brewery join cures it", () => {
    const { t, clock, feed } = tracker(cfg);
    t.observe({ kind: "check", at: clock.now(), running: true });
    feed(LINES.jicofoSasl);
    expect(t.report()).toMatchObject({ state: "failed", explain: expect.stringContaining("SASL failure") });
    clock.advance(1000);
    feed(LINES.roomJoined);
    expect(t.report()).toMatchObject({ state: "failed", explain: NO_BRIDGE_EXPLAIN });
  });
});

describe("tables", () => {
  it("a lost XMPP connection (prosody restarting) ends when the bridge or jicofo is back in its MUC", () => {
    // jicofo 9646 (XmppProvider.connectionClosedOnError) and jvb 9646's jicoco MucClient
    // ("Joined MUC: ") print these through a prosody restart.
    const lost =
      "Jicofo 2024-08-01 10:00:00.000 SEVERE: [40] XmppProvider.connectionClosedOnError#113: XMPP connection closed on error: system-shutdown You can read more about the meaning of this stream error at https://xmpp.org/rfcs/rfc6120.html#streams-error-conditions";
    const j = tracker({ component: "jicofo" });
    j.t.observe({ kind: "check", at: j.clock.now(), running: true });
    j.clock.advance(60_000);
    j.feed(LINES.added("jvb"));
    j.feed(lost);
    expect(j.t.report().state).toBe("failed");
    j.clock.advance(5_000);
    j.feed(LINES.roomJoined);
    j.feed(LINES.added("jvb"));
    expect(j.t.report().state).toBe("healthy");

    const v = tracker({ component: "jvb" });
    v.t.observe({ kind: "check", at: v.clock.now(), running: true });
    v.clock.advance(60_000);
    v.feed(
      "JVB 2024-08-01 10:00:00.000 WARNING: [52] [hostname=xmpp id=shard] MucClient$3.connectionClosedOnError#291: Closed on error:",
    );
    expect(v.t.report().state).toBe("failed");
    v.clock.advance(6_000);
    v.feed(
      `JVB 2024-08-01 10:00:06.000 INFO: [61] [hostname=xmpp id=shard] MucClient.lambda$joinMucs$4#558: Joined MUC: ${BREWERY}`,
    );
    expect(v.t.report().state).toBe("healthy");
  });

  it("every signal the resolution table names is a rule of that component", () => {
    for (const [component, map] of Object.entries(RESOLVED_BY) as [
      LogComponent,
      ReadonlyMap<string, readonly string[]>,
    ][]) {
      // the hand-written rules and those matched through the catalog (catalogRules.json)
      const names = new Set([...RULES[component], ...(CATALOG_RULES[component] ?? [])].map((r) => r.signal));
      for (const [problem, cures] of map) {
        expect(names, `${component} ${problem}`).toContain(problem);
        for (const c of cures) expect(names, `${component} ${c}`).toContain(c);
        for (const c of cures) expect(RULES[component].find((r) => r.signal === c)?.label).toBe("healthy");
      }
    }
  });

  describe("a restart's lines of the old process (prosody's last and first lines, PROCESS_BOUNDS)", () => {
    // The real Debian prosody 0.12.3's lines of a restart (test/e2e-real.test.ts), and a storage error the
    // old process might print while it closes its sessions.
    const RESTART = {
      sigterm: "Dec 07 01:00:01 mod_posix\twarn\tReceived SIGTERM",
      storage:
        "Dec 07 01:00:01 datamanager\terror\tUnable to write to accounts storage ('Permission denied') for user: focus@auth.jts.fips.de",
      complete: "Dec 07 01:00:02 general\tinfo\tShutdown complete",
      hello: "Dec 07 01:00:02 startup\tinfo\tHello and welcome to Prosody version 0.12.3",
    };
    const restarted = () => {
      const m = trackersFor({
        health: { logs: [{ component: "prosody" }], probes: [] },
        services: [{ name: "prosody", graceSeconds: 10 }],
      });
      const clock = new ManualClock(T0);
      const t = new ComponentTracker(m.get("prosody")!.config, clock);
      const feed = (...lines: string[]) => {
        for (const line of lines) t.observe({ kind: "signal", signal: signal("prosody", line, clock.now()) });
        t.observe({ kind: "check", at: clock.now(), running: true });
      };
      t.observe({ kind: "started", at: clock.now() });
      clock.advance(500);
      /** The report once the 10 s grace period is over. */
      const afterGrace = () => {
        clock.advance(11_000);
        return t.report();
      };
      return { t, feed, afterGrace };
    };
    const names = (r: ComponentHealthReport) => r.signals.map((x) => x.signal);

    it("what the old process logs up to its 'Shutdown complete' does not count for the new one", () => {
      const { feed, afterGrace } = restarted();
      feed(RESTART.sigterm, RESTART.storage, RESTART.complete, RESTART.hello);
      const r = afterGrace();
      expect(r.state).toBe("healthy");
      expect(names(r)).toEqual(["prosody-started"]);
    });

    it("without the old process's last line (killed), its lines count once the new one starts", () => {
      const { feed, afterGrace } = restarted();
      feed(RESTART.sigterm, RESTART.storage, RESTART.hello);
      const r = afterGrace();
      expect(r.state).toBe("degraded");
      expect(names(r)).toContain("storage-error");
    });

    it("with neither line, what was held counts at the end of the grace period", () => {
      const { t, feed, afterGrace } = restarted();
      feed(RESTART.storage);
      // Not healthy meanwhile: a push's health gate must not pass on a line not yet known to be harmless.
      expect(t.report()).toMatchObject({
        state: "starting",
        explain: expect.stringMatching(
          /1 problem line since the restart waits for the old process's last line/,
        ),
      });
      const r = afterGrace();
      expect(r.state).toBe("degraded");
      expect(names(r)).toContain("storage-error");
    });

    it("a problem the new process logs after its first line counts as before", () => {
      const { feed, afterGrace } = restarted();
      feed(RESTART.complete, RESTART.hello, RESTART.storage);
      expect(afterGrace().state).toBe("degraded");
    });

    it("only prosody has the bounds: jicofo's lines after a restart count from the start", () => {
      const m = trackersFor({
        health: { logs: [{ component: "prosody" }, { component: "jicofo" }], probes: [] },
        services: [],
      });
      expect(m.get("prosody")?.config.bounds).toEqual({ last: "prosody-stopped", first: "prosody-started" });
      expect(m.get("jicofo")?.config.bounds).toBeUndefined();
    });
  });

  it("trackersFor builds one tracker per component with the service's grace period", () => {
    const m = trackersFor({
      health: {
        logs: [{ component: "jicofo" }],
        probes: [
          {
            component: "jicofo",
            service: "jicofo",
            http: "http://127.0.0.1:8888/about/health",
            ports: [8888],
          },
        ],
      },
      services: [{ name: "jicofo", graceSeconds: 90 }],
    });
    expect([...m.keys()]).toEqual(["jicofo"]);
    expect(m.get("jicofo")?.config).toMatchObject({ service: "jicofo", graceSeconds: 90, ports: [8888] });
  });
});
