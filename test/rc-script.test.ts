// rc.d/vmmeet_agent: parses under mksh (the pdksh lineage of OpenBSD's ksh), and runs under rc.subr(8)
// semantics through the rcctl test double: enable, set flags, start (rc_bg=YES: ok once pexp matches the
// real process line), check, stop within daemon_timeout. Only the two host paths in `daemon=` are replaced
// (node and the bundle live elsewhere here); every other line is the shipped script.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { doubleProcesses, killDoubleProcesses, makeRcctl, runRcctl } from "./doubles/rcctl/index.js";
import { checkKsh } from "./validators/index.js";
import { repoRoot } from "./validators/paths.js";

const script = path.join(repoRoot(), "rc.d/vmmeet_agent");
const bundle = path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs");
const NODE_FLAGS =
  "--max-semi-space-size=1 --optimize-for-size --single-threaded --max-opt=1 --expose-gc --compact-on-every-full-gc";
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("rc.d/vmmeet_agent", () => {
  it("is valid ksh (mksh -n) and is executable", async () => {
    const res = await checkKsh(await readFile(script, "utf8"), { name: "vmmeet_agent" });
    expect(res.ok, res.output).toBe(true);
    const { mode } = await stat(script);
    expect(mode & 0o555).toBe(0o555);
  });

  it("starts, checks and stops the agent through rcctl semantics", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-rcd-"));
    const root = path.join(dir, "root");
    await mkdir(path.join(root, "etc/rc.d"), { recursive: true });
    cleanups.push(async () => {
      await killDoubleProcesses(root);
      await rm(dir, { recursive: true, force: true });
    });
    const rcctl = await makeRcctl(root);
    const text = (await readFile(script, "utf8"))
      .replace("/usr/local/bin/node", process.execPath)
      .replace("/usr/local/libexec/vmmeet/vmmeet-agent.mjs", bundle);
    expect(text).not.toBe(await readFile(script, "utf8"));
    await writeFile(path.join(root, "etc/rc.d/vmmeet_agent"), text, { mode: 0o555 });

    expect((await runRcctl(rcctl, ["enable", "vmmeet_agent"])).code).toBe(0);
    const flags = `--node web --state-dir ${path.join(dir, "state")} --root ${path.join(dir, "vm")} --rcctl ${rcctl} --lenient-accounts`;
    expect((await runRcctl(rcctl, ["set", "vmmeet_agent", "flags", ...flags.split(" ")])).code).toBe(0);
    const start = await runRcctl(rcctl, ["start", "vmmeet_agent"]);
    expect(start).toMatchObject({ code: 0, stdout: "vmmeet_agent(ok)\n" });
    // check passes only if pexp ("${daemon} ${daemon_flags}") matches the agent's real command line.
    expect(await runRcctl(rcctl, ["check", "vmmeet_agent"])).toMatchObject({
      code: 0,
      stdout: "vmmeet_agent(ok)\n",
    });
    const agent = doubleProcesses(root).find((p) => p.kind === "daemon");
    // The agent runs with the script's node flags (V8 heap and compiler settings, see the script), which
    // node must accept: it would exit at once on an unknown one.
    expect(agent?.cmdline).toBe(`${process.execPath} ${NODE_FLAGS} ${bundle} ${flags}`);
    const t0 = Date.now();
    const stop = await runRcctl(rcctl, ["stop", "vmmeet_agent"]);
    expect(stop).toMatchObject({ code: 0, stdout: "vmmeet_agent(ok)\n" });
    // Stopped by SIGTERM, not killed after daemon_timeout (30 s).
    expect(Date.now() - t0).toBeLessThan(25_000);
    expect(await runRcctl(rcctl, ["check", "vmmeet_agent"])).toMatchObject({ code: 1 });
    // The agent's JSON logs went to syslog through daemon_logger, without secrets or stack traces.
    const daemonLog = await readFile(path.join(root, "var/log/daemon"), "utf8");
    expect(daemonLog).toMatch(/vmmeet_agent\[\d+\]: \{.*"msg":"agent started"/);
    expect(daemonLog).toMatch(/"msg":"stopping"/);
  });
});
