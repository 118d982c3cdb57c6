// Applying a desired state, its checks before anything is done: a path or service outside the role's
// allow-list, another role, a parent that is a link out of the root, an unknown account and a stale
// generation are refused whole, writing nothing.
import { mkdir, readFile, stat, symlink } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { applyOnTempRoot, jicofoNode, jicofoServices } from "../../../../test/helpers/jicofo-apply.js";
import { UnknownAccountError } from "./accounts.js";

const { tmp, engine, appliedJicofo } = applyOnTempRoot();

describe("applyDesired", () => {
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
});
