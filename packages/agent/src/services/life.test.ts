import { DEFAULT_GRACE_SECONDS } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { FakeServiceManager } from "./fake.js";
import { type LifeEvent, ServiceLife } from "./life.js";

/** An owner over the fake with a hand-driven time, and every event it emitted. */
function owner(services: FakeServiceManager, freshMs = 1000) {
  let t = 1_000_000;
  const life = new ServiceLife(services, { now: () => t, freshMs });
  const events: LifeEvent[] = [];
  for (const kind of ["starting", "running", "stopped"] as const) life.on(kind, (e) => events.push(e));
  return { life, events, advance: (ms: number) => (t += ms), now: () => t };
}

describe("ServiceLife actions", () => {
  it("starts, then checks once, and announces the start before rcctl runs", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true } });
    const { life, events, now } = owner(services);
    const order: string[] = [];
    life.on("starting", () => order.push(`starting (calls so far: ${services.calls.length})`));
    const r = await life.start("jicofo");
    expect(r).toEqual({ ok: true, step: "started", running: true });
    expect(services.calls).toEqual(["start jicofo", "check jicofo"]);
    expect(order).toEqual(["starting (calls so far: 0)"]);
    expect(events.map((e) => e.kind)).toEqual(["starting", "running"]);
    expect(life.startedAt("jicofo")).toBe(now());
  });

  it("a start rcctl calls ok whose process check finds nothing fails, with no running event", async () => {
    const services = new FakeServiceManager({ jvb: { enabled: true, startsButCheckFails: true } });
    const { life, events } = owner(services);
    const r = await life.restart("jvb");
    expect(r).toMatchObject({ ok: false, step: "restarted", running: false, outcome: "ok" });
    expect(r.ok ? "" : r.detail).toMatch(/rcctl restart said ok, but rcctl check finds no process/);
    expect(services.calls).toEqual(["restart jvb", "check jvb"]);
    expect(events.map((e) => e.kind)).toEqual(["starting"]);
    // The failed check is the observation kept.
    expect(life.cached("jvb")).toBe(false);
  });

  it("a failed start is not checked, and leaves nothing cached", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, startFails: true } });
    const { life } = owner(services);
    const r = await life.start("jicofo");
    expect(r).toMatchObject({
      ok: false,
      step: null,
      outcome: "failed",
      detail: "rcctl start: failed jicofo(failed)",
    });
    expect(services.calls).toEqual(["start jicofo"]);
    expect(life.cached("jicofo")).toBeUndefined();
  });

  it("reload falls back to a restart where the rc.d script has none (rc_reload=NO)", async () => {
    const services = new FakeServiceManager({
      jicofo: { enabled: true, running: true, reloadUnsupported: true },
    });
    const { life, events } = owner(services);
    const r = await life.reload("jicofo");
    expect(r).toEqual({ ok: true, step: "restarted", running: true });
    expect(services.actions).toEqual(["reload jicofo", "restart jicofo"]);
    expect(events.map((e) => e.kind)).toEqual(["starting", "running"]);
  });

  it("a reload keeps the process: no grace period, one check, a running event", async () => {
    const services = new FakeServiceManager({ nginx: { enabled: true, running: true } });
    const { life, events } = owner(services);
    expect(await life.reload("nginx")).toEqual({ ok: true, step: "reloaded", running: true });
    expect(services.calls).toEqual(["reload nginx", "check nginx"]);
    expect(events).toMatchObject([{ kind: "running", service: "nginx", step: "reloaded" }]);
    expect(life.startedAt("nginx")).toBeUndefined();
  });

  it("a reloader of the component's own takes the place of rcctl reload", async () => {
    const services = new FakeServiceManager({ vmd: { enabled: true, running: true } });
    const { life } = owner(services);
    const used: string[] = [];
    const r = await life.reload("vmd", (s) => {
      used.push(s);
      return Promise.resolve({ ok: true, outcome: "ok", output: "" });
    });
    expect(r.ok).toBe(true);
    expect(used).toEqual(["vmd"]);
    expect(services.calls).toEqual(["check vmd"]);
    // null: rcctl does it
    await life.reload("vmd", () => null);
    expect(services.calls).toEqual(["check vmd", "reload vmd", "check vmd"]);
  });
});

describe("ServiceLife hold", () => {
  it("tells an apply's running events when it ends, once per service; starting at once", async () => {
    const services = new FakeServiceManager({
      jicofo: { enabled: true },
      nginx: { enabled: true, running: true },
    });
    const { life, events } = owner(services);
    const during: string[] = [];
    await life.hold(async () => {
      await life.start("jicofo");
      await life.reload("nginx");
      await life.restart("jicofo");
      during.push(...events.map((e) => `${e.kind} ${e.service}`));
    });
    expect(during).toEqual(["starting jicofo", "starting jicofo"]);
    expect(events.slice(2).map((e) => `${e.kind} ${e.service}`)).toEqual(["running jicofo", "running nginx"]);
    // Outside a hold they are told at once again.
    await life.reload("nginx");
    expect(events.at(-1)).toMatchObject({ kind: "running", service: "nginx" });
  });
});

describe("ServiceLife hold and the cache", () => {
  it("counts what an apply saw as seen at its end, however long the apply took", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, flags: "--a" } });
    const { life, advance } = owner(services, 1000);
    await life.hold(async () => {
      await life.getFlags("jicofo");
      await life.start("jicofo");
      // the apply's other steps (prosody's accounts, acme-client) take a while
      advance(5000);
    });
    services.calls.length = 0;
    advance(999);
    expect(await life.running("jicofo")).toBe(true);
    expect(await life.flags("jicofo")).toBe("--a");
    expect(services.calls).toEqual([]);
  });
});

describe("ServiceLife cache", () => {
  it("answers from the last observation while it is fresh, then asks rcctl again", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true } });
    const { life, advance } = owner(services, 1000);
    await life.start("jicofo");
    services.calls.length = 0;
    expect(await life.running("jicofo")).toBe(true);
    expect(services.calls).toEqual([]);
    advance(999);
    expect(await life.running("jicofo")).toBe(true);
    expect(services.calls).toEqual([]);
    advance(1);
    services.services.get("jicofo")!.running = false;
    expect(await life.running("jicofo")).toBe(false);
    expect(services.calls).toEqual(["check jicofo"]);
  });

  it("says stopped when a check finds a service it saw running gone, once", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, running: true } });
    const { life, events } = owner(services);
    await life.check("jicofo");
    services.services.get("jicofo")!.running = false;
    await life.check("jicofo");
    await life.check("jicofo");
    expect(events).toMatchObject([{ kind: "stopped", service: "jicofo" }]);
  });

  it("says running again (no step: someone else started it) when a check finds a stopped service back", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, running: true } });
    const { life, events, advance } = owner(services);
    await life.check("jicofo");
    services.services.get("jicofo")!.running = false;
    await life.check("jicofo");
    services.services.get("jicofo")!.running = true;
    // However old the last observation: `rcctl restart` by hand, minutes later.
    advance(60_000);
    await life.check("jicofo");
    await life.check("jicofo");
    expect(events).toMatchObject([
      { kind: "stopped", service: "jicofo" },
      { kind: "running", service: "jicofo", step: null },
    ]);
  });

  it("keeps the last answer past its freshness for lastSeen; false after a start rcctl failed", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, running: true } });
    const { life, advance } = owner(services);
    expect(life.lastSeen("jicofo")).toBeUndefined();
    await life.check("jicofo");
    advance(60_000);
    expect([life.cached("jicofo"), life.lastSeen("jicofo")]).toEqual([undefined, true]);
    const svc = services.services.get("jicofo")!;
    svc.running = false;
    svc.startFails = true;
    expect((await life.restart("jicofo")).ok).toBe(false);
    expect(life.lastSeen("jicofo")).toBe(false);
  });

  it("keeps the flags read until a change to rc.conf.local makes them unknown", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true, flags: "--a" } });
    const { life } = owner(services);
    expect(await life.getFlags("jicofo")).toBe("--a");
    expect(await life.flags("jicofo")).toBe("--a");
    expect(services.calls).toEqual(["get jicofo flags"]);
    await life.setFlags("jicofo", "--b");
    expect(await life.flags("jicofo")).toBe("--b");
    expect(services.calls).toEqual(["get jicofo flags", "set jicofo flags --b", "get jicofo flags"]);
  });
});

describe("ServiceLife grace", () => {
  it("is the service entry's, the shared default otherwise, and runs from the agent's last (re)start", async () => {
    const services = new FakeServiceManager({ jicofo: { enabled: true }, nginx: { enabled: true } });
    const { life, advance } = owner(services);
    life.configure([{ name: "jicofo", graceSeconds: 60 }]);
    expect(life.graceMs("jicofo")).toBe(60_000);
    expect(life.graceMs("nginx")).toBe(DEFAULT_GRACE_SECONDS * 1000);
    expect(life.inGrace("jicofo")).toBe(false);
    await life.start("jicofo");
    advance(59_999);
    expect(life.inGrace("jicofo")).toBe(true);
    advance(1);
    expect(life.inGrace("jicofo")).toBe(false);
  });

  it("of() shares one owner", () => {
    const life = new ServiceLife(new FakeServiceManager());
    expect(ServiceLife.of(life)).toBe(life);
    expect(ServiceLife.of(new FakeServiceManager())).not.toBe(life);
  });
});
