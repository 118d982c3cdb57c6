// Applying a desired state again from what the agent persisted: a restart a crash left pending, a corrupt
// state file, the persisted state enforced by a new engine with the coordinator gone, and the rollback of
// one generation's files.
import { mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { applyOnTempRoot, jicofoNode, jicofoServices } from "../../../../test/helpers/jicofo-apply.js";

const { tmp, logLines, engine } = applyOnTempRoot();

describe("applyDesired", () => {
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
});
