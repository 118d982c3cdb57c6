import { FileEntry, pathRefusal, serviceRefusal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { paperInput, type Raw, withHost } from "../../../../test/helpers/render.js";
import { formatPfRule, parsePfConf } from "./grammar/pf.js";
import { parseVmConf } from "./grammar/vmconf.js";
import { HEADER } from "./header.js";
import { renderHost } from "./host.js";
import { hostsFile } from "./system.js";
import type { ComponentRender, RenderInput } from "./types.js";

const input = paperInput;

const colibri = (raw: Raw) => {
  raw.bridgeChannel = "colibri-websocket";
};

function file(r: ComponentRender, path: string) {
  const f = r.files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path} rendered`);
  return f;
}

function pf(i: RenderInput) {
  const { conf, errors } = parsePfConf(file(renderHost(i), "/etc/pf.conf").content);
  expect(errors).toEqual([]);
  return { conf, rules: conf.rules.map(formatPfRule) };
}

function vms(i: RenderInput) {
  const { conf, errors } = parseVmConf(file(renderHost(i), "/etc/vm.conf").content);
  expect(errors).toEqual([]);
  return conf;
}

/** An instance of the template "web" as the vm.conf reader gives it: its own disk, a memory only when given. */
function instance(name: string, memory?: "4G") {
  return {
    line: expect.any(Number),
    name,
    instanceOf: "web",
    ...(memory ? { memory, memoryBytes: 4 * 1024 ** 3 } : {}),
    disks: [{ path: `/home/vmm/${name}.qcow2`, format: "qcow2" }],
    interfaces: [],
  };
}

describe("vm.conf", () => {
  it("is the paper's template form: the first node is the template, the others instances", () => {
    const conf = vms(input());
    expect(conf.localPrefix).toBeUndefined();
    expect(conf.vms).toEqual([
      {
        line: expect.any(Number),
        name: "web",
        enable: true,
        memory: "2G",
        memoryBytes: 2 * 1024 ** 3,
        disks: [{ path: "/home/vmm/web.qcow2", format: "qcow2" }],
        interfaces: [{ local: true, options: ["up"] }],
      },
      instance("xmpp"),
      instance("jicofo", "4G"),
      instance("jvb", "4G"),
    ]);
  });

  it("writes memory only when it differs in size, enable/disable when it differs, and the image dir", () => {
    const conf = vms(
      withHost({ imageDir: "/vmm/images" }, (raw) => {
        const nodes = raw.nodes as Raw[];
        nodes[0]!.vm = { memory: "4G", enable: false };
        nodes[1]!.vm = { memory: "4096M" };
        nodes[2]!.vm = { enable: false };
      }),
    );
    const [web, xmpp, jicofo, jvb] = conf.vms;
    expect(web).toMatchObject({ enable: false, memory: "4G", disks: [{ path: "/vmm/images/web.qcow2" }] });
    expect(xmpp!.memory).toBeUndefined();
    expect(xmpp!.enable).toBe(true);
    expect(jicofo!.enable).toBe(false);
    expect(jicofo!.memory).toBeUndefined();
    expect(jvb!.enable).toBe(true);
  });

  it("sets vmd's local prefix when host.vmNetwork is not its default", () => {
    expect(vms(withHost({ vmNetwork: "100.64.0.0/16" })).localPrefix).toBe("100.64.0.0/16");
  });

  it("notifies vmd with a reload", () => {
    expect(file(renderHost(input()), "/etc/vm.conf").notify).toEqual([{ service: "vmd", action: "reload" }]);
  });
});

describe("pf.conf of the host", () => {
  it("NATs the VM network out of egress, keeping each bridge's media port", () => {
    const { conf, rules } = pf(input());
    expect(conf.skip).toEqual(["lo"]);
    expect(rules[0]).toBe(
      "match out on egress inet proto udp from 100.64.4.3 port 10000 to any nat-to (egress) static-port",
    );
    expect(rules[1]).toBe("match out on egress inet from 100.64.0.0/10 to any nat-to (egress)");
    expect(rules[2]).toBe("block return log all");
  });

  it("uses host.egress as the interface", () => {
    const { rules } = pf(withHost({ egress: "em0" }));
    expect(rules).toContain("match out on em0 inet from 100.64.0.0/10 to any nat-to (em0)");
    expect(rules).toContain("pass in on em0 proto tcp from any to any port { 80 443 } rdr-to 100.64.1.3");
  });

  it("forwards 80/443 to web and the media port to the bridge (the paper's rdr-to rules)", () => {
    const { rules } = pf(input());
    expect(rules).toContain("pass in on egress proto tcp from any to any port { 80 443 } rdr-to 100.64.1.3");
    expect(rules).toContain("pass in on egress proto udp from any to any port 10000 rdr-to 100.64.4.3");
  });

  it("forwards 5280 to prosody only with host.debugBosh", () => {
    const debug = "pass in on egress proto tcp from any to any port 5280 rdr-to 100.64.2.3";
    expect(pf(input()).rules).not.toContain(debug);
    expect(pf(withHost({ debugBosh: true })).rules).toContain(debug);
  });

  it("redirects the VMs' DNS to host.resolver", () => {
    const { rules } = pf(withHost({ resolver: "100.64.0.1" }));
    expect(rules).toContain(
      "pass in proto { udp tcp } from { 100.64.1.3 100.64.2.3 100.64.3.3 100.64.4.3 } to any port 53 rdr-to 100.64.0.1",
    );
  });

  it("passes between VMs exactly what the paper lists, plus colibri when enabled", () => {
    const { rules } = pf(input());
    expect(rules).toContain("pass in proto tcp from { 100.64.3.3 100.64.4.3 } to 100.64.2.3 port 5222");
    expect(rules).toContain("pass in proto tcp from 100.64.1.3 to 100.64.2.3 port 5280");
    expect(rules.some((r) => r.includes("9090"))).toBe(false);
    const ws = pf(input(colibri)).rules;
    expect(ws).toContain("pass in proto tcp from 100.64.1.3 to 100.64.4.3 port 9090");
  });

  it("lets ssh in from the admin networks, or from anywhere when there are none", () => {
    expect(pf(input()).rules).toContain("pass in proto tcp from any to self port 22");
    const admin = pf(withHost({ adminNetworks: ["192.0.2.0/24"] })).rules;
    expect(admin).toContain("pass in proto tcp from 192.0.2.0/24 to self port 22");
    expect(admin).not.toContain("pass in proto tcp from any to self port 22");
    expect(admin).toContain(
      "pass in proto tcp from 192.0.2.0/24 to { 100.64.1.3 100.64.2.3 100.64.3.3 100.64.4.3 } port 22",
    );
  });

  it("forwards the monitoring ports from the monitor networks", () => {
    const { rules } = pf(withHost({ monitorNetworks: ["198.51.100.0/24"] }));
    expect(rules).toContain("pass in proto tcp from 198.51.100.0/24 to 100.64.3.3 port 8888");
    expect(rules).toContain("pass in proto tcp from 198.51.100.0/24 to 100.64.4.3 port 8080");
    expect(pf(input()).rules.some((r) => r.includes("8888"))).toBe(false);
  });

  it("forwards TURN's ports and relay range when TURN is on", () => {
    const { rules } = pf(
      input((raw) => {
        raw.turn = { enabled: true, port: 3479, tlsPort: 5350 };
        (raw.nodes as Raw[]).push({ name: "relay", role: "turn", address: "100.64.5.3" });
      }),
    );
    expect(rules).toContain("pass in on egress proto udp from any to any port 3479 rdr-to 100.64.5.3");
    expect(rules).toContain("pass in on egress proto tcp from any to any port 5350 rdr-to 100.64.5.3");
    expect(rules).toContain("pass in on egress proto udp from any to any port 49152:65535 rdr-to 100.64.5.3");
    expect(rules).toContain("pass in proto udp from 100.64.5.3 port 49152:65535 to any");
    expect(pf(input()).rules.some((r) => r.includes("3478"))).toBe(false);
  });

  it("lets the agents reach the coordinator when its port is given", () => {
    const text = file(renderHost(input(), { coordinatorPort: 8765 }), "/etc/pf.conf").content;
    expect(parsePfConf(text).conf.rules.map(formatPfRule)).toContain(
      "pass in proto tcp from { 100.64.1.3 100.64.2.3 100.64.3.3 100.64.4.3 } to self port 8765",
    );
  });
});

describe("the other host files", () => {
  it("hosts, myname, sysctl.conf and vmd", () => {
    const r = renderHost(input());
    expect(file(r, "/etc/hosts").content).toBe(hostsFile(input().spec));
    expect(file(r, "/etc/myname").content).toBe("vmm\n");
    expect(
      file(r, "/etc/sysctl.conf")
        .content.split("\n")
        .filter((l) => l && !l.startsWith("#")),
    ).toEqual(["net.inet.ip.forwarding=1"]);
    expect(r.services).toEqual([{ name: "vmd", flags: null, order: 10, graceSeconds: 10 }]);
  });

  it("stays within the host's allow-list and the FileEntry schema", () => {
    const r = renderHost(input());
    for (const f of r.files) {
      expect(pathRefusal("host", f.path)).toBeNull();
      expect(FileEntry.safeParse(f).success).toBe(true);
      expect(f.content.endsWith("\n")).toBe(true);
      for (const s of f.notify ?? []) expect(serviceRefusal("host", s.service)).toBeNull();
      if (f.path !== "/etc/myname") expect(f.content.split("\n")[0]).toBe(HEADER);
    }
    for (const s of r.services) expect(serviceRefusal("host", s.name)).toBeNull();
  });
});
