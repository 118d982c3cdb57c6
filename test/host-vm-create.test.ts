// `vmmeet vm create NAME` on a sandboxed VMM host with the vmctl/vmd test doubles: the template VM's image
// comes from `vmctl create -s SIZE`, an instance's is a copy of the template's (only while the template VM
// is stopped), and an existing image is never overwritten.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { runCli } from "@vmmeet/coordinator";
import { afterEach, describe, expect, it } from "vitest";
import { makeVmctl, vmmState } from "./doubles/vmctl/index.js";
import { VMD_DOUBLE_SCRIPT } from "./doubles/vmd/index.js";
import { fixturesDir } from "./fixtures/material.js";
import { waitFor } from "./helpers/wait.js";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function host() {
  const dir = await mkdtemp(path.join(tmpdir(), "vmmeet-vmcreate-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = path.join(dir, "root");
  await mkdir(path.join(root, "etc"), { recursive: true });
  const spec = path.join(dir, "vmmeet.yaml");
  const text = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  await writeFile(spec, text.replace("{ name: web, role: web,", "{ name: web, role: web, vm: { disk: 8G },"));
  const vmctl = await makeVmctl(root);
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["vm", "create", ...args, spec, "--root", root, "--vmctl", vmctl], {
      out: (s: string) => out.push(s),
      err: (s: string) => err.push(s),
      cwd: dir,
      env: {},
    });
    return { code, out: out.join(""), err: err.join("") };
  };
  return { dir, root, spec, vmctl, cli };
}

describe("vmmeet vm create", () => {
  it("creates the template with vmctl create, copies it for an instance, and never overwrites", async () => {
    const h = await host();
    const noTemplate = await h.cli("xmpp");
    expect(noTemplate.code).toBe(1);
    expect(noTemplate.err).toMatch(/the template's image \/home\/vmm\/web\.qcow2 does not exist/);

    const web = await h.cli("web");
    expect(web, web.err).toMatchObject({ code: 0 });
    expect(web.out).toMatch(/\/home\/vmm\/web\.qcow2: created \(8G\) for the template VM web/);
    const image = await readFile(path.join(h.root, "home/vmm/web.qcow2"), "utf8");
    expect(image).toContain('"size":"8G"');

    const again = await h.cli("web");
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/\/home\/vmm\/web\.qcow2 exists; an image is never overwritten/);
    expect(await readFile(path.join(h.root, "home/vmm/web.qcow2"), "utf8")).toBe(image);

    const xmpp = await h.cli("xmpp");
    expect(xmpp, xmpp.err).toMatchObject({ code: 0 });
    expect(await readFile(path.join(h.root, "home/vmm/xmpp.qcow2"), "utf8")).toBe(image);
    expect((await h.cli("xmpp")).code).toBe(1);

    const unknown = await h.cli("jvb9");
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/"jvb9" is not a VM of .* \(web, xmpp, jicofo, jvb\)/);
  });

  it("refuses to copy the template's image while the template VM runs", async () => {
    const h = await host();
    expect((await h.cli("web")).code).toBe(0);
    await writeFile(
      path.join(h.root, "etc/vm.conf"),
      'vm "web" {\n\tmemory 2G\n\tdisk "/home/vmm/web.qcow2" format qcow2\n\tlocal interface { up }\n}\n',
    );
    // vmd starts the enabled VM (the template, being installed) as it comes up.
    const vmd: ChildProcess = spawn(process.execPath, [VMD_DOUBLE_SCRIPT], {
      env: { ...process.env, VMD_DOUBLE_ROOT: h.root },
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
    await waitFor(async () => (await vmmState(h.root)).vms.web?.state === "running", { what: "web running" });
    const refused = await h.cli("jicofo");
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/the template VM web is running; stop it first \(vmctl stop web\)/);
    await expect(readFile(path.join(h.root, "home/vmm/jicofo.qcow2"))).rejects.toThrow(/ENOENT/);

    const stop = spawn(h.vmctl, ["stop", "web"], { stdio: "ignore" });
    await new Promise((r) => stop.once("exit", r));
    expect((await h.cli("jicofo")).code).toBe(0);
  });
});
