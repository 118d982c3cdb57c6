// Applying a desired state, the files' part: each file written with its mode and content (and the services
// it concerns then enabled, flagged and started), nothing written or restarted again for the same state, and
// each file reported as the status would read it from disk.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import { NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { applyOnTempRoot, jicofoNode, jicofoServices } from "../../../../test/helpers/jicofo-apply.js";
import { fileStates } from "../status.js";
import { lenientAccounts } from "./accounts.js";

const { tmp, engine, appliedJicofo } = applyOnTempRoot();

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
});
