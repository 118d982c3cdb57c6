// pf commit-confirm end to end with the real agent process (compiled dist/main.js), the pfctl and rcctl test
// doubles, and a ws server on port 0 playing the coordinator; the confirm window (2 s) comes in the desired
// state. A pf.conf pfctl -nf refuses is refused as a whole; a confirmed change stays; a change after which
// the link dies (the server drops the agent while the new rules are loaded, as those rules would) is
// reverted after the window, kept reverted, and the revert is reported once the link is back.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { type AgentToCoordinator, type NodeDesired, NodeDesired as NodeDesiredSchema } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { loadedRules, loadedRulesNow, makePfctl, pfctlHistory } from "./doubles/pfctl/index.js";
import { agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { type FakeCoordinator, fakeCoordinator } from "./helpers/fake-coordinator.js";
import { type CapturedChild, spawnAgent, useCleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();

const RULES = {
  A: "set skip on lo\nblock return log\npass out quick on egress proto tcp to any port { 53 80 443 7443 }\n",
  B: "set skip on lo\nblock return log\npass out quick on egress proto { tcp udp } to any port { 53 80 443 7443 }\n",
  C: "set skip on lo\nblock return log\npass out quick on egress proto tcp to any port { 53 80 443 }\n",
  BAD: "set skip on lo\nblock return log\npass out quick on egress proto tcp to any port { 53 80 443 7443\n",
};
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

type Frame<T extends AgentToCoordinator["type"]> = Extract<AgentToCoordinator, { type: T }>;

type Coordinator = FakeCoordinator & {
  /** Confirm every apply result over the link it came on (what the real coordinator does). */
  confirm: boolean;
  /** While true, every connection is dropped at once (the agent's rules shut it out). */
  blocked: () => boolean;
};

async function coordinator(): Promise<Coordinator> {
  let seq = 0;
  const c: Coordinator = Object.assign(
    await fakeCoordinator({
      cleanups,
      drop: () => c.blocked(),
      onFrame: (frame, ws) => {
        if (frame.type === "apply-result" && c.confirm)
          ws.send(JSON.stringify({ type: "confirm", id: `k${++seq}`, generation: frame.generation }));
      },
    }),
    { confirm: true, blocked: () => false },
  );
  return c;
}

async function sandbox() {
  const s = await agentSandbox("vmmeet-pfagent-", cleanups, ["jicofo"]);
  return { ...s, pfctl: await makePfctl(s.root) };
}

function startAgent(s: Awaited<ReturnType<typeof sandbox>>, url: string): CapturedChild {
  return spawnAgent(
    [...sandboxAgentArgs(s), ...["--coordinator", url, "--pfctl", s.pfctl, "--log-level", "debug"]],
    { cleanups },
  );
}

function desired(pf: string, hosts: string): NodeDesired {
  return NodeDesiredSchema.parse({
    node: "jicofo",
    role: "jicofo",
    files: [
      {
        path: "/etc/pf.conf",
        content: pf,
        mode: "0600",
        owner: "root",
        group: "wheel",
        notify: [{ service: "pf", action: "reload" }],
      },
      { path: "/etc/hosts", content: hosts, mode: "0644", owner: "root", group: "wheel" },
    ],
    services: [{ name: "jicofo", flags: null, order: 20 }],
    actions: [],
    health: { release: 9646 },
    pf: { confirmSeconds: 2 },
  });
}

const of = <T extends AgentToCoordinator["type"]>(c: Coordinator, type: T) =>
  c.frames.filter((f): f is Frame<T> => f.type === type);
const eventOf = (c: Coordinator, kind: string) => of(c, "event").find((f) => f.event.kind === kind)?.event;

describe("pf commit-confirm in the agent process", () => {
  it("refuses a bad pf.conf, keeps a confirmed one, and reverts one after which the coordinator is gone", async () => {
    const s = await sandbox();
    const c = await coordinator();
    const agent = startAgent(s, c.url);
    await waitFor(() => of(c, "snapshot").length > 0, { what: "hello and snapshot", timeoutMs: 20_000 });
    const apply = async (generation: number, d: NodeDesired) => {
      const n = of(c, "apply-result").length;
      c.send({ type: "desired", id: `d${generation}`, generation, desired: d });
      return waitFor(() => of(c, "apply-result")[n], {
        what: `apply-result ${generation}`,
        timeoutMs: 30_000,
      });
    };

    // Generation 1: A, confirmed.
    const r1 = await apply(1, desired(RULES.A, "100.64.2.3 xmpp\n"));
    expect(r1, agent.output()).toMatchObject({ ok: true });
    expect(r1.items).toContainEqual({ kind: "service", target: "pf", status: "reloaded" });
    await waitFor(() => eventOf(c, "pf-confirmed"), { what: "pf-confirmed 1" });
    expect(await loadedRules(s.root)).toBe(RULES.A);

    // Generation 2: a syntax error. Refused by pfctl -nf as a whole: nothing written, the rules unchanged.
    const loadsBefore = await pfctlHistory(s.root);
    const r2 = await apply(2, desired(RULES.BAD, "100.64.2.3 xmpp changed\n"));
    expect(r2.ok).toBe(false);
    expect(r2.error).toMatch(
      /refused: file \/etc\/pf\.conf: pfctl -nf refused it \(exit 1\): \/etc\/pf\.conf:\d+: /,
    );
    expect(r2.items.find((i) => i.status === "refused")?.detail).toContain("pf rules not loaded");
    expect(await loadedRules(s.root)).toBe(RULES.A);
    expect(await pfctlHistory(s.root)).toEqual(loadsBefore);
    expect(await readFile(path.join(s.root, "etc/pf.conf"), "utf8")).toBe(RULES.A);
    expect(await readFile(path.join(s.root, "etc/hosts"), "utf8")).toBe("100.64.2.3 xmpp\n");

    // Generation 3: B, confirmed over the live link: it stays.
    expect(await apply(3, desired(RULES.B, "100.64.2.3 xmpp\n"))).toMatchObject({ ok: true });
    await waitFor(
      () =>
        of(c, "event").find(
          (f) => f.event.kind === "pf-confirmed" && f.event.message.includes("generation 3"),
        ),
      { what: "pf-confirmed 3" },
    );
    const pfState = JSON.parse(await readFile(path.join(s.state, "pf/state.json"), "utf8"));
    expect(pfState.pending).toBeNull();

    // Generation 4: C shuts the coordinator out. The apply result still leaves, then the link dies and
    // stays dead while C is loaded; no confirmation can come.
    c.confirm = false;
    c.blocked = () => false;
    const r4 = await apply(4, desired(RULES.C, "100.64.2.3 xmpp\n"));
    expect(r4).toMatchObject({ ok: true });
    // Blocked while pfctl holds C, read at each check: pf applies a ruleset the moment pfctl -f returns.
    c.blocked = () => loadedRulesNow(s.root) === RULES.C;
    c.socket()?.terminate();
    c.confirm = true;
    // After the 2 s window the agent puts B back (not A: B stayed past its own window), the link comes
    // back, and the queued event says why.
    const reverted = await waitFor(() => eventOf(c, "pf-reverted"), {
      what: "pf-reverted",
      timeoutMs: 30_000,
    });
    expect(reverted.label).toBe("degraded");
    expect(reverted.message).toMatch(
      /no confirmation from the coordinator within 2 s of loading \/etc\/pf\.conf of generation 4 \(the coordinator link is (down|connecting) since /,
    );
    expect(await loadedRules(s.root)).toBe(RULES.B);
    expect(await readFile(path.join(s.root, "etc/pf.conf"), "utf8")).toBe(RULES.B);
    // Kept reverted: the persisted desired state holds B, and the snapshot reports B's hash for pf.conf.
    const st = JSON.parse(await readFile(path.join(s.state, "state.json"), "utf8"));
    expect(st.generation).toBe(4);
    expect(st.desired.files.find((f: { path: string }) => f.path === "/etc/pf.conf").content).toBe(RULES.B);
    const snap = await waitFor(
      () =>
        of(c, "snapshot").find(
          (f) =>
            f.status.files.find((x) => x.path === "/etc/pf.conf")?.sha256 === sha(RULES.B) &&
            f.status.generation === 4,
        ),
      { what: "snapshot after the revert" },
    );
    expect(snap.status.files.find((x) => x.path === "/etc/hosts")?.sha256).toBe(sha("100.64.2.3 xmpp\n"));

    // A new generation tries again, and with the link kept it stays.
    c.blocked = () => false;
    expect(await apply(5, desired(RULES.C, "100.64.2.3 xmpp\n"))).toMatchObject({ ok: true });
    await waitFor(
      () =>
        of(c, "event").find(
          (f) => f.event.kind === "pf-confirmed" && f.event.message.includes("generation 5"),
        ),
      { what: "pf-confirmed 5" },
    );
    expect(await loadedRules(s.root)).toBe(RULES.C);
  });
});
