// rc.d/vmmeetd: parses under mksh (the pdksh lineage of OpenBSD's ksh), and runs `vmmeet serve` under
// rc.subr(8) semantics through the rcctl test double: enable, set flags, start (rc_bg=YES), check, logs in
// syslog through daemon_logger, stop on SIGTERM. Only the two host paths in `daemon=` are replaced (node and
// the coordinator's bundle live elsewhere here); every other line is the shipped script.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "@vmmeet/coordinator";
import { afterEach, describe, expect, it } from "vitest";
import { doubleProcesses, killDoubleProcesses, makeRcctl, runRcctl } from "./doubles/rcctl/index.js";
import { waitFor } from "./helpers/wait.js";
import { checkKsh } from "./validators/index.js";
import { repoRoot } from "./validators/paths.js";

const script = path.join(repoRoot(), "rc.d/vmmeetd");
const bundle = path.join(repoRoot(), "packages/coordinator/dist/vmmeet.mjs");
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("rc.d/vmmeetd", () => {
  it("is valid ksh (mksh -n), executable, and runs the daemon as _vmmeet with its logs in syslog", async () => {
    const text = await readFile(script, "utf8");
    const res = await checkKsh(text, { name: "vmmeetd" });
    expect(res.ok, res.output).toBe(true);
    expect((await stat(script)).mode & 0o555).toBe(0o555);
    expect(text).toMatch(/^daemon_user="_vmmeet"$/m);
    expect(text).toMatch(/^daemon_logger="daemon\.info"$/m);
    expect(text).toMatch(
      /^daemon="\/usr\/local\/bin\/node \/usr\/local\/libexec\/vmmeet\/vmmeet\.mjs serve"$/m,
    );
  });

  it("starts, checks and stops the coordinator through rcctl semantics", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-rcd-"));
    const root = path.join(dir, "root");
    await mkdir(path.join(root, "etc/rc.d"), { recursive: true });
    await mkdir(path.join(root, "etc/vmmeet"), { recursive: true });
    cleanups.push(async () => {
      await killDoubleProcesses(root);
      await rm(dir, { recursive: true, force: true });
    });
    // what the admin does first: vmmeet init on the host layout
    const out: string[] = [];
    const io = {
      out: (s: string) => out.push(s),
      err: (s: string) => out.push(s),
      cwd: dir,
      env: { VMMEET_ROOT: root },
    };
    expect(await runCli(["init"], io), out.join("")).toBe(0);
    const state = path.join(root, "var/db/vmmeet");

    const rcctl = await makeRcctl(root);
    const shipped = await readFile(script, "utf8");
    const text = shipped
      .replace("/usr/local/bin/node", process.execPath)
      .replace("/usr/local/libexec/vmmeet/vmmeet.mjs", bundle);
    expect(text).not.toBe(shipped);
    await writeFile(path.join(root, "etc/rc.d/vmmeetd"), text, { mode: 0o555 });

    expect((await runRcctl(rcctl, ["enable", "vmmeetd"])).code).toBe(0);
    // the double runs the daemon without VMMEET_ROOT: name the test root's state directory
    const flags = `--listen 127.0.0.1:0 --state ${state}`;
    expect((await runRcctl(rcctl, ["set", "vmmeetd", "flags", ...flags.split(" ")])).code).toBe(0);
    expect(await runRcctl(rcctl, ["start", "vmmeetd"])).toMatchObject({ code: 0, stdout: "vmmeetd(ok)\n" });
    expect(await runRcctl(rcctl, ["check", "vmmeetd"])).toMatchObject({ code: 0, stdout: "vmmeetd(ok)\n" });
    const daemon = doubleProcesses(root).find((p) => p.kind === "daemon");
    expect(daemon?.cmdline).toBe(`${process.execPath} ${bundle} serve ${flags}`);
    // the admin socket answers root's vmmeet (status: no agent connected yet)
    const sock = path.join(state, "admin.sock");
    await waitFor(() => stat(sock).catch(() => null), { what: "the admin socket", intervalMs: 100 });
    out.length = 0;
    const status = await runCli(["status"], io);
    expect(out.join(""), "vmmeet status against the daemon").toMatch(/^deployment: /);
    expect(status).not.toBe(64);
    expect((await stat(sock)).mode & 0o777).toBe(0o600);

    expect(await runRcctl(rcctl, ["stop", "vmmeetd"])).toMatchObject({ code: 0, stdout: "vmmeetd(ok)\n" });
    expect(await runRcctl(rcctl, ["check", "vmmeetd"])).toMatchObject({ code: 1 });
    const log = await readFile(path.join(root, "var/log/daemon"), "utf8");
    expect(log).toMatch(/vmmeetd\[\d+\]: vmmeet coordinator: agents on wss:\/\/127\.0\.0\.1:\d+\/agent/);
    expect(log).toMatch(/vmmeetd\[\d+\]: \{.*"msg":"stopping"/);
  });
});
