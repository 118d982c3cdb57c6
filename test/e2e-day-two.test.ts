// Day two in the sandbox (test/harness/deployment.ts: the real coordinator and agents, the rcctl double,
// the prosody/jicofo/jvb/nginx SIMULATORS): from a conference-ready deployment, changes are pushed one after
// the other. Each push must exit 0 without a rollback, leave the deployment conference-ready, and restart or
// reload exactly the services the change needs (read from the rcctl double's call log).
import { readFile, writeFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Deployment } from "./harness/deployment.js";

let d: Deployment;

beforeAll(async () => {
  d = await Deployment.start({ agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"] });
  const first = await d.push(120);
  if (first.code !== 0) throw new Error(`the first push failed:\n${first.stdout}${first.stderr}`);
  await d.waitVerdict("conference-ready", 60_000);
}, 240_000);
afterAll(async () => {
  await d?.remove();
}, 60_000);

/** Edits the spec file in place. */
async function editSpec(edit: (text: string) => string): Promise<void> {
  const text = await readFile(d.specFile, "utf8");
  const next = edit(text);
  if (next === text) throw new Error("the spec edit changed nothing");
  await writeFile(d.specFile, next);
}

describe("day two: a change to a running deployment", () => {
  it("xmppWebsocket false -> true restarts prosody; jicofo and the bridge reconnect; no rollback", async () => {
    // A deployment steady for longer than jicofo's 90 s grace period: the agents of jicofo and jvb started
    // again know of no recent (re)start of their service, as after that period.
    await d.leaveGracePeriods(["jicofo", "jvb"]);
    await editSpec((t) => t.replace(/^xmppWebsocket: false/m, "xmppWebsocket: true"));
    const pushedAt = Date.now();
    const push = await d.push(120);
    expect(push.stdout, push.stdout).not.toMatch(/rolled back|restoring generation/);
    expect(push.code, push.stdout).toBe(0);
    const st = await d.waitVerdict("conference-ready", 60_000);
    // The gate waited for the bridge to be back in jicofo's brewery after prosody's restart.
    const j = st.nodes.find((n) => n.node === "jicofo")?.health.find((h) => h.component === "jicofo");
    expect(Date.parse(j?.bridgesSince?.jvb ?? "")).toBeGreaterThanOrEqual(pushedAt);
  }, 180_000);
});
