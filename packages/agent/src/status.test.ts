import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { sha256 } from "@vmmeet/node";
import { NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { lenientAccounts } from "./reconcile/accounts.js";
import { FakeServiceManager } from "./services/fake.js";
import { ServiceLife } from "./services/life.js";
import { fileStates, serviceStates } from "./status.js";

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
    const states = await serviceStates(desired, new ServiceLife(services), () => undefined);
    expect(states).toEqual([
      { name: "jicofo", enabled: true, running: true, flags: "--host=example.org", state: "ok", restarts: 0 },
      { name: "syslogd", enabled: false, running: false, flags: "NO", state: "stopped", restarts: 0 },
    ]);
    expect(services.calls.filter((c) => c.startsWith("get ")).sort()).toEqual([
      "get jicofo flags",
      "get syslogd flags",
    ]);
  });

  it("asks rcctl only what the service owner has no fresh answer for", async () => {
    const services = new FakeServiceManager({
      jicofo: { enabled: true, running: true, flags: "--host=example.org" },
      syslogd: { enabled: false, running: false },
    });
    // Time stands still: what the owner saw (an apply's reads and checks) is fresh.
    const life = new ServiceLife(services, { now: () => 0 });
    await life.getFlags("jicofo");
    await life.check("jicofo");
    await life.check("syslogd");
    services.calls.length = 0;
    const states = await serviceStates(desired, life, () => undefined);
    expect(services.calls).toEqual(["get syslogd flags"]);
    expect(states.map((s) => [s.name, s.enabled, s.running, s.flags])).toEqual([
      ["jicofo", true, true, "--host=example.org"],
      ["syslogd", false, false, "NO"],
    ]);
  });

  it("an unknown service is neither enabled nor running", async () => {
    const states = await serviceStates(
      desired,
      new ServiceLife(new FakeServiceManager({ jicofo: { enabled: true, running: true } })),
      () => undefined,
    );
    expect(states[1]).toMatchObject({ name: "syslogd", enabled: false, running: false, flags: null });
  });
});

describe("fileStates", () => {
  it("reads only the files the apply that just ended did not report", async () => {
    const root = await mkdtemp(path.join(tmpdir(), "vmmeet-status-"));
    try {
      await mkdir(path.join(root, "etc/jicofo"), { recursive: true });
      await writeFile(path.join(root, "etc/jicofo/a.conf"), "on disk\n", { mode: 0o600 });
      await writeFile(path.join(root, "etc/jicofo/b.conf"), "b\n", { mode: 0o600 });
      const withFiles = NodeDesired.parse({
        ...desired,
        files: ["a", "b"].map((n) => ({
          path: `/etc/jicofo/${n}.conf`,
          content: `${n}\n`,
          mode: "0600",
          owner: "root",
          group: "wheel",
        })),
      });
      const known = {
        "/etc/jicofo/a.conf": {
          path: "/etc/jicofo/a.conf",
          sha256: "a".repeat(64),
          mode: "0600",
          owner: "root",
          group: "wheel",
        },
      };
      const states = await fileStates(withFiles, root, lenientAccounts(), known);
      // a.conf as reported (its bytes on disk are not even hashed), b.conf from disk
      expect(states[0]).toEqual(known["/etc/jicofo/a.conf"]);
      expect(states[1]).toMatchObject({ path: "/etc/jicofo/b.conf", sha256: sha256(Buffer.from("b\n")) });
      expect(states[1]?.mode).toBe("0600");
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
