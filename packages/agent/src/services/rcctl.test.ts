import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RcctlError, RcctlTimeoutError, UnknownServiceError } from "./manager.js";
import { Rcctl } from "./rcctl.js";

// A scripted rcctl that answers with the exit statuses and outputs rcctl(8) documents
// (docs/openbsd-rc.md section 1), and logs the begin and end of every call to show serialization.
let dir: string;
let exe: string;
let log: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "vmmeet-rcctl-"));
  exe = path.join(dir, "rcctl");
  log = path.join(dir, "calls.log");
  await writeFile(
    exe,
    `#!/bin/sh
LOG=${JSON.stringify(log)}
echo "begin $*" >> "$LOG"
sleep 0.02
case "$1 $2" in
  "get jicofo") if [ "$3" = status ]; then r=0; else echo "--host=auth.example.org"; r=0; fi ;;
  "get off") if [ "$3" = status ]; then r=1; else echo NO; r=0; fi ;;
  "get nosuch"|"check nosuch"|"start nosuch") echo "rcctl: service nosuch does not exist" >&2; r=2 ;;
  "check up") echo "up(ok)"; r=0 ;;
  "check down") echo "down(failed)"; r=1 ;;
  "start up") r=0 ;;
  "start down") echo "down(ok)"; r=0 ;;
  "start broken") echo "broken(failed)"; r=1 ;;
  "start slow") echo "slow(timeout)"; r=1 ;;
  "stop stuck") echo "stuck(killed)"; r=0 ;;
  "reload jicofo") echo "/etc/rc.d/jicofo: reload is not supported" >&2; r=1 ;;
  "reload down") echo "down(failed)"; r=1 ;;
  "set off") echo "rcctl: off is not enabled" >&2; r=1 ;;
  "set jicofo") shift 3; echo "argc=$# value=$*" >> "$LOG"; r=0 ;;
  "enable jicofo") r=0 ;;
  "start hang") sleep 5; r=0 ;;
  *) r=3 ;;
esac
echo "end $*" >> "$LOG"
exit $r
`,
  );
  await chmod(exe, 0o755);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("Rcctl", () => {
  it("reads status, flags and check from exit codes", async () => {
    const r = new Rcctl({ path: exe });
    expect(await r.isEnabled("jicofo")).toBe(true);
    expect(await r.isEnabled("off")).toBe(false);
    expect(await r.getFlags("jicofo")).toBe("--host=auth.example.org");
    expect(await r.getFlags("off")).toBe("NO");
    expect(await r.check("up")).toBe(true);
    expect(await r.check("down")).toBe(false);
  });

  it("interprets start, stop and reload outcomes", async () => {
    const r = new Rcctl({ path: exe });
    expect(await r.start("up")).toMatchObject({ ok: true, outcome: "already" });
    expect(await r.start("down")).toMatchObject({ ok: true, outcome: "ok" });
    expect(await r.start("broken")).toMatchObject({ ok: false, outcome: "failed" });
    expect(await r.start("slow")).toMatchObject({ ok: false, outcome: "timeout" });
    expect(await r.stop("stuck")).toMatchObject({ ok: true, outcome: "killed" });
    expect(await r.reload("jicofo")).toMatchObject({ ok: false, outcome: "unsupported" });
    expect(await r.reload("down")).toMatchObject({ ok: false, outcome: "failed" });
  });

  it("turns exit 2 into UnknownServiceError for every verb", async () => {
    const r = new Rcctl({ path: exe });
    await expect(r.getFlags("nosuch")).rejects.toBeInstanceOf(UnknownServiceError);
    await expect(r.check("nosuch")).rejects.toBeInstanceOf(UnknownServiceError);
    await expect(r.start("nosuch")).rejects.toBeInstanceOf(UnknownServiceError);
  });

  it("passes flags as one argument and reports set on a disabled service", async () => {
    const r = new Rcctl({ path: exe });
    await r.setFlags("jicofo", "--host=auth.example.org --port 5222");
    expect(await readFile(log, "utf8")).toContain("argc=1 value=--host=auth.example.org --port 5222");
    await expect(r.setFlags("off", "-x")).rejects.toThrow(/off is not enabled/);
    await expect(r.setFlags("off", "-x")).rejects.toBeInstanceOf(RcctlError);
  });

  it("serializes concurrent calls", async () => {
    await writeFile(log, "");
    const r = new Rcctl({ path: exe });
    await Promise.all([
      r.check("up"),
      r.enable("jicofo"),
      r.check("down"),
      r.getFlags("jicofo"),
      r.start("down"),
    ]);
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(10);
    for (let i = 0; i < lines.length; i += 2) {
      expect(lines[i]).toMatch(/^begin /);
      expect(lines[i + 1]).toBe(lines[i]!.replace(/^begin/, "end"));
    }
    // in call order
    expect(lines.filter((l) => l.startsWith("begin"))).toEqual([
      "begin check up",
      "begin enable jicofo",
      "begin check down",
      "begin get jicofo flags",
      "begin start down",
    ]);
  });

  it("kills a call that exceeds its timeout, and the queue goes on", async () => {
    const r = new Rcctl({ path: exe, timeoutMs: 300 });
    const hang = r.start("hang");
    const next = r.check("up");
    await expect(hang).rejects.toBeInstanceOf(RcctlTimeoutError);
    expect(await next).toBe(true);
  });

  it("reports a missing executable", async () => {
    const r = new Rcctl({ path: path.join(dir, "nope") });
    await expect(r.check("up")).rejects.toThrow(/cannot run .*nope: ENOENT/);
  });
});
