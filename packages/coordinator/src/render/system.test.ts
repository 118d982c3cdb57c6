import { FileEntry, type NodeSpec, pathRefusal, serviceRefusal } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { paperInput, type Raw, withHost } from "../../../../test/helpers/render.js";
import { formatPfRule, parsePfConf } from "./grammar/pf.js";
import { HEADER } from "./header.js";
import { gatewayOf, hostsFile, renderSystem } from "./system.js";
import type { ComponentRender, ProgramLog, RenderInput } from "./types.js";

const input = paperInput;

function node(i: RenderInput, name: string): NodeSpec {
  const n = i.spec.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

function file(r: ComponentRender, path: string) {
  const f = r.files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path} rendered`);
  return f;
}

/** The rules of a rendered pf.conf as canonical lines (macros expanded); the file must parse cleanly. */
function rules(i: RenderInput, name: string, logs: ProgramLog[] = []): string[] {
  const text = file(renderSystem(i, node(i, name), logs), "/etc/pf.conf").content;
  const { conf, errors } = parsePfConf(text);
  expect(errors).toEqual([]);
  return conf.rules.map(formatPfRule);
}

const JVB_LOG: ProgramLog = {
  program: "jvb",
  path: "/var/log/jvb",
  owner: "root",
  group: "wheel",
  mode: "0640",
  keep: 7,
  sizeKb: 1024,
};

const Q = "pass in quick on egress";
const O = "pass out quick on egress";

describe("pf.conf of every VM", () => {
  it("starts with the paper's common rules and lets ssh in from the VM's gateway", () => {
    for (const name of ["web", "xmpp", "jicofo", "jvb"]) {
      const r = rules(input(), name);
      expect(r[0]).toBe("block return log all");
      expect(r[1]).toBe(`${O} proto { tcp udp } from any to any port { 123 53 80 443 }`);
      expect(r).toContain(`${Q} proto tcp from ${gatewayOf(node(input(), name).address)} to self port 22`);
    }
    expect(rules(input(), "jicofo")).toContain(`${Q} proto tcp from 100.64.3.2 to self port 22`);
  });

  it("defines a macro per node and skips lo", () => {
    const text = file(renderSystem(input(), node(input(), "web"), []), "/etc/pf.conf").content;
    const { conf } = parsePfConf(text);
    expect(conf.macros).toMatchObject({
      web: "100.64.1.3",
      xmpp: "100.64.2.3",
      jicofo: "100.64.3.3",
      jvb: "100.64.4.3",
      vmm_host: "100.64.1.2",
    });
    expect(conf.skip).toEqual(["lo"]);
    expect(text.split("\n")[0]).toBe(HEADER);
  });

  it("lets ssh in from the admin networks only when there are some", () => {
    const ssh = (i: RenderInput) => rules(i, "web").filter((r) => r.endsWith("port 22"));
    expect(ssh(input())).toHaveLength(1);
    expect(ssh(withHost({ adminNetworks: ["192.0.2.0/24", "198.51.100.0/24"] }))).toContain(
      `${Q} proto tcp from { 192.0.2.0/24 198.51.100.0/24 } to self port 22`,
    );
  });

  it("web: HTTP(S) in, BOSH out to prosody, colibri websockets out to every bridge when enabled", () => {
    const r = rules(input(), "web");
    expect(r).toContain(`${Q} proto tcp from any to self port { 80 443 }`);
    expect(r).toContain(`${O} proto tcp from any to 100.64.2.3 port 5280`);
    expect(r.some((x) => x.includes("9090"))).toBe(false);
    const ws = rules(
      input((raw) => {
        raw.bridgeChannel = "colibri-websocket";
        (raw.nodes as Raw[]).push({
          name: "jvb2",
          role: "jvb",
          address: "100.64.5.3",
          jvb: { udpPort: 10001 },
        });
      }),
      "web",
    );
    expect(ws).toContain(`${O} proto tcp from any to { 100.64.4.3 100.64.5.3 } port 9090`);
  });

  it("xmpp: 5222 from jicofo and every bridge, 5280 from web, debug ports only with admin networks", () => {
    const r = rules(input(), "xmpp");
    expect(r).toContain(`${Q} proto tcp from { 100.64.3.3 100.64.4.3 } to self port 5222`);
    expect(r).toContain(`${Q} proto tcp from 100.64.1.3 to self port 5280`);
    expect(r.some((x) => x.includes("5347"))).toBe(false);
    const admin = rules(withHost({ adminNetworks: ["192.0.2.0/24"] }), "xmpp");
    expect(admin).toContain(`${Q} proto tcp from 192.0.2.0/24 to self port { 5280 5347 }`);
  });

  it("xmpp: with host.debugBosh the forwarded public 5280 is let in", () => {
    expect(rules(input(), "xmpp")).not.toContain(`${Q} proto tcp from any to self port 5280`);
    expect(rules(withHost({ debugBosh: true }), "xmpp")).toContain(
      `${Q} proto tcp from any to self port 5280`,
    );
  });

  it("jicofo: out to prosody 5222/5280, no media port, REST 8888 from the monitor networks only", () => {
    const r = rules(input(), "jicofo");
    expect(r).toContain(`${O} proto tcp from any to 100.64.2.3 port { 5222 5280 }`);
    // The paper's "in udp 10000" on jicofo is a mistake: media goes to jvb.
    expect(r.some((x) => x.includes("udp") && x.includes("10000"))).toBe(false);
    expect(r.some((x) => x.includes("8888"))).toBe(false);
    const mon = rules(withHost({ monitorNetworks: ["198.51.100.7/32"] }), "jicofo");
    expect(mon).toContain(`${Q} proto tcp from 198.51.100.7/32 to self port 8888`);
  });

  it("jvb: prosody out, its own UDP port in and out (ICE), 9090 from web with colibri, 8080 from monitors", () => {
    const i = input((raw) => {
      raw.bridgeChannel = "colibri-websocket";
      raw.host = { ...(raw.host as Raw), monitorNetworks: ["198.51.100.0/24"] };
      (raw.nodes as Raw[])[3]!.jvb = { udpPort: 10007 };
    });
    const r = rules(i, "jvb");
    expect(r).toContain(`${O} proto tcp from any to 100.64.2.3 port 5222`);
    expect(r).toContain(`${Q} proto udp from any to self port 10007`);
    expect(r).toContain(`${O} proto udp from self port 10007 to any`);
    expect(r).toContain(`${Q} proto tcp from 100.64.1.3 to self port 9090`);
    expect(r).toContain(`${Q} proto tcp from 198.51.100.0/24 to self port 8080`);
    const plain = rules(input(), "jvb");
    expect(plain).toContain(`${Q} proto udp from any to self port 10000`);
    expect(plain.some((x) => x.includes("9090") || x.includes("8080"))).toBe(false);
  });

  it("turn: its listening ports and coturn's relay range", () => {
    const i = input((raw) => {
      raw.turn = { enabled: true, port: 3478, tlsPort: 5349 };
      (raw.nodes as Raw[]).push({ name: "turn", role: "turn", address: "100.64.5.3" });
    });
    const r = rules(i, "turn");
    expect(r).toContain(`${Q} proto udp from any to self port 3478`);
    expect(r).toContain(`${Q} proto tcp from any to self port 5349`);
    expect(r).toContain(`${Q} proto udp from any to self port 49152:65535`);
    expect(r).toContain(`${O} proto udp from self port 49152:65535 to any`);
  });

  it("with a coordinator port the agent may reach the host", () => {
    const i = input();
    const text = file(renderSystem(i, node(i, "jvb"), [], { coordinatorPort: 8765 }), "/etc/pf.conf").content;
    expect(parsePfConf(text).conf.rules.map(formatPfRule)).toContain(
      `${O} proto tcp from any to 100.64.4.2 port 8765`,
    );
    expect(rules(i, "jvb").some((x) => x.includes("8765"))).toBe(false);
  });

  it("refuses a node named like a pf keyword, naming the spec path", () => {
    const i = input((raw) => {
      (raw.nodes as Raw[])[3]!.name = "port";
    });
    expect(() => renderSystem(i, node(i, "web"), [])).toThrow(
      /nodes\[3\]\.name: "port" is a pf.conf keyword/,
    );
  });

  it("notifies pf with a reload", () => {
    const f = file(renderSystem(input(), node(input(), "web"), []), "/etc/pf.conf");
    expect(f.notify).toEqual([{ service: "pf", action: "reload" }]);
    expect(f).toMatchObject({ mode: "0600", owner: "root", group: "wheel" });
  });
});

describe("gatewayOf", () => {
  it("is the other address of the VM's /31", () => {
    expect(gatewayOf("100.64.4.3")).toBe("100.64.4.2");
    expect(gatewayOf("100.64.255.3")).toBe("100.64.255.2");
    expect(gatewayOf("10.0.0.2")).toBe("10.0.0.3");
  });
});

describe("/etc/hosts and /etc/myname", () => {
  it("lists every node, with the domain on the xmpp line (the paper)", () => {
    expect(hostsFile(input().spec)).toBe(
      [
        HEADER,
        "127.0.0.1 localhost",
        "::1 localhost",
        "100.64.1.3 web",
        "100.64.2.3 xmpp jts.fips.de",
        "100.64.3.3 jicofo",
        "100.64.4.3 jvb",
        "",
      ].join("\n"),
    );
    const r = renderSystem(input(), node(input(), "jicofo"), []);
    expect(file(r, "/etc/hosts").content).toBe(hostsFile(input().spec));
    expect(file(r, "/etc/myname").content).toBe("jicofo\n");
  });
});

describe("syslog.conf and newsyslog.conf", () => {
  it("keeps OpenBSD's stock rules and ends with one block per program log", () => {
    const r = renderSystem(input(), node(input(), "jvb"), [JVB_LOG]);
    const text = file(r, "/etc/syslog.conf").content;
    const lines = text.trimEnd().split("\n");
    expect(lines).toContain("daemon.info\t\t\t\t\t\t/var/log/daemon");
    expect(lines).toContain("auth.info\t\t\t\t\t\t/var/log/authlog");
    expect(lines.slice(-2)).toEqual(["!jvb", "*.*\t\t\t\t\t\t\t/var/log/jvb"]);
    expect(file(r, "/etc/syslog.conf").notify).toEqual([{ service: "syslogd", action: "reload" }]);
    const none = file(renderSystem(input(), node(input(), "web"), []), "/etc/syslog.conf").content;
    expect(none).not.toMatch(/^!/m);
  });

  it("creates each program's log file with a syslog-logfile action", () => {
    const r = renderSystem(input(), node(input(), "jvb"), [JVB_LOG]);
    expect(r.actions).toEqual([
      { kind: "syslog-logfile", path: "/var/log/jvb", mode: "0640", owner: "root", group: "wheel" },
    ]);
    expect(renderSystem(input(), node(input(), "web"), []).actions).toEqual([]);
  });

  it("rotates each program log (owner:group mode count size when flags)", () => {
    const text = file(renderSystem(input(), node(input(), "jvb"), [JVB_LOG]), "/etc/newsyslog.conf").content;
    const entries = text
      .split("\n")
      .filter((l) => l.startsWith("/"))
      .map((l) => l.split(/\s+/));
    expect(entries).toContainEqual(["/var/log/jvb", "root:wheel", "640", "7", "1024", "*", "Z"]);
    expect(entries).toContainEqual(["/var/log/daemon", "640", "5", "30", "*", "Z"]);
  });

  it("signals nginx, not httpd, for /var/www/logs on the web VM", () => {
    const web = file(renderSystem(input(), node(input(), "web"), []), "/etc/newsyslog.conf").content;
    expect(web).toMatch(/^\/var\/www\/logs\/access\.log .* \/var\/run\/nginx\.pid SIGUSR1$/m);
    expect(web).not.toMatch(/httpd/);
    const jvb = file(renderSystem(input(), node(input(), "jvb"), []), "/etc/newsyslog.conf").content;
    expect(jvb).toMatch(/pkill -USR1 -u root -U root -x httpd/);
  });
});

describe("the render as a whole", () => {
  it("stays within the allow-list and the FileEntry schema; every file ends with a newline", () => {
    for (const n of input().spec.nodes) {
      const r = renderSystem(input(), n, n.role === "jvb" ? [JVB_LOG] : []);
      expect(r.files.map((f) => f.path)).toEqual([
        "/etc/pf.conf",
        "/etc/hosts",
        "/etc/myname",
        "/etc/syslog.conf",
        "/etc/newsyslog.conf",
      ]);
      for (const f of r.files) {
        expect(pathRefusal(n.role, f.path)).toBeNull();
        expect(FileEntry.safeParse(f).success).toBe(true);
        expect(f.content.endsWith("\n")).toBe(true);
        for (const s of f.notify ?? []) expect(serviceRefusal(n.role, s.service)).toBeNull();
        if (f.path !== "/etc/myname") expect(f.content.split("\n")[0]).toBe(HEADER);
      }
      expect(r.services).toEqual([]);
    }
  });
});
