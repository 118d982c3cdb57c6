// The apply engine against the rcctl(8) test double with real processes: a jicofo-like node is applied
// to a temp root; the rcctl call sequence comes from a logging wrapper around the double, the services'
// state from the double's rc.conf.local and the live sleeper daemons.
import {
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  unlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { NodeDesiredInput } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lenientAccounts } from "../packages/agent/src/reconcile/accounts.js";
import { ApplyEngine } from "../packages/agent/src/reconcile/engine.js";
import { Rcctl } from "../packages/agent/src/services/rcctl.js";
import {
  doubleProcesses,
  killDoubleProcesses,
  makeRcctl,
  readContention,
  writeRcScript,
} from "./doubles/rcctl/index.js";

import { jicofoConf } from "./helpers/jicofo-desired.js";

let base: string;
let root: string;
let stateDir: string;
let callLog: string;
let rcctl: string;
let jicofoDaemon: string;
let syslogdDaemon: string;

const KEYSTORE = Buffer.from([0x30, 0x82, 0x01, 0x0a, 0x00, 0xff, 0x10, 0x20]).toString("base64");

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), "vmmeet-agent-apply-"));
  root = path.join(base, "root");
  stateDir = path.join(base, "state");
  await mkdir(root);
  const real = await makeRcctl(root);
  // Logging wrapper: one line per rcctl invocation, in the order the agent made them.
  callLog = path.join(base, "rcctl-calls.log");
  rcctl = path.join(base, "rcctl-logged");
  await writeFile(rcctl, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${callLog}'\nexec '${real}' "$@"\n`);
  await chmod(rcctl, 0o755);
  // Sleeper daemons: stay in the foreground, exit on TERM; syslogd's ignores HUP (its reload).
  const sleeper = path.join(base, "sleeper.sh");
  await writeFile(
    sleeper,
    "trap 'kill $! 2>/dev/null; exit 0' TERM\ntrap '' HUP\nwhile :; do sleep 3600 & wait $!; done\n",
  );
  jicofoDaemon = `/bin/sh ${sleeper} jicofo`;
  syslogdDaemon = `/bin/sh ${sleeper} syslogd`;
  await writeRcScript(root, "jicofo", { daemon: jicofoDaemon, reload: false, timeout: 5, user: "_jicofo" });
  await writeRcScript(root, "syslogd", { daemon: syslogdDaemon, timeout: 5 });
});

afterAll(async () => {
  await killDoubleProcesses(root);
  await rm(base, { recursive: true, force: true });
});

function engine() {
  return new ApplyEngine({
    root,
    stateDir,
    services: new Rcctl({ path: rcctl, timeoutMs: 20_000 }),
    accounts: lenientAccounts(),
    role: "jicofo",
  });
}

function jicofoNode(
  conf = "jicofo { xmpp { client { hostname = xmpp } } }\n",
  syslog = "!jicofo\n*.*\t/var/log/jicofo\n",
): NodeDesiredInput {
  return {
    node: "jicofo",
    role: "jicofo",
    files: [
      { ...jicofoConf(conf), secret: true },
      {
        path: "/etc/jicofo/jicofo.in.sh",
        content: "JICOFO_MAXMEM=3G\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "jicofo", action: "restart" }],
      },
      {
        path: "/etc/ssl/jicofo-key.store",
        content: KEYSTORE,
        encoding: "base64",
        mode: "0640",
        owner: "root",
        group: "_jicofo",
        notify: [{ service: "jicofo", action: "restart" }],
      },
      {
        path: "/etc/syslog.conf",
        content: syslog,
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "syslogd", action: "reload" }],
      },
      {
        path: "/etc/hosts",
        content: "127.0.0.1 localhost\n10.0.0.3 xmpp\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
      },
    ],
    services: [
      { name: "jicofo", flags: "--host=xmpp.example.org", order: 20 },
      { name: "syslogd", flags: null, order: 10 },
    ],
    actions: [
      { kind: "syslog-logfile", path: "/var/log/jicofo", mode: "0640", owner: "root", group: "wheel" },
    ],
    health: { release: 9646 },
  };
}

async function calls(): Promise<string[]> {
  try {
    return (await readFile(callLog, "utf8")).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}
const mutating = (c: string[]) => c.filter((l) => !/^(get|check) /.test(l));
async function resetCalls() {
  await writeFile(callLog, "");
}
function pidOf(daemon: string): number[] {
  return doubleProcesses(root)
    .filter((p) => p.kind === "daemon" && p.cmdline.startsWith(daemon))
    .map((p) => p.pid);
}
const read = (p: string) => readFile(path.join(root, p), "utf8");
const modeOf = async (p: string) => (await stat(path.join(root, p))).mode & 0o7777;

describe("agent apply against the rcctl double", () => {
  let jicofoPid: number | undefined;
  let syslogdPid: number | undefined;

  it("first apply: writes files with modes, enables, sets flags, starts in order, checks", async () => {
    const r = await engine().apply(jicofoNode(), 1);
    expect(r.outcome, JSON.stringify(r)).toBe("applied");
    expect(r.changed).toBe(true);
    expect(await modeOf("/etc/jicofo/jicofo.conf")).toBe(0o640);
    expect(await modeOf("/etc/jicofo/jicofo.in.sh")).toBe(0o644);
    expect(await modeOf("/var/log/jicofo")).toBe(0o640);
    expect((await stat(path.join(root, "etc/jicofo"))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(root, "etc/ssl/jicofo-key.store"))).toEqual(
      Buffer.from(KEYSTORE, "base64"),
    );
    expect(await read("/etc/syslog.conf")).toBe("!jicofo\n*.*\t/var/log/jicofo\n");

    const c = await calls();
    // enable before set (set refuses a disabled service); syslogd (order 10) before jicofo (order 20);
    // its start covers the reload that syslog.conf and the new log file asked for.
    expect(mutating(c)).toEqual([
      "enable jicofo",
      "set jicofo flags --host=xmpp.example.org",
      "start syslogd",
      "start jicofo",
    ]);
    for (const s of ["syslogd", "jicofo"]) expect(c[c.indexOf(`start ${s}`) + 1]).toBe(`check ${s}`);
    expect(c).not.toContain("disable jicofo");

    const rcConfLocal = (await read("/etc/rc.conf.local")).split("\n");
    expect(rcConfLocal).toContain("pkg_scripts=jicofo");
    expect(rcConfLocal).toContain("jicofo_flags=--host=xmpp.example.org");
    // the real daemon runs with the flags
    expect(doubleProcesses(root).some((p) => p.cmdline === `${jicofoDaemon} --host=xmpp.example.org`)).toBe(
      true,
    );
    [jicofoPid] = pidOf(jicofoDaemon);
    [syslogdPid] = pidOf(syslogdDaemon);
    expect(jicofoPid).toBeDefined();
    expect(syslogdPid).toBeDefined();
    expect(await readContention(root)).toEqual([]);
  });

  it("second identical apply changes nothing and restarts nothing", async () => {
    await resetCalls();
    const r = await engine().apply(jicofoNode(), 1);
    expect(r).toMatchObject({ outcome: "applied", changed: false });
    expect(r.files.every((f) => f.status === "unchanged")).toBe(true);
    expect(mutating(await calls())).toEqual([]);
    expect(pidOf(jicofoDaemon)).toEqual([jicofoPid]);
    expect(pidOf(syslogdDaemon)).toEqual([syslogdPid]);
  });

  it("a changed file restarts only its service, once", async () => {
    await resetCalls();
    const r = await engine().apply(jicofoNode("jicofo { xmpp { client { hostname = xmpp2 } } }\n"), 2);
    expect(r.outcome).toBe("applied");
    expect(r.files.filter((f) => f.status === "written").map((f) => f.path)).toEqual([
      "/etc/jicofo/jicofo.conf",
    ]);
    expect(mutating(await calls())).toEqual(["restart jicofo"]);
    expect(r.services.find((s) => s.name === "jicofo")?.steps).toEqual(["restarted"]);
    const [now] = pidOf(jicofoDaemon);
    expect(now).toBeDefined();
    expect(now).not.toBe(jicofoPid);
    jicofoPid = now;
    expect(pidOf(syslogdDaemon)).toEqual([syslogdPid]);

    // syslog.conf only: syslogd is reloaded (HUP), jicofo untouched
    await resetCalls();
    await engine().apply(
      jicofoNode(
        "jicofo { xmpp { client { hostname = xmpp2 } } }\n",
        "!jicofo\n*.*\t/var/log/jicofo\n# v3\n",
      ),
      3,
    );
    expect(mutating(await calls())).toEqual(["reload syslogd"]);
    expect(pidOf(syslogdDaemon)).toEqual([syslogdPid]);
    expect(pidOf(jicofoDaemon)).toEqual([jicofoPid]);
  });

  it("refuses /etc/master.passwd, a '..' path and a link out of the root, writing nothing", async () => {
    const before = await read("/etc/jicofo/jicofo.conf");
    const evil = (p: string) => {
      const d = jicofoNode("evil\n");
      d.files.push({
        path: p,
        content: "root::0:0::0:0:r00t:/root:/bin/ksh\n",
        mode: "0600",
        owner: "root",
        group: "wheel",
      });
      return d;
    };
    await resetCalls();
    for (const p of ["/etc/master.passwd", "/etc/jicofo/../master.passwd"]) {
      const r = await engine().apply(evil(p), 4);
      expect(r.outcome).toBe("refused");
      expect(r.refusals.map((x) => x.item)).toContain(`file ${p}`);
    }
    await expect(stat(path.join(root, "etc/master.passwd"))).rejects.toThrow();

    // /etc/ssl replaced by a link to a directory outside the root
    const outside = path.join(base, "outside");
    await mkdir(outside);
    await rename(path.join(root, "etc/ssl"), path.join(root, "etc/ssl.real"));
    await symlink(outside, path.join(root, "etc/ssl"));
    const d = jicofoNode("evil\n");
    d.files[2]!.content = Buffer.from("other").toString("base64");
    const r = await engine().apply(d, 4);
    expect(r.outcome).toBe("refused");
    expect(r.refusals).toEqual([
      { item: "file /etc/ssl/jicofo-key.store", reason: "/etc/ssl is a link leading outside the root" },
    ]);
    expect(await readdir(outside)).toEqual([]);
    await unlink(path.join(root, "etc/ssl"));
    await rename(path.join(root, "etc/ssl.real"), path.join(root, "etc/ssl"));

    expect(await read("/etc/jicofo/jicofo.conf")).toBe(before);
    expect(await calls()).toEqual([]); // not even a read: refused before planning services
    expect(JSON.parse(await readFile(path.join(stateDir, "state.json"), "utf8")).generation).toBe(3);
  });

  it("ignores a stale generation", async () => {
    await resetCalls();
    const r = await engine().apply(jicofoNode("stale\n"), 2);
    expect(r).toMatchObject({ outcome: "stale", current: 3, changed: false });
    expect(await read("/etc/jicofo/jicofo.conf")).toBe("jicofo { xmpp { client { hostname = xmpp2 } } }\n");
    expect(await calls()).toEqual([]);
  });

  it("a new engine enforces the persisted state with the coordinator gone", async () => {
    await unlink(path.join(root, "etc/jicofo/jicofo.in.sh"));
    await resetCalls();
    const s = await engine().start();
    expect(s.kind).toBe("enforced");
    expect(await read("/etc/jicofo/jicofo.in.sh")).toBe("JICOFO_MAXMEM=3G\n");
    expect(await modeOf("/etc/jicofo/jicofo.in.sh")).toBe(0o644);
    expect(mutating(await calls())).toEqual(["restart jicofo"]);
    expect(pidOf(jicofoDaemon)).toHaveLength(1);
    expect(pidOf(jicofoDaemon)).not.toEqual([jicofoPid]);
    expect(await readContention(root)).toEqual([]);
  });

  it("rollback restores what the last apply replaced and reloads its service; the state follows", async () => {
    await resetCalls();
    const r = await engine().rollback(3);
    expect(r.outcome).toBe("rolled-back");
    expect(r.files.map((f) => f.path)).toEqual(["/etc/syslog.conf"]);
    expect(await read("/etc/syslog.conf")).toBe("!jicofo\n*.*\t/var/log/jicofo\n");
    expect(mutating(await calls())).toEqual(["reload syslogd"]);
    // a restarted agent enforces the rolled-back state: nothing to do
    await resetCalls();
    const s = await engine().start();
    expect(s.kind === "enforced" && s.result.changed).toBe(false);
    expect(mutating(await calls())).toEqual([]);
  });
});
