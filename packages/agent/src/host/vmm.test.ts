import { describe, expect, it } from "vitest";
import { parseSysctlConf } from "./sysctl.js";
import { parseVmctlStatus } from "./vmm.js";

describe("parseVmctlStatus", () => {
  it("reads vmctl(8)'s table by its header", () => {
    const text = [
      "   ID   PID VCPUS  MAXMEM  CURMEM     TTY        OWNER    STATE   NAME",
      "    1 72118     1    2.0G    1.9G   ttyp9         root  running   web",
      "    2     -     1    4.0G       -       -         root  stopped   jvb",
      "",
    ].join("\n");
    expect(parseVmctlStatus(text)).toEqual([
      { name: "web", state: "running", id: 1, memory: "2.0G" },
      { name: "jvb", state: "stopped", id: 2, memory: "4.0G" },
    ]);
  });

  it("derives the state from the PID when vmctl prints no STATE column, and skips what it cannot read", () => {
    const text = [
      "   ID   PID VCPUS  MAXMEM  CURMEM     TTY        OWNER NAME",
      "    1  4242     1    512M    100M   ttyp0         root web",
      "    2     -     1    512M       -       -         root xmpp",
      "garbage line",
    ].join("\n");
    expect(parseVmctlStatus(text).map((v) => `${v.name}:${v.state}`)).toEqual([
      "web:running",
      "xmpp:stopped",
    ]);
    expect(parseVmctlStatus("vmctl: connect: /var/run/vmd.sock: No such file or directory\n")).toEqual([]);
  });
});

describe("parseSysctlConf", () => {
  it("takes name=value lines, drops comments, and lists what is not a plain setting", () => {
    const r = parseSysctlConf(
      "# generated\nnet.inet.ip.forwarding=1  # route the VMs\n\nkern.bufcachepercent = 20\nnet.inet.ip.forwarding=$(id)\nbogus\n",
    );
    expect(r.settings).toEqual([
      { name: "net.inet.ip.forwarding", value: "1" },
      { name: "kern.bufcachepercent", value: "20" },
    ]);
    expect(r.invalid).toEqual(["line 5: net.inet.ip.forwarding=$(id)", "line 6: bogus"]);
  });
});
