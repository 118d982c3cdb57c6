// The apply engine on the VMM host (in-process), with the vmd, vmctl, sysctl and pfctl test doubles and an
// in-memory rcctl: vm.conf takes effect through `vmctl reload` (not rcctl), a vm.conf vmd -n refuses
// refuses the whole desired state (pf.conf included), the enabled VMs vmd does not run are started and a
// missing disk image says how to make it, sysctl.conf's values are set, and a second apply does nothing.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { renderHostNode } from "@vmmeet/coordinator";
import type { NodeDesired } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { HostManager } from "../packages/agent/src/host/vmm.js";
import { PfManager } from "../packages/agent/src/pf/manager.js";
import { lenientAccounts } from "../packages/agent/src/reconcile/accounts.js";
import { ApplyEngine } from "../packages/agent/src/reconcile/engine.js";
import { FakeServiceManager } from "../packages/agent/src/services/fake.js";
import { loadedRules, makePfctl } from "./doubles/pfctl/index.js";
import { makeSysctl, sysctlHistory } from "./doubles/sysctl/index.js";
import { makeVmctl, vmmState } from "./doubles/vmctl/index.js";
import { makeVmd, VMD_DOUBLE_SCRIPT } from "./doubles/vmd/index.js";
import { fakeInput } from "./fixtures/material.js";
import { waitFor } from "./helpers/wait.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const JVB2 = { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } };

async function host() {
  const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-hosthooks-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, "root");
  const stateDir = path.join(dir, "state");
  await mkdir(path.join(root, "etc"), { recursive: true });
  await mkdir(path.join(root, "home/vmm"), { recursive: true });
  for (const vm of ["web", "xmpp", "jicofo", "jvb"])
    await writeFile(path.join(root, `home/vmm/${vm}.qcow2`), "image");
  // vmd runs (started at boot with an empty vm.conf), as rcctl says below.
  await writeFile(path.join(root, "etc/vm.conf"), "");
  const vmd: ChildProcess = spawn(process.execPath, [VMD_DOUBLE_SCRIPT], {
    env: { ...process.env, VMD_DOUBLE_ROOT: root },
    stdio: "ignore",
  });
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        if (vmd.exitCode !== null) return r();
        vmd.once("exit", () => r());
        vmd.kill("SIGTERM");
      }),
  );
  await waitFor(async () => (await vmmState(root)).vmd?.pid === vmd.pid, { what: "vmd up" });
  const services = new FakeServiceManager({ vmd: { enabled: true, running: true } });
  const log = pino({ level: "silent" });
  const engine = new ApplyEngine({
    stateDir,
    root,
    services,
    accounts: lenientAccounts(),
    role: "host",
    log,
    pf: new PfManager({ pfctl: await makePfctl(root), root, stateDir, log, confirmable: false }),
    host: new HostManager({
      vmctl: await makeVmctl(root),
      vmd: await makeVmd(root),
      sysctl: await makeSysctl(root),
      stateDir,
      log,
    }),
  });
  return { root, services, engine };
}

const desired = (patch?: (raw: Record<string, unknown>) => void): NodeDesired =>
  renderHostNode(fakeInput("paper-7648.yaml", patch));

describe("the apply engine on the VMM host", () => {
  it("reloads vmd with vmctl, starts the VMs, sets sysctl values, and does nothing the second time", async () => {
    const h = await host();
    const d1 = desired();
    const r1 = await h.engine.apply(d1, 1);
    expect(r1.outcome, JSON.stringify(r1, null, 1)).toBe("applied");
    expect(r1.services.find((s) => s.name === "vmd")?.steps).toEqual(["reloaded"]);
    expect(h.services.actions).not.toContain("reload vmd"); // vmctl reload, not rcctl
    expect((await vmmState(h.root)).config.map((c) => c.name)).toEqual(["web", "xmpp", "jicofo", "jvb"]);
    expect(r1.services.find((s) => s.name === "pf")?.steps).toEqual(["reloaded"]);
    expect(await loadedRules(h.root)).toContain("rdr-to $jvb");
    expect(r1.actions.filter((a) => a.action === "vm-start").map((a) => `${a.target}:${a.status}`)).toEqual([
      "web:done",
      "xmpp:done",
      "jicofo:done",
      "jvb:done",
    ]);
    expect(r1.actions).toContainEqual(
      expect.objectContaining({ action: "sysctl", target: "net.inet.ip.forwarding=1", status: "done" }),
    );
    expect(Object.values((await vmmState(h.root)).vms).every((v) => v.state === "running")).toBe(true);

    const r2 = await h.engine.apply(d1, 1);
    expect(r2).toMatchObject({ outcome: "applied", changed: false });
    expect(r2.actions.every((a) => a.status === "skipped")).toBe(true);
    expect(await sysctlHistory(h.root)).toEqual(["net.inet.ip.forwarding=1"]);
  });

  it("refuses a desired state whose vm.conf vmd -n refuses, pf.conf and all", async () => {
    const h = await host();
    expect((await h.engine.apply(desired(), 1)).outcome).toBe("applied");
    const vmConf = await readFile(path.join(h.root, "etc/vm.conf"), "utf8");
    const rules = await loadedRules(h.root);
    const broken = desired((raw) => {
      (raw.nodes as unknown[]).push(JVB2);
    });
    const vmEntry = broken.files.find((f) => f.path === "/etc/vm.conf");
    if (!vmEntry) throw new Error("no vm.conf rendered");
    vmEntry.content = vmEntry.content.replace('vm "web" instance "jvb2" {', 'vm "web" instance "jvb2"');
    const r = await h.engine.apply(broken, 2);
    expect(r.outcome).toBe("refused");
    expect(r.refusals).toEqual([
      {
        item: "file /etc/vm.conf",
        reason: expect.stringMatching(/^vmd -n refused it \(exit 1\): \/etc\/vm\.conf:\d+: /),
      },
    ]);
    expect(await readFile(path.join(h.root, "etc/vm.conf"), "utf8")).toBe(vmConf);
    expect(await loadedRules(h.root)).toBe(rules); // the new pf.conf (jvb2's port) was not loaded either
    expect((await vmmState(h.root)).config.map((c) => c.name)).not.toContain("jvb2");
  });

  it("reports a VM whose disk image is missing, with the command that makes it", async () => {
    const h = await host();
    expect((await h.engine.apply(desired(), 1)).outcome).toBe("applied");
    const r = await h.engine.apply(
      desired((raw) => {
        (raw.nodes as unknown[]).push(JVB2);
      }),
      2,
    );
    expect(r.outcome).toBe("failed");
    expect((await vmmState(h.root)).config.map((c) => c.name)).toContain("jvb2");
    expect(r.actions.find((a) => a.target === "jvb2")).toMatchObject({
      action: "vm-start",
      status: "failed",
      detail: expect.stringMatching(
        /vmctl start jvb2: exit 1: .*create it on the host with: vmmeet vm create jvb2/,
      ),
    });
    await writeFile(path.join(h.root, "home/vmm/jvb2.qcow2"), "image");
    const again = await h.engine.enforce();
    expect(again?.outcome).toBe("applied");
    expect((await vmmState(h.root)).vms.jvb2?.state).toBe("running");
  });
});
