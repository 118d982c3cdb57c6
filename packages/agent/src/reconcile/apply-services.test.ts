// Applying a desired state, the services' part: what rcctl is asked and what the service owner keeps of its
// answers, enabling, flags, restarts (once per service, a restart where rc_reload=NO), starting a stopped
// service, and a failed start or an unknown service reported as a failed item.
import { describe, expect, it } from "vitest";
import { applyOnTempRoot, jicofoNode, jicofoServices } from "../../../../test/helpers/jicofo-apply.js";
import { FakeServiceManager } from "../services/fake.js";
import { ServiceLife } from "../services/life.js";
import type { ApplyEngine } from "./engine.js";

const { engine, appliedJicofo } = applyOnTempRoot();

describe("applyDesired", () => {
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
});
