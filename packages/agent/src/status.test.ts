import { NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { FakeServiceManager } from "./services/fake.js";
import { serviceStates } from "./status.js";

const desired = NodeDesired.parse({
  node: "jicofo",
  role: "jicofo",
  files: [],
  services: [
    { name: "jicofo", flags: "--host=example.org", order: 20 },
    { name: "syslogd", flags: null, order: 1 },
  ],
  actions: [],
  health: { release: 9646 },
});

describe("serviceStates", () => {
  it("reports enabled, running and flags from one rcctl get and one check per service", async () => {
    const services = new FakeServiceManager({
      jicofo: { enabled: true, running: true, flags: "--host=example.org" },
      syslogd: { enabled: false, running: false },
    });
    const states = await serviceStates(desired, services, () => undefined);
    expect(states).toEqual([
      { name: "jicofo", enabled: true, running: true, flags: "--host=example.org", state: "ok", restarts: 0 },
      { name: "syslogd", enabled: false, running: false, flags: "NO", state: "stopped", restarts: 0 },
    ]);
    expect(services.calls.filter((c) => c.startsWith("get ")).sort()).toEqual([
      "get jicofo flags",
      "get syslogd flags",
    ]);
  });

  it("asks rcctl only what the apply that just ended did not see", async () => {
    const services = new FakeServiceManager({
      jicofo: { enabled: true, running: true, flags: "--host=example.org" },
      syslogd: { enabled: false, running: false },
    });
    const states = await serviceStates(desired, services, () => undefined, {
      jicofo: { running: true, flags: "--host=example.org" },
      syslogd: { running: false },
    });
    expect(services.calls).toEqual(["get syslogd flags"]);
    expect(states.map((s) => [s.name, s.enabled, s.running, s.flags])).toEqual([
      ["jicofo", true, true, "--host=example.org"],
      ["syslogd", false, false, "NO"],
    ]);
  });

  it("an unknown service is neither enabled nor running", async () => {
    const states = await serviceStates(
      desired,
      new FakeServiceManager({ jicofo: { enabled: true, running: true } }),
      () => undefined,
    );
    expect(states[1]).toMatchObject({ name: "syslogd", enabled: false, running: false, flags: null });
  });
});
