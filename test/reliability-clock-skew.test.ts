// Fault 3: clocks that disagree. The sandbox deployment (test/harness/deployment.ts) with the jicofo VM's clock
// 10 minutes behind the host's and the jvb VM's 10 minutes ahead: each agent runs with --clock-offset, and its
// services (the simulators, syslog's stand-in) print that VM's time in their log lines and check certificates
// against it, as on a VM whose clock is off. What must hold:
//   - the push passes every gate, the brewery gate included: it asks that jicofo saw the bridge join after the
//     push started it, which compares the jicofo VM's time with the host's (10 minutes behind, the bridge's
//     join would look older than the push and the gate would never pass);
//   - the deployment is conference-ready, every agent connected (no node falsely away), every age and time in
//     status on the host's clock (none in the future, none older than the deployment);
//   - status reports each VM's skew (about +-600 s, within the measuring bound) and warns about the two, and
//     reports no skew worth a warning for the VMs that keep the host's time;
//   - a second push that restarts the bridge waits for its new join again and passes.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { StatusReport } from "@vmmeet/coordinator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deployment } from "./harness/deployment.js";
import { recordFigure } from "./helpers/reliability.js";

const SKEW_S: Record<string, number> = { jicofo: -600, jvb: 600 };

let d: Deployment;
let startedAt = 0;

beforeAll(async () => {
  startedAt = Date.now();
  d = await Deployment.start({
    perNode: (name) => {
      const s = SKEW_S[name];
      if (s === undefined) return {};
      return { args: [`--clock-offset=${s}`], env: { VMMEET_VM_CLOCK_OFFSET_MS: String(s * 1000) } };
    },
  });
}, 180_000);
afterAll(async () => {
  await d?.remove();
}, 60_000);

/** Every time the status holds that an agent stamped, with where it is. */
function agentTimes(st: StatusReport): { where: string; at: number }[] {
  const out: { where: string; at: number }[] = [];
  for (const n of st.nodes) {
    for (const h of n.health) {
      out.push({ where: `${n.node} ${h.component} since`, at: Date.parse(h.since) });
      for (const s of h.signals) out.push({ where: `${n.node} ${s.signal}`, at: Date.parse(s.at) });
      for (const [b, t] of Object.entries(h.bridgesSince ?? {}))
        out.push({ where: `${n.node} bridge ${b} joined`, at: Date.parse(t) });
    }
    if (n.metrics) out.push({ where: `${n.node} metrics`, at: Date.parse(n.metrics.at) });
  }
  return out;
}

describe("VMs whose clocks disagree with the host's (jicofo 10 min behind, jvb 10 min ahead)", () => {
  it("pushes through every gate, shows the skew, and keeps every time on the host's clock", async () => {
    // The premise: the jicofo VM's own log lines carry its clock, 10 minutes behind.
    const t0 = Date.now();
    const push = await d.push(180);
    const pushMs = Date.now() - t0;
    expect(push.stdout, push.stdout + push.stderr).toMatch(/ok: generation 1 rolled out/);
    expect(push.code).toBe(0);
    expect(push.stdout).toMatch(/jicofo\s+healthy\s+passed its gate/);
    const st = await d.waitVerdict("conference-ready", 90_000);
    expect(st.verdict.reasons.join("; ")).toMatch(/jicofo on jicofo has 1 bridge in the brewery/);
    const readyMs = Date.now() - t0;

    // (syslog's `!jicofo` file of the paper; each line holds jicofo's own stamp, local time.)
    const jicofoLog = await readFile(path.join(d.nodes.get("jicofo")!.root, "var/log/jicofo"), "utf8");
    const stamps = [...jicofoLog.matchAll(/Jicofo (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})/g)];
    expect(stamps.length).toBeGreaterThan(0);
    const [y, mo, da, h, mi, s, ms] = stamps.at(-1)!.slice(1).map(Number) as number[];
    const logged = new Date(y!, mo! - 1, da!, h!, mi!, s!, ms!).getTime();
    // Logged after the push began, on a clock 600 s behind.
    expect(logged).toBeLessThan(t0 - 500_000);
    expect(logged).toBeGreaterThan(t0 - 700_000);

    // Every agent connected: no VM taken for away because its clock is off.
    for (const n of st.nodes) expect(n.connected, `${n.node} connected`).toBe(true);
    // The skew of each VM, measured within its bound, and the warning for the two.
    const clock = (name: string) => st.nodes.find((n) => n.node === name)?.clock;
    for (const [name, s] of Object.entries(SKEW_S)) {
      const c = clock(name);
      expect(c, `${name} has a measured clock`).toBeDefined();
      expect(Math.abs(c!.skewMs - s * 1000), `${name} skew ${c!.skewMs} ms`).toBeLessThanOrEqual(
        c!.uncertaintyMs + 1000,
      );
      expect(c!.warning).toMatch(new RegExp(`its clock is 600 s ${s > 0 ? "ahead of" : "behind"}`));
    }
    for (const n of st.nodes.filter((x) => SKEW_S[x.node] === undefined)) {
      expect(n.clock, `${n.node} has a measured clock`).toBeDefined();
      expect(n.clock?.warning, `${n.node} keeps the host's time`).toBeUndefined();
    }
    // Every time in status is on the host's clock: none after the report, none before the deployment began.
    const now = Date.parse(st.at);
    for (const t of agentTimes(st)) {
      expect(t.at, `${t.where} not in the future`).toBeLessThanOrEqual(now + 2000);
      expect(t.at, `${t.where} not before the deployment`).toBeGreaterThanOrEqual(startedAt - 2000);
    }
    for (const n of st.nodes)
      for (const h of n.health)
        expect(h.ageSeconds, `${n.node} ${h.component} age`).toBeLessThanOrEqual(
          (now - startedAt) / 1000 + 2,
        );
    // The CLI says it too.
    const text = await d.vmmeet("status");
    expect(text.stdout).toMatch(/^jicofo .*clock 600 s behind ours/m);
    expect(text.stdout).toMatch(/^jvb .*clock 600 s ahead of ours/m);
    expect(text.stdout).toMatch(/WARNING: its clock is 600 s behind the coordinator's/);

    // A second push restarts the bridge: the brewery gate waits for its new join on jicofo's (corrected) clock.
    await writeFile(
      d.specFile,
      (await readFile(d.specFile, "utf8")).replace("jvb: { udpPort: 10000 }", "jvb: { udpPort: 10001 }"),
    );
    const t1 = Date.now();
    const second = await d.push(180);
    const secondMs = Date.now() - t1;
    expect(second.stdout, second.stdout + second.stderr).toMatch(/ok: generation 2 rolled out/);
    expect(second.stdout).toMatch(/jvb\s+restarting/);
    const after = await d.waitVerdict("conference-ready", 90_000);
    const jicofo = after.nodes.find((n) => n.node === "jicofo")?.health.find((h) => h.component === "jicofo");
    // The bridge's join that passed the gate came after the second push began, on the host's clock.
    expect(Date.parse(jicofo?.bridgesSince?.jvb ?? "")).toBeGreaterThanOrEqual(t1 - 1000);

    await recordFigure({
      fault: "clocks that disagree",
      what: "pushes with two VMs 10 minutes off",
      count: 2,
      lost: 0,
      timeToHealthyMs: readyMs,
      details: {
        skews: Object.fromEntries(
          Object.keys(SKEW_S).map((n) => [
            n,
            { skewMs: clock(n)?.skewMs, uncertaintyMs: clock(n)?.uncertaintyMs },
          ]),
        ),
        pushSeconds: [pushMs, secondMs].map((ms) => Math.round(ms / 100) / 10),
        lost: "gates decided wrong, nodes taken for away, times in status off the host's clock (none)",
        timeToHealthy: "first push begun to conference-ready",
      },
    });
  }, 420_000);
});
