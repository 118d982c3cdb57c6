// The system files of the VMs and of the VMM host against the paper: its pf.conf listings (section VII),
// its vm.conf and /etc/hosts (section VI), compared by value after parsing with vmmeet's pf.conf and
// vm.conf grammars (there is no pfctl or vmd on Linux). Also: the grammars accept the paper's listings and
// refuse broken variants with a line number; a 3-bridge deployment; every rendered pf.conf and vm.conf
// passes the checkers; rendering is deterministic.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  checkPfConf,
  checkVmConf,
  formatPfRule,
  type PfHost,
  type PfRule,
  parsePfConf,
  parseVmConf,
} from "../packages/coordinator/src/render/grammar/index.js";
import { renderHost } from "../packages/coordinator/src/render/host.js";
import { renderSystem } from "../packages/coordinator/src/render/system.js";
import type { ProgramLog, RenderInput } from "../packages/coordinator/src/render/types.js";
import { fakeInput, fixturesDir } from "./fixtures/material.js";

type Raw = Record<string, unknown>;

const PAPER_PF = path.join(fixturesDir, "paper-pf");
const paperPf = (name: string) => readFileSync(path.join(PAPER_PF, name), "utf8");
const PAPER_VM_CONF = readFileSync(path.join(fixturesDir, "paper-vm.conf"), "utf8");
/** The paper's /etc/hosts (section VI.B), which gives its pf listings' host names their addresses. */
const PAPER_HOSTS = ["100.64.1.3 web", "100.64.2.3 xmpp jts.fips.de", "100.64.3.3 jicofo", "100.64.4.3 jvb"];
const ADDRESS: Record<string, string> = Object.fromEntries(
  PAPER_HOSTS.map((l) => [l.split(" ")[1]!, l.split(" ")[0]!]),
);

const colibri = (raw: Raw) => {
  raw.bridgeChannel = "colibri-websocket";
};

const LOGS: Record<string, ProgramLog[]> = {
  jicofo: [
    {
      program: "jicofo",
      path: "/var/log/jicofo",
      owner: "root",
      group: "wheel",
      mode: "0640",
      keep: 7,
      sizeKb: 1024,
    },
  ],
  jvb: [
    {
      program: "jvb",
      path: "/var/log/jvb",
      owner: "root",
      group: "wheel",
      mode: "0640",
      keep: 7,
      sizeKb: 1024,
    },
  ],
};

function content(files: { path: string; content: string }[], p: string): string {
  const f = files.find((x) => x.path === p);
  if (!f) throw new Error(`no ${p}`);
  return f.content;
}

/** The paper's topology with the networks its listings use as $admin and $monitor (the fixtures' values). */
function paperInput(more?: (raw: Raw) => void): RenderInput {
  return fakeInput("paper-7648.yaml", (raw) => {
    raw.host = {
      ...(raw.host as Raw),
      adminNetworks: ["192.0.2.0/24"],
      monitorNetworks: ["192.0.2.10/32"],
      debugBosh: true,
    };
    more?.(raw);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Comparing rules by value: host names resolved through the paper's /etc/hosts, lists sorted, "/32"
// dropped. On a VM, quick and "on egress" are ignored (vmmeet writes every VM rule `quick on egress`, see
// DELIBERATE) and an inbound rule without a destination means the VM itself.

function hosts(hs: readonly PfHost[]): PfHost[] {
  return hs
    .map((h) => ({ not: h.not, addr: (ADDRESS[h.addr] ?? h.addr).replace(/\/32$/, "") }))
    .sort((a, b) => a.addr.localeCompare(b.addr));
}

function key(rule: PfRule, vm: boolean): string {
  const to = hosts(rule.to.hosts);
  const ports = (ps: PfRule["to"]["ports"]) => [...ps].sort((a, b) => a.port - b.port);
  return formatPfRule({
    ...rule,
    quick: vm ? false : rule.quick,
    on: vm ? [] : rule.on,
    proto: [...rule.proto].sort(),
    from: { hosts: hosts(rule.from.hosts), ports: ports(rule.from.ports) },
    to: {
      hosts: vm && rule.direction === "in" && to.length === 0 ? [{ not: false, addr: "self" }] : to,
      ports: ports(rule.to.ports),
    },
    ...(rule.rdrTo ? { rdrTo: { ...rule.rdrTo, hosts: hosts(rule.rdrTo.hosts) } } : {}),
  });
}

function keys(text: string, vm: boolean): string[] {
  const { conf, errors } = parsePfConf(text);
  expect(errors).toEqual([]);
  return conf.rules.map((r) => key(r, vm));
}

function renderedVm(input: RenderInput, role: string): string {
  const node = input.spec.nodes.find((n) => n.role === role)!;
  return content(renderSystem(input, node, LOGS[role] ?? []).files, "/etc/pf.conf");
}

/** Which rendered pf.conf each paper listing describes. */
const LISTINGS: { file: string; vm: boolean; roles: string[] }[] = [
  { file: "vm-common.conf", vm: true, roles: ["web", "xmpp", "jicofo", "jvb"] },
  { file: "web.conf", vm: true, roles: ["web"] },
  { file: "prosody.conf", vm: true, roles: ["xmpp"] },
  { file: "jicofo.conf", vm: true, roles: ["jicofo"] },
  { file: "jvb.conf", vm: true, roles: ["jvb"] },
  { file: "vmm.conf", vm: false, roles: ["host"] },
];

function renderedKeys(input: RenderInput, role: string, vm: boolean): string[] {
  return role === "host"
    ? keys(content(renderHost(input).files, "/etc/pf.conf"), vm)
    : keys(renderedVm(input, role), vm);
}

/**
 * The paper's rules that vmmeet deliberately renders differently: the paper's rule (as a value-level
 * key), what vmmeet renders instead (null: nothing), and why.
 */
const DELIBERATE: { file: string; paper: string; rendered: string | null; reason: string }[] = [
  {
    file: "jicofo.conf",
    paper: "pass in proto udp from any to self port 10000",
    rendered: null,
    reason:
      "media goes to the bridge, not to jicofo: the paper's 'in udp 10000' on jicofo opens a port nothing listens on",
  },
  {
    file: "jicofo.conf",
    paper: "pass in proto tcp from 192.0.2.10 to self port 8080",
    rendered: "pass in proto tcp from 192.0.2.10 to self port 8888",
    reason: "jicofo's REST API (health, statistics) listens on 8888 (jicofo.rest.port); 8080 is jvb's",
  },
  {
    file: "jvb.conf",
    paper: "pass in proto tcp from 192.0.2.10 to self port 8888",
    rendered: "pass in proto tcp from 192.0.2.10 to self port 8080",
    reason: "jvb's private HTTP server (colibri REST, /about/health) listens on 8080; 8888 is jicofo's",
  },
];

/**
 * What vmmeet adds to the paper's rules, and why (checked to be present, so that the list stays true).
 * VM rules are all `quick on egress`: the paper mixes quick and non-quick rules, which only works because
 * of their order; quick makes each rule stand alone.
 */
const ADDED: { role: string; rule: string; reason: string }[] = [
  {
    role: "host",
    rule: "match out on egress inet from 100.64.0.0/10 to any nat-to (egress)",
    reason:
      "the paper assumes the VMs reach out through the host but shows no NAT: nothing from 100.64/10 would come back",
  },
  {
    role: "host",
    rule: "match out on egress inet proto udp from 100.64.4.3 port 10000 to any nat-to (egress) static-port",
    reason:
      "a bridge announces PUBLIC:10000; ICE checks it starts must leave from that port, not a NAT-chosen one",
  },
  {
    role: "host",
    rule: "pass in proto { tcp udp } from { 100.64.1.3 100.64.2.3 100.64.3.3 100.64.4.3 } to any port { 80 123 443 }",
    reason: "the host forwards and filters the VMs' egress (the paper's per-VM egress rule, DNS aside)",
  },
  {
    role: "jvb",
    rule: "pass out proto udp from self port 10000 to any",
    reason: "ICE connectivity checks start on the bridge too, from its media port to the clients' candidates",
  },
  {
    role: "web",
    rule: "pass in proto tcp from 100.64.1.2 to self port 22",
    reason: "ssh from the VMM host (the VM's gateway), which the paper's admin-only rule leaves out",
  },
];

describe("the paper's listings (test/fixtures/paper-pf, paper-vm.conf)", () => {
  const files = readdirSync(PAPER_PF).filter((f) => f.endsWith(".conf"));

  it("are all there", () => {
    expect(files.sort()).toEqual(LISTINGS.map((l) => l.file).sort());
  });

  it.each(files)("%s passes the pf.conf checker", (f) => {
    expect(checkPfConf(paperPf(f))).toEqual({ ok: true, errors: [] });
  });

  it("paper-vm.conf passes the vm.conf checker and reads as the paper's template and instances", () => {
    const { conf, errors } = parseVmConf(PAPER_VM_CONF);
    expect(errors).toEqual([]);
    expect(conf.vms.map((v) => [v.name, v.instanceOf ?? null, v.memory ?? null, v.disks[0]?.path])).toEqual([
      ["web", null, "2G", "/home/vmm/web.qcow2"],
      ["xmpp", "web", null, "/home/vmm/xmpp.qcow2"],
      ["jicofo", "web", "4G", "/home/vmm/jicofo.qcow2"],
      ["jvb", "web", "4G", "/home/vmm/jvb.qcow2"],
    ]);
  });

  it("as printed (rules wrapped by the two-column layout, no backslash) are refused at the wrapped line", () => {
    const printed = paperPf("web.conf").replace(/\\\n/g, "\n");
    expect(checkPfConf(printed).errors).toEqual([
      { line: 3, message: "unknown keyword 'to' (expected pass, block, match, set or a macro)" },
      { line: 6, message: "unknown keyword 'to' (expected pass, block, match, set or a macro)" },
    ]);
  });

  it("the paper's unquoted list macro `vms={ ... }` is refused at its line", () => {
    const verbatim = paperPf("vmm.conf").replace(
      'vms = "{ web xmpp jicofo jvb }"',
      "vms={ web xmpp jicofo jvb }",
    );
    const line = verbatim.split("\n").findIndex((l) => l.startsWith("vms={")) + 1;
    const { errors } = checkPfConf(verbatim);
    expect(errors[0]?.line).toBe(line);
    expect(errors[0]?.message).toMatch(/quote a list value/);
  });
});

describe("broken variants of the paper's listings are refused with the line number", () => {
  // Each variant edits one line of a fixture; the error must point at that line.
  const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

  it.each([
    [
      "missing brace",
      "vmm.conf",
      "port { 80 443 } rdr-to web",
      "port { 80 443 rdr-to web",
      /'\{' is not closed/,
    ],
    [
      "unknown keyword",
      "web.conf",
      "pass out quick on egress proto tcp",
      "pass out quik on egress proto tcp",
      /unknown keyword 'quik'/,
    ],
    [
      "undefined macro",
      "jvb.conf",
      "from $monitor to self",
      "from $monitors to self",
      /macro 'monitors' not defined/,
    ],
    ["bad port", "jicofo.conf", "udp to self port 10000", "udp to self port 100000", /bad port 100000/],
    ["bad named port", "vmm.conf", "port domain", "port domian", /bad port 'domian'/],
  ])("pf.conf: %s", (_what, file, from, to, message) => {
    const text = paperPf(file);
    expect(text).toContain(from);
    const broken = text.replace(from, to);
    const { ok, errors } = checkPfConf(broken);
    expect(ok).toBe(false);
    expect(errors[0]!.message).toMatch(message);
    expect(errors[0]!.line).toBe(lineOf(broken, to));
  });

  it("pf.conf: a macro used before its definition", () => {
    const text = paperPf("vm-common.conf");
    const moved = text.replace(/^admin = .*\n/m, "") + 'admin = "{ 192.0.2.0/24 }"\n';
    const { errors } = checkPfConf(moved);
    expect(errors).toEqual([
      { line: lineOf(moved, "from $admin"), message: expect.stringMatching(/macro 'admin' not defined/) },
    ]);
  });

  it.each([
    [
      "missing brace",
      'disk "/home/vmm/xmpp.qcow2" format qcow2\n\n}\n',
      'disk "/home/vmm/xmpp.qcow2" format qcow2\n\n',
      'vm "web" instance "xmpp" {',
      /'\}' missing/,
    ],
    ["unknown keyword", "memory 2G", "memroy 2G", "memroy 2G", /unknown keyword 'memroy'/],
    [
      "bad size",
      'memory 4G\ndisk "/home/vmm/jicofo',
      'memory 4Q\ndisk "/home/vmm/jicofo',
      "memory 4Q",
      /bad memory size '4Q'/,
    ],
    ["bad format", 'jvb.qcow2" format qcow2', 'jvb.qcow2" format qcow3', "qcow3", /qcow2 or raw/],
  ])("vm.conf: %s", (_what, from, to, at, message) => {
    expect(PAPER_VM_CONF).toContain(from);
    const broken = PAPER_VM_CONF.replace(from, to);
    const { ok, errors } = checkVmConf(broken);
    expect(ok).toBe(false);
    expect(errors[0]!.message).toMatch(message);
    expect(errors[0]!.line).toBe(lineOf(broken, at));
  });
});

describe("rendering the paper's topology reproduces the paper's rules", () => {
  it.each(LISTINGS)(
    "$file: every rule is rendered, except the deliberate differences",
    ({ file, vm, roles }) => {
      const input = paperInput();
      const paper = keys(paperPf(file), vm);
      const deliberate = DELIBERATE.filter((d) => d.file === file);
      for (const d of deliberate) expect(paper, `stale DELIBERATE entry: ${d.paper}`).toContain(d.paper);
      for (const role of roles) {
        const rendered = renderedKeys(input, role, vm);
        for (const rule of paper) {
          const d = deliberate.find((x) => x.paper === rule);
          if (d) {
            expect(rendered, d.reason).not.toContain(rule);
            if (d.rendered) expect(rendered, d.reason).toContain(d.rendered);
          } else expect(rendered, `${role}: the paper's "${rule}"`).toContain(rule);
        }
      }
    },
  );

  it.each(ADDED)("$role adds: $rule", ({ role, rule, reason }) => {
    expect(renderedKeys(paperInput(), role, role !== "host"), reason).toContain(rule);
  });

  it("vm.conf equals the paper's vm.conf by value", () => {
    const strip = (text: string) => parseVmConf(text).conf.vms.map(({ line: _line, ...vm }) => vm);
    const rendered = content(renderHost(paperInput()).files, "/etc/vm.conf");
    expect(checkVmConf(rendered).ok).toBe(true);
    expect(strip(rendered)).toEqual(strip(PAPER_VM_CONF));
  });

  it("/etc/hosts on every VM and on the host holds the paper's list", () => {
    const input = paperInput();
    const all = [
      renderHost(input).files,
      ...input.spec.nodes.map((n) => renderSystem(input, n, []).files),
    ].map((files) => content(files, "/etc/hosts").split("\n"));
    for (const lines of all) for (const l of PAPER_HOSTS) expect(lines).toContain(l);
    expect(input.spec.nodes.map((n) => content(renderSystem(input, n, []).files, "/etc/myname"))).toEqual([
      "web\n",
      "xmpp\n",
      "jicofo\n",
      "jvb\n",
    ]);
  });

  it("syslog.conf carries the paper's jicofo and jvb blocks", () => {
    const input = paperInput();
    for (const role of ["jicofo", "jvb"]) {
      const node = input.spec.nodes.find((n) => n.role === role)!;
      const text = content(renderSystem(input, node, LOGS[role]!).files, "/etc/syslog.conf");
      // The paper: "!jicofo" then "*.* /var/log/jicofo" (whitespace is free in syslog.conf).
      expect(text).toMatch(new RegExp(`^!${role}\\n\\*\\.\\*\\s+/var/log/${role}\\n$`, "m"));
    }
  });
});

describe("a deployment with three bridges", () => {
  const input = fakeInput("paper-7648.yaml", (raw) => {
    (raw.nodes as Raw[]).push(
      { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 } },
      { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002 } },
    );
  });
  const host = renderHost(input);
  const hostRules = parsePfConf(content(host.files, "/etc/pf.conf")).conf.rules;

  it("forwards one UDP port per bridge, each to its bridge", () => {
    const rdr = hostRules.filter((r) => r.rdrTo && r.proto.join() === "udp");
    expect(rdr.map((r) => [r.to.ports.map((p) => p.port), r.rdrTo!.hosts.map((h) => h.addr)])).toEqual([
      [[10000], ["100.64.4.3"]],
      [[10001], ["100.64.5.3"]],
      [[10002], ["100.64.6.3"]],
    ]);
    const nat = hostRules.filter((r) => r.natTo?.options.includes("static-port"));
    expect(nat.map((r) => [r.from.hosts[0]!.addr, r.from.ports[0]!.port])).toEqual([
      ["100.64.4.3", 10000],
      ["100.64.5.3", 10001],
      ["100.64.6.3", 10002],
    ]);
  });

  it("lets every bridge reach prosody, on the host and on the xmpp VM", () => {
    const bridges = "{ 100.64.3.3 100.64.4.3 100.64.5.3 100.64.6.3 }";
    expect(hostRules.map(formatPfRule)).toContain(
      `pass in proto tcp from ${bridges} to 100.64.2.3 port 5222`,
    );
    expect(parsePfConf(renderedVm(input, "xmpp")).conf.rules.map(formatPfRule)).toContain(
      `pass in quick on egress proto tcp from ${bridges} to self port 5222`,
    );
  });

  it("opens on each bridge its own media port only", () => {
    for (const [name, port] of [
      ["jvb", 10000],
      ["jvb2", 10001],
      ["jvb3", 10002],
    ] as const) {
      const node = input.spec.nodes.find((n) => n.name === name)!;
      const rules = parsePfConf(content(renderSystem(input, node, []).files, "/etc/pf.conf")).conf.rules;
      const udpIn = rules.filter((r) => r.direction === "in" && r.proto.join() === "udp");
      expect(udpIn.map((r) => r.to.ports.map((p) => p.port))).toEqual([[port]]);
    }
  });

  it("defines three jvb instances in vm.conf", () => {
    const { conf, errors } = parseVmConf(content(host.files, "/etc/vm.conf"));
    expect(errors).toEqual([]);
    expect(
      conf.vms
        .filter((v) => v.name.startsWith("jvb"))
        .map((v) => [v.name, v.instanceOf, v.memory, v.disks[0]!.path]),
    ).toEqual([
      ["jvb", "web", "4G", "/home/vmm/jvb.qcow2"],
      ["jvb2", "web", "4G", "/home/vmm/jvb2.qcow2"],
      ["jvb3", "web", "4G", "/home/vmm/jvb3.qcow2"],
    ]);
  });
});

describe("every rendered pf.conf and vm.conf passes the checkers", () => {
  const variants: [string, RenderInput][] = [
    ["paper", fakeInput()],
    ["paper with admin, monitor, debug BOSH and colibri", paperInput(colibri)],
    [
      "three bridges, TURN, a disabled template, another prefix, egress em0",
      fakeInput("paper-7648.yaml", (raw) => {
        raw.host = {
          name: "hyper",
          egress: "em0",
          vmNetwork: "100.64.0.0/16",
          imageDir: "/vm/",
          resolver: "100.64.0.1",
        };
        raw.turn = { enabled: true };
        const nodes = raw.nodes as Raw[];
        nodes[0]!.vm = { enable: false, memory: "3G" };
        nodes.push(
          { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001 }, vm: { memory: "8G" } },
          { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002 } },
          { name: "turn", role: "turn", address: "100.64.7.3" },
        );
      }),
    ],
  ];

  it.each(variants)("%s", (_name, input) => {
    const host = renderHost(input, { coordinatorPort: 8765 });
    expect(checkPfConf(content(host.files, "/etc/pf.conf"))).toEqual({ ok: true, errors: [] });
    expect(checkVmConf(content(host.files, "/etc/vm.conf"))).toEqual({ ok: true, errors: [] });
    for (const node of input.spec.nodes) {
      for (const options of [{}, { coordinatorPort: 8765 }]) {
        const text = content(renderSystem(input, node, LOGS[node.role] ?? [], options).files, "/etc/pf.conf");
        expect(checkPfConf(text), `${node.name}`).toEqual({ ok: true, errors: [] });
      }
    }
  });
});

describe("determinism", () => {
  it("the same spec gives the same bytes, from separately parsed inputs", () => {
    const render = () => {
      const input = paperInput(colibri);
      return JSON.stringify([
        renderHost(input),
        ...input.spec.nodes.map((n) => renderSystem(input, n, LOGS[n.role] ?? [])),
      ]);
    };
    const a = render();
    expect(render()).toBe(a);
    expect(a).not.toMatch(/undefined|NaN|\[object/);
  });
});
