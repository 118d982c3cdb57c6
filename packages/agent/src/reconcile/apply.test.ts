import { mkdir, readdir, readFile, stat, symlink, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { NodeDesired, type NodeDesiredInput } from "@vmmeet/shared";
import { beforeEach, describe, expect, it } from "vitest";
import { engineOn } from "../../../../test/helpers/agent-engine.js";
import { capturingLogger } from "../../../../test/helpers/capture-log.js";
import { jicofoConf } from "../../../../test/helpers/jicofo-desired.js";
import { tempRootEach } from "../../../../test/helpers/temp-root.js";
import { accountFile } from "../actions/prosody.js";
import type { CommandRunner } from "../actions/runner.js";
import { FakeServiceManager } from "../services/fake.js";
import { ServiceLife } from "../services/life.js";
import { fileStates } from "../status.js";
import { lenientAccounts, UnknownAccountError } from "./accounts.js";
import type { ApplyEngine } from "./engine.js";

const PASSWORD = "s3cret-Focus-pw";

const tmp = tempRootEach("vmmeet-apply-");
let logLines: string[];

beforeEach(async () => {
  logLines = [];
});

const logger = () => capturingLogger(logLines);

/** prosodyctl stand-in: register creates the account file as prosody's internal storage would. */
function fakeProsodyctl(calls: string[][]): CommandRunner {
  return {
    async run(_file, args) {
      calls.push([...args]);
      if (args[0] === "register") {
        const f = path.join(tmp.root, accountFile("/var/prosody", args[2]!, args[1]!));
        await mkdir(path.dirname(f), { recursive: true });
        await writeFile(f, "return {};\n");
      }
      return { code: 0, stdout: "", stderr: "" };
    },
  };
}

function engine(
  services: FakeServiceManager,
  extra: Partial<ConstructorParameters<typeof ApplyEngine>[0]> = {},
) {
  return engineOn(tmp, { services, log: logger(), runner: fakeProsodyctl([]), ...extra });
}

function jicofoNode(
  conf = "jicofo { xmpp {} }\n",
  flags: string | null = "--host=xmpp.example.org",
): NodeDesiredInput {
  return {
    node: "jicofo",
    role: "jicofo",
    files: [
      jicofoConf(conf),
      {
        path: "/etc/jicofo/jicofo.in.sh",
        content: "JICOFO_MAXMEM=3G\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "jicofo", action: "restart" }],
      },
      {
        path: "/etc/syslog.conf",
        content: "!jicofo\n*.*\t/var/log/jicofo\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "syslogd", action: "reload" }],
      },
    ],
    services: [{ name: "jicofo", flags, order: 20 }],
    actions: [
      { kind: "syslog-logfile", path: "/var/log/jicofo", mode: "0640", owner: "root", group: "wheel" },
    ],
    health: { release: 9646 },
  };
}

function jicofoServices() {
  return new FakeServiceManager({
    jicofo: { reloadUnsupported: true },
    syslogd: { enabled: true, running: true },
  });
}

/** jicofo's node applied as generation `generation`, its rcctl calls forgotten: what the next apply does. */
async function appliedJicofo(generation = 1) {
  const svc = jicofoServices();
  const e = engine(svc);
  await e.apply(jicofoNode(), generation);
  svc.calls.length = 0;
  return { svc, e };
}

describe("applyDesired", () => {
  it("writes files with their modes, enables before setting flags, starts, and checks", async () => {
    const svc = jicofoServices();
    const r = await engine(svc).apply(jicofoNode(), 1);
    expect(r.outcome).toBe("applied");
    expect(r.changed).toBe(true);
    expect(r.files.map((f) => f.status)).toEqual(["written", "written", "written"]);
    const st = await stat(path.join(tmp.root, "etc/jicofo/jicofo.conf"));
    expect(st.mode & 0o7777).toBe(0o640);
    expect((await stat(path.join(tmp.root, "etc/jicofo"))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(tmp.root, "etc/jicofo/jicofo.conf"), "utf8")).toBe(
      "jicofo { xmpp {} }\n",
    );
    // one syslogd reload for syslog.conf and the new log file together, before jicofo starts
    expect(svc.actions).toEqual([
      "enable jicofo",
      "set jicofo flags --host=xmpp.example.org",
      "reload syslogd",
      "start jicofo",
    ]);
    // every start/reload is followed by a check
    const i = svc.calls.indexOf("start jicofo");
    expect(svc.calls[i + 1]).toBe("check jicofo");
    expect((await stat(path.join(tmp.root, "var/log/jicofo"))).mode & 0o777).toBe(0o640);
    expect(r.actions).toEqual([
      {
        kind: "action",
        action: "syslog-logfile",
        target: "/var/log/jicofo",
        status: "done",
        detail: "created",
      },
    ]);
    expect(r.services.find((s) => s.name === "jicofo")).toMatchObject({
      status: "changed",
      steps: ["enabled", "flags-set", "started"],
    });
  });

  it("changes nothing and restarts nothing the second time", async () => {
    const { svc, e } = await appliedJicofo();
    const r = await e.apply(jicofoNode(), 1);
    expect(r.outcome).toBe("applied");
    expect(r.changed).toBe(false);
    expect(svc.actions).toEqual([]);
    expect(r.files.every((f) => f.status === "unchanged")).toBe(true);
    // also with a newer generation carrying the same state
    const r2 = await e.apply(jicofoNode(), 2);
    expect(r2.changed).toBe(false);
    expect(svc.actions).toEqual([]);
  });

  /** The engine's service owner with its time stopped: what it saw stays fresh for the whole test. */
  const frozen = (svc: FakeServiceManager) => new ServiceLife(svc, { now: () => 0 });

  /** What the owner answers without asking rcctl (the status snapshot's questions), and whether it asked. */
  async function ownerKnows(e: ApplyEngine, svc: FakeServiceManager, name: string) {
    const before = svc.calls.length;
    const known = { running: await e.services.running(name), flags: await e.services.flags(name) };
    return { ...known, asked: svc.calls.slice(before) };
  }

  it("asks rcctl once for flags and once whether it runs; the service owner keeps what it said", async () => {
    const svc = jicofoServices();
    const e = engine(svc, { services: frozen(svc) });
    await e.apply(jicofoNode(), 1);
    svc.calls.length = 0;
    await e.apply(jicofoNode(), 2);
    // `get flags` printing the flags (not NO) already says jicofo is enabled: no `get jicofo status`
    expect(svc.calls).toEqual(["get jicofo flags", "check jicofo"]);
    const flags = "--host=xmpp.example.org";
    expect(await ownerKnows(e, svc, "jicofo")).toEqual({ running: true, flags, asked: [] });

    svc.calls.length = 0;
    const d = jicofoNode("jicofo { xmpp { a = 1 } }\n");
    await e.apply(d, 3);
    expect(svc.calls).toEqual(["get jicofo flags", "check jicofo", "restart jicofo", "check jicofo"]);
    expect(await ownerKnows(e, svc, "jicofo")).toEqual({ running: true, flags, asked: [] });
  });

  it("reads the flags of a service whose flags it does not manage, instead of `get status`", async () => {
    const svc = jicofoServices();
    const e = engine(svc, { services: frozen(svc) });
    await e.apply(jicofoNode(undefined, null), 1);
    svc.calls.length = 0;
    await e.apply(jicofoNode(undefined, null), 2);
    // one call says both whether it is enabled and what the status reports as its flags
    expect(svc.calls).toEqual(["get jicofo flags", "check jicofo"]);
    // never set: the script's default
    expect(await ownerKnows(e, svc, "jicofo")).toEqual({ running: true, flags: "", asked: [] });
    expect(svc.actions).toEqual([]);
  });

  it("reports each file it wrote or found as desired as the status would read it from disk", async () => {
    const svc = jicofoServices();
    const e = engine(svc);
    const first = await e.apply(jicofoNode(), 1);
    const d = NodeDesired.parse(jicofoNode("jicofo { xmpp { a = 1 } }\n"));
    const r = await e.apply(d, 2);
    expect(r.files.map((f) => f.status)).toEqual(["written", "unchanged", "unchanged"]);
    const onDisk = await fileStates(d, tmp.root, lenientAccounts());
    expect(onDisk.every((f) => f.sha256 !== null)).toBe(true);
    expect(Object.values(r.observedFiles ?? {})).toEqual(onDisk);
    expect(Object.values(first.observedFiles ?? {})).toHaveLength(3);
  });

  it("observes nothing it did not see: new flags and a failed start are asked again by the status", async () => {
    const svc = new FakeServiceManager({
      jicofo: { enabled: true, running: true, flags: "--old", reloadUnsupported: true },
      syslogd: { enabled: true, running: true },
    });
    const e = engine(svc, { services: frozen(svc) });
    const r = await e.apply(jicofoNode(), 1);
    expect(r.services.find((s) => s.name === "jicofo")?.steps).toContain("flags-set");
    // the flags are asked again after `set` (what rcctl prints is its business), whether it runs is not
    expect(await ownerKnows(e, svc, "jicofo")).toMatchObject({ running: true, asked: ["get jicofo flags"] });

    const failing = new FakeServiceManager({
      jicofo: { enabled: true, running: false, flags: "--host=xmpp.example.org", startFails: true },
      syslogd: { enabled: true, running: true },
    });
    const e2 = engine(failing, { services: frozen(failing) });
    const r2 = await e2.apply(jicofoNode(), 1);
    expect(r2.outcome).toBe("failed");
    // after a failed start nothing is known of the process: asked again
    expect(await ownerKnows(e2, failing, "jicofo")).toEqual({
      running: false,
      flags: "--host=xmpp.example.org",
      asked: ["check jicofo"],
    });
  });

  it("enables a service whose `get flags` prints NO, without asking `get status`", async () => {
    const svc = new FakeServiceManager({
      jicofo: { enabled: false, running: false, reloadUnsupported: true },
      syslogd: { enabled: true, running: true },
    });
    await engine(svc).apply(jicofoNode(), 1);
    expect(svc.calls).not.toContain("get jicofo status");
    expect(svc.actions.slice(0, 2)).toEqual(["enable jicofo", "set jicofo flags --host=xmpp.example.org"]);
  });

  it("restarts only the service of a changed file, once, even when it could only be reloaded", async () => {
    const { svc, e } = await appliedJicofo();
    const d = jicofoNode("jicofo { xmpp { a = 1 } }\n");
    d.files[1]!.content = "JICOFO_MAXMEM=2G\n"; // both jicofo files change: still one restart
    d.files[1]!.notify = [{ service: "jicofo", action: "reload" }];
    const r = await e.apply(d, 2);
    expect(r.changed).toBe(true);
    expect(svc.actions).toEqual(["restart jicofo"]);
  });

  it("restarts instead of reloading when rc_reload=NO", async () => {
    const { svc, e } = await appliedJicofo();
    const d = jicofoNode("changed\n");
    d.files[0]!.notify = [{ service: "jicofo", action: "reload" }];
    const r = await e.apply(d, 2);
    expect(svc.actions).toEqual(["reload jicofo", "restart jicofo"]);
    expect(r.services.find((s) => s.name === "jicofo")?.steps).toEqual(["restarted"]);
  });

  it("restarts a running service whose flags changed, and never disables it", async () => {
    const { svc, e } = await appliedJicofo();
    await e.apply(jicofoNode(undefined, "--host=other.example.org"), 2);
    expect(svc.actions).toEqual(["set jicofo flags --host=other.example.org", "restart jicofo"]);
    svc.calls.length = 0;
    // flags null: left as they are
    const r = await e.apply(jicofoNode(undefined, null), 3);
    expect(r.changed).toBe(false);
    expect(svc.actions).toEqual([]);
    expect(svc.services.get("jicofo")?.flags).toBe("--host=other.example.org");
  });

  it("starts a service that is not running, without touching files", async () => {
    const svc = jicofoServices();
    const e = engine(svc);
    await e.apply(jicofoNode(), 1);
    svc.services.get("jicofo")!.running = false;
    svc.calls.length = 0;
    const r = await e.apply(jicofoNode(), 1);
    expect(svc.actions).toEqual(["start jicofo"]);
    expect(r.changed).toBe(true);
  });

  it("reports a start whose check fails as a failed item", async () => {
    const svc = jicofoServices();
    svc.services.get("jicofo")!.startsButCheckFails = true;
    const r = await engine(svc).apply(jicofoNode(), 1);
    expect(r.outcome).toBe("failed");
    expect(r.services.find((s) => s.name === "jicofo")).toMatchObject({
      status: "failed",
      steps: ["enabled", "flags-set", "started"],
    });
  });

  it("reports an unknown service as a failed item and goes on", async () => {
    const svc = new FakeServiceManager({ syslogd: { enabled: true, running: true } });
    const r = await engine(svc).apply(jicofoNode(), 1);
    expect(r.outcome).toBe("failed");
    const it = r.services.find((s) => s.name === "jicofo");
    expect(it?.status).toBe("failed");
    expect(it?.detail).toMatch(/unknown service jicofo/);
    expect(r.files.every((f) => f.status === "written")).toBe(true);
  });

  it("refuses the whole desired state for a path or service outside the allow-list, writing nothing", async () => {
    const svc = jicofoServices();
    const d = jicofoNode();
    d.files.push(
      { path: "/etc/master.passwd", content: "x", mode: "0600", owner: "root", group: "wheel" },
      { path: "/etc/jicofo/../master.passwd", content: "x", mode: "0600", owner: "root", group: "wheel" },
    );
    d.services.push({ name: "sshd", flags: null, order: 1 });
    const r = await engine(svc).apply(d, 1);
    expect(r.outcome).toBe("refused");
    const items = r.refusals.map((x) => x.item);
    expect(items).toContain("file /etc/master.passwd");
    expect(items).toContain("file /etc/jicofo/../master.passwd");
    expect(items).toContain("service sshd");
    expect(svc.calls).toEqual([]);
    await expect(stat(path.join(tmp.root, "etc"))).rejects.toThrow();
    await expect(stat(path.join(tmp.stateDir, "state.json"))).rejects.toThrow();
  });

  it("refuses a desired state for another role than the agent's", async () => {
    const r = await engine(jicofoServices(), { role: "jvb" }).apply(jicofoNode(), 1);
    expect(r.outcome).toBe("refused");
    expect(r.refusals[0]?.item).toBe("role");
  });

  it("refuses a path whose parent is a link leading out of the root", async () => {
    const outside = path.join(tmp.dir, "outside");
    await mkdir(outside);
    await mkdir(path.join(tmp.root, "etc"));
    await symlink(outside, path.join(tmp.root, "etc/jicofo"));
    const svc = jicofoServices();
    const r = await engine(svc).apply(jicofoNode(), 1);
    expect(r.outcome).toBe("refused");
    expect(r.refusals[0]).toEqual({
      item: "file /etc/jicofo/jicofo.conf",
      reason: "/etc/jicofo is a link leading outside the root",
    });
    expect(svc.calls).toEqual([]);
    await expect(stat(path.join(tmp.root, "etc/syslog.conf"))).rejects.toThrow();
    await expect(stat(path.join(outside, "jicofo.conf"))).rejects.toThrow();
  });

  it("refuses unknown accounts when the resolver does", async () => {
    const strict = {
      uid: (u: string) => {
        if (u === "root") return 0;
        throw new UnknownAccountError("user", u);
      },
      gid: (_g: string) => 0,
    };
    const r = await engine(jicofoServices(), { accounts: strict }).apply(
      { ...jicofoNode(), files: [{ ...jicofoNode().files[0]!, owner: "_nosuch" }] },
      1,
    );
    expect(r.outcome).toBe("refused");
    expect(r.refusals[0]?.reason).toMatch(/unknown user _nosuch/);
  });

  it("ignores a stale generation", async () => {
    const { svc, e } = await appliedJicofo(5);
    const r = await e.apply(jicofoNode("older\n"), 4);
    expect(r).toMatchObject({ outcome: "stale", current: 5, changed: false });
    expect(svc.calls).toEqual([]);
    expect(await readFile(path.join(tmp.root, "etc/jicofo/jicofo.conf"), "utf8")).toBe(
      "jicofo { xmpp {} }\n",
    );
  });

  it("finishes the restart a crash left pending, at start-up", async () => {
    const svc = jicofoServices();
    await engine(svc).apply(jicofoNode(), 1);
    // As if the agent died after writing the files and before restarting jicofo: nothing differs on disk.
    await writeFile(
      path.join(tmp.stateDir, "pending.json"),
      JSON.stringify({ generation: 1, services: { jicofo: "restart" } }),
    );
    svc.calls.length = 0;
    const s = await engine(svc).start();
    expect(s.kind).toBe("enforced");
    expect(svc.actions).toEqual(["restart jicofo"]);
    await expect(stat(path.join(tmp.stateDir, "pending.json"))).rejects.toThrow();
  });

  it("treats a corrupt state file as absent: a new desired state still applies", async () => {
    const svc = jicofoServices();
    await mkdir(tmp.stateDir, { recursive: true });
    await writeFile(path.join(tmp.stateDir, "state.json"), "{ torn");
    await writeFile(path.join(tmp.stateDir, "pending.json"), "[]");
    expect((await engine(svc).start()).kind).toBe("empty");
    const r = await engine(svc).apply(jicofoNode(), 1);
    expect(r.outcome).toBe("applied");
    expect(logLines.join("")).toContain("state unreadable");
    await expect(stat(path.join(tmp.stateDir, "pending.json"))).rejects.toThrow();
  });

  it("re-enforces the persisted state in a new engine (coordinator gone)", async () => {
    const svc = jicofoServices();
    await engine(svc).apply(jicofoNode(), 3);
    await unlink(path.join(tmp.root, "etc/jicofo/jicofo.conf"));
    svc.calls.length = 0;
    const s = await engine(svc).start();
    expect(s.kind === "enforced" && s.result.files[0]).toMatchObject({
      status: "written",
      change: "created",
    });
    expect(await readFile(path.join(tmp.root, "etc/jicofo/jicofo.conf"), "utf8")).toBe(
      "jicofo { xmpp {} }\n",
    );
    expect(svc.actions).toEqual(["restart jicofo"]);
  });

  it("rolls back the files of one generation and restarts their services", async () => {
    const svc = jicofoServices();
    const e = engine(svc);
    await e.apply(jicofoNode(), 1);
    await e.apply(jicofoNode("version two\n"), 2);
    svc.calls.length = 0;
    const r = await e.rollback(2);
    expect(r.outcome).toBe("rolled-back");
    expect(r.files.map((f) => f.path)).toEqual(["/etc/jicofo/jicofo.conf"]);
    expect(await readFile(path.join(tmp.root, "etc/jicofo/jicofo.conf"), "utf8")).toBe(
      "jicofo { xmpp {} }\n",
    );
    expect(svc.actions).toEqual(["restart jicofo"]);
    // the rolled-back state is what a new engine enforces
    svc.calls.length = 0;
    const s = await engine(svc).start();
    expect(s.kind === "enforced" && s.result.changed).toBe(false);
    // rolling back the first generation removes the files it created
    await e.rollback(1);
    await expect(stat(path.join(tmp.root, "etc/jicofo/jicofo.in.sh"))).rejects.toThrow();
  });

  it("creates prosody users after prosody runs, redacts the password, and is idempotent", async () => {
    const calls: string[][] = [];
    const svc = new FakeServiceManager({ prosody: {}, syslogd: { enabled: true, running: true } });
    // prosodyctl must not be called before prosody is started
    const runner: CommandRunner = {
      async run(file, args, opts) {
        expect(svc.services.get("prosody")?.running).toBe(true);
        return fakeProsodyctl(calls).run(file, args, opts);
      },
    };
    const e = engine(svc, { runner });
    const desired: NodeDesiredInput = {
      node: "xmpp",
      role: "xmpp",
      files: [],
      services: [{ name: "prosody", flags: null, order: 10 }],
      actions: [
        { kind: "prosody-roster-subscribe", proxy: "focus.example.org", jid: "focus@auth.example.org" },
        { kind: "prosody-user", host: "auth.example.org", user: "focus", password: PASSWORD },
      ],
      health: { release: 9646 },
    };
    const r1 = await e.apply(desired, 1);
    expect(r1.outcome).toBe("applied");
    expect(calls).toEqual([
      ["register", "focus", "auth.example.org", PASSWORD],
      ["mod_roster_command", "subscribe", "focus.example.org", "focus@auth.example.org"],
    ]);
    const r2 = await e.apply(desired, 1);
    expect(r2.changed).toBe(false);
    expect(calls).toHaveLength(2);
    // a new password: register again (resets it), the roster stays
    const changed = structuredClone(desired);
    (changed.actions[1] as { password: string }).password = `${PASSWORD}-2`;
    await e.apply(changed, 2);
    expect(calls).toHaveLength(3);
    // the account vanished (prosody data lost): re-created, and the subscription is redone
    await unlink(path.join(tmp.root, accountFile("/var/prosody", "auth.example.org", "focus")));
    await e.apply(changed, 2);
    expect(calls.slice(3).map((c) => c[0])).toEqual(["register", "mod_roster_command"]);
    // state.json must keep it (the agent re-creates the user with the coordinator gone): 0600 in a 0700 tmp.dir
    expect((await stat(path.join(tmp.stateDir, "state.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(tmp.stateDir)).mode & 0o777).toBe(0o700);
    const everything =
      JSON.stringify([r1, r2]) + logLines.join("") + (await readAll(tmp.stateDir, "state.json"));
    expect(everything).not.toContain(PASSWORD);
  });

  it("keeps the password out of results when prosodyctl fails", async () => {
    const svc = new FakeServiceManager({ prosody: {} });
    const runner: CommandRunner = {
      async run(_f, args) {
        return { code: 1, stdout: `Error: bad ${args.join(" ")}`, stderr: "" };
      },
    };
    const r = await engine(svc, { runner }).apply(
      {
        node: "xmpp",
        role: "xmpp",
        files: [],
        services: [{ name: "prosody", flags: null, order: 10 }],
        actions: [{ kind: "prosody-user", host: "auth.example.org", user: "focus", password: PASSWORD }],
        health: { release: 9646 },
      },
      1,
    );
    expect(r.outcome).toBe("failed");
    expect(r.actions[0]?.status).toBe("failed");
    expect(JSON.stringify(r) + logLines.join("")).not.toContain(PASSWORD);
  });
});

async function readAll(d: string, except: string): Promise<string> {
  let out = "";
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name !== except) out += await readFile(path.join(e.parentPath, e.name), "utf8");
  }
  return out;
}
