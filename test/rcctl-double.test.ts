// Tests of the rcctl(8) test double against the behaviour in docs/openbsd-rc.md §1-3, with real
// processes: each test gets its own fake root under os.tmpdir() and kills everything it started.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import {
  addSyslogProgramBlock,
  doubleProcesses,
  killDoubleProcesses,
  makeRcctl,
  RCCTL_DOUBLE_SCRIPT,
  type RcScriptOptions,
  readContention,
  runRcctl,
  writeRcScript,
} from "./doubles/rcctl/index.js";
import { waitFor } from "./helpers/wait.js";

// Each test builds its own fake VM (a temp root) so tests run concurrently; cleanup kills every process
// the double started for that root.
const SLEEPER = `
process.on("SIGTERM", () => { console.log("stopping"); process.exit(0); });
process.on("SIGHUP", () => console.log("reloaded"));
console.log("started " + process.argv.slice(2).join(" "));
setInterval(() => {}, 1 << 30);
`;
const STUBBORN = `
process.on("SIGTERM", () => console.log("ignoring TERM"));
console.log("ready");
setInterval(() => {}, 1 << 30);
`;
// An agent-like daemon that restarts itself through rcctl on SIGUSR1, either reading rcctl's stdout
// through a pipe (the trap of ref §2) or detached with output discarded (the workaround).
const SELF_RESTART = `
import { spawn } from "node:child_process";
const [rcctl, mode] = process.argv.slice(2);
process.on("SIGUSR1", () => {
  if (mode === "detached") {
    spawn(rcctl, ["restart", "agent"], { detached: true, stdio: "ignore" }).unref();
  } else {
    const c = spawn(rcctl, ["restart", "agent"], { stdio: ["ignore", "pipe", "ignore"] });
    c.stdout.on("data", (d) => console.log("rcctl said " + d));
  }
});
process.on("SIGTERM", () => process.exit(0));
console.log("ready");
setInterval(() => {}, 1 << 30);
`;
const CRASH = `echo "usage: crash --host=HOST (must match virtualhost)" >&2\nexit 1\n`;
const readOr = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return !readOr(`/proc/${pid}/stat`).includes(") Z ");
  } catch {
    return false;
  }
};

/** A fresh fake VM: its rcctl, path helper, daemon programs in ROOT/bin, and cleanup on test end. */
async function vm(onTestFinished: (fn: () => Promise<void>) => void) {
  const root = await mkdtemp(join(tmpdir(), "rcctl-double-"));
  onTestFinished(async () => {
    await killDoubleProcesses(root);
    await rm(root, { recursive: true, force: true });
  });
  const rcctl = await makeRcctl(root);
  const p = (rel: string) => join(root, rel);
  await mkdir(p("bin"));
  await writeFile(p("bin/sleeper.mjs"), SLEEPER);
  await writeFile(p("bin/stubborn.mjs"), STUBBORN);
  await writeFile(p("bin/crash.sh"), CRASH);
  await writeFile(p("bin/selfrestart.mjs"), SELF_RESTART);
  return {
    root,
    p,
    rc: (...args: string[]) => runRcctl(rcctl, args),
    log: (rel = "var/log/daemon") => readOr(p(rel)),
    runfile: (name: string) =>
      Object.fromEntries(
        readOr(p(`var/run/rc.d/${name}`))
          .split("\n")
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      ) as Record<string, string>,
    /** An rc.d script running one of the programs in ROOT/bin under node. */
    rcctl,
    service: (
      name: string,
      file: "sleeper" | "stubborn" | "selfrestart",
      options: Partial<RcScriptOptions> = {},
    ) => writeRcScript(root, name, { daemon: `${process.execPath} ${p(`bin/${file}.mjs`)}`, ...options }),
  };
}

describe.concurrent("rc.conf.local database (ref §1)", () => {
  it("enable/set/get round trip writes sorted lines and keeps pkg_scripts order", async ({
    expect,
    onTestFinished,
  }) => {
    const { root, p, rc, service } = await vm(onTestFinished);
    await service("zeta", "sleeper", { flags: "--default" });
    await service("alpha", "sleeper", { flags: "--default" });
    await service("other", "sleeper");

    expect(await rc("enable", "zeta")).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect((await rc("enable", "alpha")).code).toBe(0);
    expect((await rc("set", "alpha", "flags", "--host=meet.example", "-v")).code).toBe(0);
    expect((await rc("set", "alpha", "timeout", "5")).code).toBe(0);
    expect((await rc("set", "zeta", "flags", " leading")).code).toBe(0);
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).toBe(
      'alpha_flags=--host=meet.example -v\nalpha_timeout=5\npkg_scripts=zeta alpha\nzeta_flags=" leading"\n',
    );

    expect(await rc("get", "alpha", "flags")).toMatchObject({ code: 0, stdout: "--host=meet.example -v\n" });
    expect(await rc("get", "zeta", "flags")).toMatchObject({ code: 0, stdout: " leading\n" });
    expect(await rc("get", "alpha")).toMatchObject({
      code: 0,
      stdout: [
        "alpha_class=daemon",
        "alpha_execdir=",
        "alpha_flags=--host=meet.example -v",
        "alpha_logger=",
        "alpha_rtable=0",
        "alpha_timeout=5",
        "alpha_user=root",
        "",
      ].join("\n"),
    });
    expect((await rc("get", "alpha", "status")).code).toBe(0);
    expect(await rc("getdef", "alpha", "flags")).toMatchObject({ code: 0, stdout: "--default\n" });
    expect((await rc("getdef", "alpha")).code).toBe(1); // package daemons are off by default
    // a disabled package daemon: flags NO (exit 0), status 1
    expect(await rc("get", "other", "flags")).toMatchObject({ code: 0, stdout: "NO\n" });
    expect((await rc("get", "other")).code).toBe(1);
    expect((await rc("get", "other", "status")).code).toBe(1);

    // a value equal to the script's default is not written
    expect((await rc("set", "alpha", "flags", "--default")).code).toBe(0);
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).not.toContain("alpha_flags");
    expect(await rc("get", "alpha", "flags")).toMatchObject({ stdout: "--default\n" });

    expect(await rc("order")).toMatchObject({ code: 0, stdout: "zeta alpha\n" });
    expect((await rc("order", "alpha")).code).toBe(0);
    expect(await rc("order")).toMatchObject({ stdout: "alpha zeta\n" });
    expect(await readContention(root)).toEqual([]);
  });

  it("base daemons: disable writes X_flags=NO; enabling an off-by-default one writes X_flags=", async ({
    expect,
    onTestFinished,
  }) => {
    const { p, rc, service } = await vm(onTestFinished);
    await service("sshd", "sleeper", { flags: "--sshd" });
    await service("httpd", "sleeper", { flags: "--httpd" });
    expect((await rc("get", "sshd")).code).toBe(0); // on by default in rc.conf
    expect((await rc("get", "httpd")).code).toBe(1); // httpd_flags=NO in rc.conf
    await rc("disable", "sshd");
    await rc("enable", "httpd");
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).toBe("httpd_flags=\nsshd_flags=NO\n");
    await rc("enable", "sshd");
    await rc("disable", "httpd");
    expect(existsSync(p("etc/rc.conf.local"))).toBe(false); // removed when empty
    // a disabled base daemon does not start without -f
    await rc("disable", "sshd");
    expect(await rc("start", "sshd")).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "/etc/rc.d/sshd: need -f to force start since sshd_flags=NO\n",
    });
    expect(await rc("-f", "start", "sshd")).toMatchObject({ code: 0, stdout: "sshd(ok)\n" });
    // running while disabled: rogue
    expect(await rc("ls", "rogue")).toMatchObject({ code: 1, stdout: "sshd\n" });
  });

  it("disable removes the daemon from pkg_scripts and wipes all its variables", async ({
    expect,
    onTestFinished,
  }) => {
    const { p, rc, service } = await vm(onTestFinished);
    await service("a", "sleeper", { flags: "--default" });
    await service("b", "sleeper");
    await rc("enable", "a", "b");
    await rc("set", "a", "flags", "--custom");
    await rc("set", "a", "timeout", "7");
    await rc("set", "a", "logger", "daemon.info");
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).toBe(
      "a_flags=--custom\na_logger=daemon.info\na_timeout=7\npkg_scripts=a b\n",
    );
    expect(await rc("disable", "a")).toMatchObject({ code: 0, stdout: "" });
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).toBe("pkg_scripts=b\n");
    await rc("enable", "a");
    expect(await rc("get", "a", "flags")).toMatchObject({ stdout: "--default\n" }); // not brought back
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).toBe("pkg_scripts=b a\n");
    await rc("disable", "a", "b");
    expect(existsSync(p("etc/rc.conf.local"))).toBe(false);
  });

  it("set needs the daemon enabled; flags NO is rejected; unknown or invalid names exit 2", async ({
    expect,
    onTestFinished,
  }) => {
    const { p, rc, service } = await vm(onTestFinished);
    await service("jicofo", "sleeper");
    expect(await rc("set", "jicofo", "flags", "--host=x")).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "rcctl: jicofo is not enabled\n",
    });
    expect(existsSync(p("etc/rc.conf.local"))).toBe(false);
    await rc("enable", "jicofo");
    expect((await rc("set", "jicofo", "flags", "NO")).code).toBe(1);
    expect((await rc("set", "jicofo", "timeout", "0")).code).toBe(1);
    expect(await readFile(p("etc/rc.conf.local"), "utf8")).toBe("pkg_scripts=jicofo\n");
    expect(await rc("get", "jicofo", "flags")).toMatchObject({ code: 0, stdout: "" }); // empty default
    expect(await rc("start", "nosuch")).toMatchObject({
      code: 2,
      stderr: "rcctl: service nosuch does not exist\n",
    });
    expect((await rc("get", "nosuch")).code).toBe(2);
    await service("jitsi-videobridge", "sleeper");
    expect(await rc("enable", "jitsi-videobridge")).toMatchObject({
      code: 2,
      stderr: "rcctl: service jitsi-videobridge does not exist\n",
    });
    // every name is checked before any action runs
    expect(await rc("start", "jicofo", "nosuch")).toMatchObject({ code: 2, stdout: "" });
  });

  it("refuses to run without RCCTL_DOUBLE_ROOT", async ({ expect }) => {
    const env = { ...process.env };
    delete env["RCCTL_DOUBLE_ROOT"];
    const r = spawnSync(process.execPath, [RCCTL_DOUBLE_SCRIPT, "enable", "sshd"], { env, encoding: "utf8" });
    expect(r.status).toBe(3);
    expect(r.stderr).toContain("RCCTL_DOUBLE_ROOT is not set");
  });
});

describe.concurrent("rc.d actions with real processes (ref §1, §2)", () => {
  it("start/check/stop with real pids; start of a running service prints nothing", async ({
    expect,
    onTestFinished,
  }) => {
    const { p, rc, runfile, service } = await vm(onTestFinished);
    await service("app", "sleeper", { flags: "--port 8080" });
    // a disabled package daemon starts without -f, with the script's default flags
    expect(await rc("start", "app")).toMatchObject({ code: 0, stdout: "app(ok)\n", stderr: "" });
    const cmdline = `${process.execPath} ${p("bin/sleeper.mjs")} --port 8080`;
    const pid = Number(runfile("app")["pid"]);
    expect(alive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim()).toBe(cmdline);
    expect(runfile("app")["pexp"]).toBe(cmdline);
    expect(await rc("check", "app")).toMatchObject({ code: 0, stdout: "app(ok)\n" });
    expect(await rc("start", "app")).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(await rc("ls", "rogue")).toMatchObject({ code: 1, stdout: "app\n" });

    expect(await rc("stop", "app")).toMatchObject({ code: 0, stdout: "app(ok)\n" });
    await waitFor(() => !alive(pid), { what: "the daemon to be gone" });
    expect(existsSync(p("var/run/rc.d/app"))).toBe(false);
    expect(await rc("check", "app")).toMatchObject({ code: 1, stdout: "app(failed)\n" });
    expect(await rc("-q", "check", "app")).toMatchObject({ code: 1, stdout: "app(failed)\n" });
    expect(await rc("stop", "app")).toMatchObject({ code: 0, stdout: "" }); // not running: silent
  });

  it("restart prints both lines and picks up new flags; check uses the start-time runfile", async ({
    expect,
    onTestFinished,
  }) => {
    const { root, p, rc, runfile, service } = await vm(onTestFinished);
    await service("app", "sleeper");
    await rc("enable", "app");
    await rc("set", "app", "flags", "--one");
    expect((await rc("start", "app")).stdout).toBe("app(ok)\n");
    await rc("set", "app", "flags", "--two");
    expect((await rc("check", "app")).code).toBe(0); // the runfile's pexp still has --one
    expect(await rc("restart", "app")).toMatchObject({ code: 0, stdout: "app(ok)\napp(ok)\n" });
    expect(runfile("app")["daemon_flags"]).toBe("--two");
    const daemons = doubleProcesses(root).filter((x) => x.kind === "daemon");
    expect(daemons.map((x) => x.cmdline)).toEqual([`${process.execPath} ${p("bin/sleeper.mjs")} --two`]);
  });

  it("two services with the same command line look like one (pexp is all check sees)", async ({
    expect,
    onTestFinished,
  }) => {
    const { rc, service } = await vm(onTestFinished);
    await service("a", "sleeper");
    await service("b", "sleeper");
    expect(await rc("start", "a", "b")).toMatchObject({ code: 0, stdout: "a(ok)\n" });
    expect((await rc("check", "b")).stdout).toBe("b(ok)\n");
  });

  it("a daemon that exits before being seen -> failed, its output in /var/log/daemon", async ({
    expect,
    onTestFinished,
  }) => {
    const { root, p, rc, log } = await vm(onTestFinished);
    await writeRcScript(root, "jicofo", { daemon: `/bin/sh ${p("bin/crash.sh")}`, logger: "daemon.info" });
    await rc("enable", "jicofo");
    expect(await rc("start", "jicofo")).toMatchObject({ code: 1, stdout: "jicofo(failed)\n" });
    expect(existsSync(p("var/run/rc.d/jicofo"))).toBe(false);
    await waitFor(() => log().includes("usage: crash"), { what: "the usage text in /var/log/daemon" });
    expect(log()).toMatch(
      /^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ jicofo\[\d+\]: usage: crash --host=HOST \(must match virtualhost\)\n$/,
    );
    expect(await rc("ls", "failed")).toMatchObject({ code: 1, stdout: "jicofo\n" });
  });

  it("a pexp that never matches: start says ok after daemon_timeout, check fails, stop is a no-op", async ({
    expect,
    onTestFinished,
  }) => {
    const { root, p, rc, service } = await vm(onTestFinished);
    await service("nodeapp", "sleeper", { pexp: "/usr/local/bin/node /never/matches.js", timeout: 1 });
    await service("other", "sleeper");
    const t0 = Date.now();
    const starting = rc("start", "nodeapp");
    // while start waits (holding the lock), a second invocation has to wait: recorded as contention
    await waitFor(() => doubleProcesses(root).some((x) => x.kind === "daemon"), { what: "the daemon" });
    const enabling = rc("enable", "other");
    expect(await starting).toMatchObject({ code: 0, stdout: "nodeapp(ok)\n" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
    expect((await enabling).code).toBe(0);
    expect(await readContention(root)).toEqual([expect.stringContaining("rcctl enable other waited for")]);

    expect(await rc("check", "nodeapp")).toMatchObject({ code: 1, stdout: "nodeapp(failed)\n" });
    expect(await rc("stop", "nodeapp")).toMatchObject({ code: 0, stdout: "" });
    const daemons = doubleProcesses(root).filter((x) => x.kind === "daemon");
    expect(daemons.map((x) => x.cmdline)).toEqual([`${process.execPath} ${p("bin/sleeper.mjs")}`]); // still up
  });

  it("stop escalates to SIGKILL after daemon_timeout and reports (killed) with exit 0", async ({
    expect,
    onTestFinished,
  }) => {
    const { rc, log, runfile, service } = await vm(onTestFinished);
    await service("stubborn", "stubborn", { timeout: 1, logger: "daemon.info" });
    expect((await rc("start", "stubborn")).stdout).toBe("stubborn(ok)\n");
    const pid = Number(runfile("stubborn")["pid"]);
    await waitFor(() => log().includes("ready"), { what: "the TERM handler" });
    expect(await rc("stop", "stubborn")).toMatchObject({ code: 0, stdout: "stubborn(killed)\n" });
    expect(alive(pid)).toBe(false);
    expect(log()).toContain("ignoring TERM");
  });

  it("reload: not supported with rc_reload=NO, SIGHUP otherwise, failed when not running", async ({
    expect,
    onTestFinished,
  }) => {
    const { rc, log, service } = await vm(onTestFinished);
    await service("jvb", "sleeper", { reload: false });
    expect(await rc("reload", "jvb")).toMatchObject({
      code: 1,
      stdout: "",
      stderr: "/etc/rc.d/jvb: reload is not supported\n",
    });
    await service("web", "sleeper", { logger: "daemon.info" });
    expect(await rc("reload", "web")).toMatchObject({ code: 1, stdout: "web(failed)\n" });
    await rc("start", "web");
    await waitFor(() => log().includes("started"), { what: "the HUP handler" });
    expect(await rc("reload", "web")).toMatchObject({ code: 0, stdout: "web(ok)\n" });
    await waitFor(() => log().includes("reloaded"), { what: "reloaded in the log" });
  });

  it("ls failed lists enabled services whose check fails and exits 1", async ({ expect, onTestFinished }) => {
    const { rc, service } = await vm(onTestFinished);
    await service("a", "sleeper", { flags: "--a" });
    await service("b", "sleeper", { flags: "--b" });
    await rc("enable", "a", "b");
    expect(await rc("ls", "failed")).toMatchObject({ code: 1, stdout: "a\nb\n" });
    expect(await rc("start", "a")).toMatchObject({ code: 0, stdout: "a(ok)\n" });
    expect(await rc("ls", "failed")).toMatchObject({ code: 1, stdout: "b\n" });
    expect(await rc("start", "a", "b")).toMatchObject({ code: 0, stdout: "b(ok)\n" });
    expect(await rc("ls", "failed")).toMatchObject({ code: 0, stdout: "" });
    expect(await rc("ls", "started")).toMatchObject({ code: 0, stdout: "a\nb\n" });
    expect((await rc("ls", "on")).stdout).toBe("a\nb\ncheck_quotas\nlibrary_aslr\npf\n");
  });
});

describe.concurrent("a daemon restarting itself through rcctl (ref §2)", () => {
  it("with rcctl's stdout piped to the daemon, rcctl dies at its next write and the daemon stays stopped", async ({
    expect,
    onTestFinished,
  }) => {
    const { root, rc, log, runfile, rcctl, service } = await vm(onTestFinished);
    await service("agent", "selfrestart", { flags: `${rcctl} piped`, logger: "daemon.info" });
    await rc("start", "agent");
    await waitFor(() => log().includes("ready"), { what: "the USR1 handler" });
    process.kill(Number(runfile("agent")["pid"]), "SIGUSR1");
    // the agent, then the orphaned rcctl (it inherited the agent's environment marker) go away
    await waitFor(() => !doubleProcesses(root).some((x) => x.kind === "daemon"), {
      what: "everything to stop",
    });
    expect(log()).toContain("rcctl said agent");
    expect(await rc("check", "agent")).toMatchObject({ code: 1, stdout: "agent(failed)\n" });
  });

  it("detached with output discarded, the restart completes", async ({ expect, onTestFinished }) => {
    const { rc, log, runfile, rcctl, service } = await vm(onTestFinished);
    await service("agent", "selfrestart", { flags: `${rcctl} detached`, logger: "daemon.info" });
    await rc("start", "agent");
    const first = Number(runfile("agent")["pid"]);
    await waitFor(() => log().includes("ready"), { what: "the USR1 handler" });
    process.kill(first, "SIGUSR1");
    await waitFor(
      () => {
        const pid = Number(runfile("agent")["pid"]);
        return pid !== first && alive(pid) && log().match(/ready/g)?.length === 2;
      },
      { what: "a new agent" },
    );
    expect(await rc("check", "agent")).toMatchObject({ code: 0, stdout: "agent(ok)\n" });
  });
});

describe.concurrent("daemon_logger and syslog.conf program blocks (ref §3)", () => {
  it("routes to /var/log/NAME only when block and file exist, and keeps /var/log/daemon", async ({
    expect,
    onTestFinished,
  }) => {
    const { root, p, rc, log, service } = await vm(onTestFinished);
    await service("jicofo", "sleeper", { logger: "daemon.info", flags: "--first" });
    await addSyslogProgramBlock(root, "jicofo", "/var/log/jicofo", { create: false });
    await rc("start", "jicofo");
    await waitFor(() => log().includes("started --first"), { what: "the first line" });
    expect(existsSync(p("var/log/jicofo"))).toBe(false); // syslogd does not create files
    expect((await rc("stop", "jicofo")).stdout).toBe("jicofo(ok)\n");

    await writeFile(p("var/log/jicofo"), "");
    await rc("start", "jicofo");
    await waitFor(() => log("var/log/jicofo") !== "", { what: "a line in /var/log/jicofo" });
    expect(log("var/log/jicofo")).toMatch(
      /^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \S+ jicofo\[\d+\]: started --first\n$/,
    );
    expect(log().match(/started --first/g)).toHaveLength(2);
    // another program's block does not catch jicofo's lines
    await service("jvb", "sleeper", { logger: "daemon.info" });
    await addSyslogProgramBlock(root, "jvb", "/var/log/jvb");
    await rc("start", "jvb");
    await waitFor(() => log("var/log/jvb").includes("jvb["), { what: "jvb's line" });
    expect(log("var/log/jvb")).not.toContain("jicofo[");
  });
});
