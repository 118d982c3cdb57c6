import { describe, expect, it } from "vitest";
import { checkVmConf, parseSize, parseVmConf } from "./vmconf.js";

const GOOD = `# template form
local prefix 100.64.0.0/16
jvbdisk = "/home/vmm/jvb.qcow2"
vm "web" {
	enable
	memory 2G
	disk "/home/vmm/web.qcow2" format qcow2
	local interface { up }
}

vm "web" instance "jvb" {
	memory 4096M
	disk $jvbdisk
	disable
}
vm "lab" {
	memory 536870912
	disk "/home/vmm/lab.img" format raw
	disk "/home/vmm/lab-data.img"
	interface tap0 { switch "uplink", group vms, locked lladdr fe:e1:ba:d0:00:01 }
	boot device cdrom
	cdrom "/home/vmm/install.iso"
	owner _vmm:_vmm
}
`;

function refused(text: string): { line: number; message: string }[] {
  const r = checkVmConf(text);
  expect(r.ok).toBe(false);
  return r.errors;
}

describe("parseVmConf", () => {
  it("reads templates, instances and options", () => {
    const { conf, errors } = parseVmConf(GOOD);
    expect(errors).toEqual([]);
    expect(conf.localPrefix).toBe("100.64.0.0/16");
    expect(conf.vms.map((v) => [v.name, v.instanceOf, v.line])).toEqual([
      ["web", undefined, 4],
      ["jvb", "web", 11],
      ["lab", undefined, 16],
    ]);
    const [web, jvb, lab] = conf.vms;
    expect(web).toMatchObject({
      enable: true,
      memory: "2G",
      memoryBytes: 2 * 1024 ** 3,
      disks: [{ path: "/home/vmm/web.qcow2", format: "qcow2" }],
      interfaces: [{ local: true, options: ["up"] }],
    });
    expect(jvb).toMatchObject({
      enable: false,
      memoryBytes: 4 * 1024 ** 3,
      disks: [{ path: "/home/vmm/jvb.qcow2" }],
    });
    expect(lab).toMatchObject({
      memoryBytes: 512 * 1024 ** 2,
      boot: "device cdrom",
      cdrom: "/home/vmm/install.iso",
      owner: "_vmm:_vmm",
      interfaces: [
        {
          local: false,
          name: "tap0",
          options: ["switch uplink", "group vms", "locked lladdr fe:e1:ba:d0:00:01"],
        },
      ],
    });
    expect(lab!.disks).toHaveLength(2);
  });

  it("parseSize scales like scan_scaled(3)", () => {
    expect(parseSize("2G")).toBe(2 * 1024 ** 3);
    expect(parseSize("512m")).toBe(512 * 1024 ** 2);
    expect(parseSize("1.5G")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("2X")).toBeUndefined();
    expect(parseSize("G")).toBeUndefined();
  });
});

describe("checkVmConf refuses with a line number", () => {
  it("a vm block whose '}' is missing before the next vm, at the line that opened it", () => {
    const text =
      'vm "web" {\n\tmemory 2G\n\ndisk "/a.qcow2"\nvm "web" instance "xmpp" {\n\tdisk "/b.qcow2"\n}\n';
    expect(refused(text)).toEqual([
      { line: 1, message: `'}' missing: the block of vm "web" opened here is not closed` },
    ]);
  });

  it("a vm block that never closes", () => {
    expect(refused('vm "web" {\n\tmemory 2G\n')).toEqual([
      { line: 1, message: `'}' missing: the block of vm "web" opened here is not closed` },
    ]);
  });

  it("an unknown keyword, and a real one outside the subset", () => {
    expect(refused('vm "web" {\n\tmemroy 2G\n}\n')).toEqual([
      { line: 2, message: `unknown keyword 'memroy' in vm "web"` },
    ]);
    expect(refused('wm "web" {\n}\n')[0]).toEqual({ line: 1, message: "unknown keyword 'wm'" });
    expect(refused('vm "web" {\n\tallow instance { memory }\n}\n')[0]!.line).toBe(2);
  });

  it("bad sizes", () => {
    expect(refused('vm "a" {\n\tmemory 2X\n}\n')[0]).toEqual({
      line: 2,
      message: "bad memory size '2X' (a number with B, K, M, G or T)",
    });
    expect(refused('vm "a" {\n\tmemory 512K\n}\n')[0]!.message).toMatch(/below vmd's minimum of 1M/);
    expect(refused('vm "a" {\n\tmemory 1T\n}\n')[0]!.message).toMatch(/above vmm\(4\)'s limit/);
  });

  it("disks: format, relative path, more than four", () => {
    expect(refused('vm "a" {\n\tdisk "/a.img" format vmdk\n}\n')[0]!.message).toMatch(/qcow2 or raw/);
    expect(refused('vm "a" {\n\tdisk "a.img"\n}\n')[0]!.message).toMatch(/must be absolute/);
    const five = Array.from({ length: 5 }, (_, i) => `\tdisk "/d${i}.img"`).join("\n");
    expect(refused(`vm "a" {\n${five}\n}\n`)[0]).toEqual({
      line: 6,
      message: 'vm "a" has more than 4 disks',
    });
  });

  it("an instance of a template not defined above, and a duplicate name", () => {
    const [instance] = refused('vm "web" instance "xmpp" {\n}\nvm "web" {\n}\n');
    expect(instance).toEqual({
      line: 1,
      message: 'instance "xmpp": its template vm "web" must be defined above it',
    });
    const [again] = refused('vm "a" {\n}\nvm "a" {\n}\n');
    expect(again).toEqual({ line: 3, message: 'vm "a" is already defined on line 1' });
  });

  it("a '{' on the next line, two options on one line, an undefined macro, a bad prefix", () => {
    expect(refused('vm "a"\n{\n}\n')[0]!.message).toMatch(/expected '\{' to open/);
    expect(refused('vm "a" {\n\tenable memory 2G\n}\n')[0]!.line).toBe(2);
    expect(refused('vm "a" {\n\tdisk $img\n}\n')[0]).toEqual({
      line: 2,
      message: "macro 'img' not defined (a macro must be defined before its use)",
    });
    expect(refused("local prefix 100.64.0.0/40\n")[0]!.line).toBe(1);
    expect(refused('$nope\nvm "a" {\n\tmemory 1X\n}\n')).toEqual([
      { line: 1, message: "macro 'nope' not defined (a macro must be defined before its use)" },
      { line: 3, message: "bad memory size '1X' (a number with B, K, M, G or T)" },
    ]);
  });

  it("goes on after an error and reports every broken block", () => {
    const text = 'vm "a" {\n\tmemory 2X\n}\nvm "b" {\n\tdisk "rel.img"\n}\nvm "c" {\n\tmemory 2G\n}\n';
    expect(refused(text).map((e) => e.line)).toEqual([2, 5]);
  });
});
