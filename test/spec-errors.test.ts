// A table of bad specs and the exact problems `vmmeet validate` reports for them: every problem at once,
// each as `path: message (file:line)`, exit status 1.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseSpecText, runCli } from "@vmmeet/coordinator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir } from "./fixtures/material.js";

let paper = "";
let dir = "";
beforeAll(async () => {
  paper = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-spec-errors-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const edit = (from: string | RegExp, to: string) => (s: string) => {
  const out = s.replace(from, to);
  if (out === s) throw new Error(`fixture edit did not apply: ${String(from)}`);
  return out;
};

const cases: { name: string; change: (s: string) => string; problems: string[] }[] = [
  {
    name: "no version",
    change: edit("version: 1\n", ""),
    problems: ["version: is required (this vmmeet reads version 1) (x.yaml:2)"],
  },
  {
    name: "a future version",
    change: edit("version: 1", "version: 7"),
    problems: ["version: 7 is newer than this vmmeet understands (1); upgrade vmmeet (x.yaml:2)"],
  },
  {
    name: "quotes and newline tricks in the domain",
    change: edit("domain: jts.fips.de", 'domain: "jts.fips.de\\"; os.execute(\\"id\\")"'),
    problems: [
      "domain: must be a lower-case DNS name with at least two labels (letters, digits, '-', '.'); no spaces, quotes or newlines (x.yaml:3)",
    ],
  },
  {
    name: "a release not in the table and an unknown prosody",
    change: (s) => edit("release: 7648", "release: 9999")(edit('prosody: "0.12"', 'prosody: "0.9"')(s)),
    problems: [
      "jitsi.release: unknown release 9999: vmmeet renders 7648, 8044, 8319, 9646, 10133, 10184, 10314, 10590, 11031, 11146 (x.yaml:5)",
      'jitsi.prosody: must be one of "0.11", "0.12", "13" (x.yaml:6)',
    ],
  },
  {
    name: "a misspelled key",
    change: edit("publicAddress:", "publicAdress:"),
    problems: [
      "publicAddress: is required (string) (x.yaml:2)",
      '(spec): unknown key "publicAdress" (check the spelling; see the spec reference in README.md) (x.yaml:2)',
    ],
  },
  {
    name: "duplicate names and addresses, an address outside the VM network",
    change: edit(
      "- { name: jvb, role: jvb, address: 100.64.4.3 }",
      "- { name: jicofo, role: jvb, address: 10.0.0.3 }\n  - { name: jvb2, role: jvb, address: 100.64.2.3 }",
    ),
    problems: [
      'nodes[3].name: duplicate node name "jicofo" (also nodes[2]) (x.yaml:18)',
      "nodes[3].address: 10.0.0.3 is outside the VM network 100.64.0.0/10 (host.vmNetwork) (x.yaml:18)",
      "nodes[4].address: duplicate address 100.64.2.3 (also nodes[1]) (x.yaml:19)",
      "nodes[4].jvb.udpPort: UDP port 10000 is also used by nodes[3]; the host forwards one port per bridge (x.yaml:19)",
    ],
  },
  {
    name: "two bridges with one nickname and one UDP port",
    change: edit(
      "- { name: jvb, role: jvb, address: 100.64.4.3 }",
      "- { name: jvb, role: jvb, address: 100.64.4.3 }\n  - { name: jvb2, role: jvb, address: 100.64.5.3, jvb: { nickname: JVB } }",
    ),
    problems: [
      'nodes[4].jvb.nickname: bridge nickname "jvb" is also used by nodes[3]; each jvb needs its own (x.yaml:19)',
      "nodes[4].jvb.udpPort: UDP port 10000 is also used by nodes[3]; the host forwards one port per bridge (x.yaml:19)",
    ],
  },
  {
    name: "no xmpp node, and TURN enabled without a turn node",
    change: (s) =>
      `${edit("  - { name: xmpp, role: xmpp, address: 100.64.2.3 }\n", "")(s)}turn: { enabled: true }\n`,
    problems: [
      "nodes: needs exactly one xmpp node, found none (x.yaml:15)",
      "turn.enabled: TURN is enabled but no node has role turn (x.yaml:18)",
    ],
  },
  {
    name: "a path with '..'",
    change: edit("certificate: /etc/ssl/jitsi-fips.fullchain.pem", "certificate: /etc/ssl/../master.passwd"),
    problems: ["tls.certificate: must not contain '..' (x.yaml:12)"],
  },
  {
    // Found by the mutated-spec run (seed 858793): validate said valid, nginx then could not open the file.
    name: "paths longer than OpenBSD lets a program open",
    change: (s) =>
      edit(
        "certificate: /etc/ssl/jitsi-fips.fullchain.pem",
        `certificate: /etc/ssl/${"A".repeat(256)}.pem`,
      )(edit("key: /etc/ssl/private/jitsi-fips.key", `key: /etc/ssl${"/k".repeat(510)}.key`)(s)),
    problems: [
      "tls.certificate: has a component longer than 255 bytes (OpenBSD's NAME_MAX) (x.yaml:12)",
      "tls.key: is longer than 1023 bytes (OpenBSD's PATH_MAX) (x.yaml:13)",
    ],
  },
  {
    name: "a public address inside the VM network and a bad memory size",
    change: (s) =>
      edit(
        "publicAddress: 87.253.170.146",
        "publicAddress: 100.64.9.9",
      )(
        edit(
          "{ name: web, role: web, address: 100.64.1.3 }",
          "{ name: web, role: web, address: 100.64.1.3, vm: { memory: 2GB } }",
        )(s),
      ),
    problems: [
      "nodes[0].vm.memory: must be a size like 512M, 2G or 20G (x.yaml:15)",
      "publicAddress: 100.64.9.9 is inside the VM network 100.64.0.0/10; it must be the host's public address (x.yaml:7)",
    ],
  },
  {
    name: "jvb options on a non-jvb node, anonymous site without guests",
    change: (s) =>
      `${edit("{ name: web, role: web, address: 100.64.1.3 }", "{ name: web, role: web, address: 100.64.1.3, jvb: { udpPort: 10001 } }")(s)}auth: { mode: anonymous, guests: false }\n`,
    problems: [
      "nodes[0].jvb: only a jvb node takes jvb options (this node is web) (x.yaml:15)",
      "auth.guests: guests: false needs auth.mode: internal (an anonymous site has only guests) (x.yaml:19)",
    ],
  },
  {
    name: "the newest release on the ports' JDK 11",
    change: edit("release: 7648", "release: 11146"),
    problems: [
      "jitsi.java: jicofo of release 11146 needs Java 17 or 21 (Java 17 bytecode from 11031: jitsi/jicofo a09594418, jitsi/jitsi-videobridge 5bf62d636); the VMs have 11: install that JDK and set jitsi.java (x.yaml:5)",
    ],
  },
  {
    name: "a per-component release with an unknown plugins release and an unknown component",
    change: edit("release: 7648", "release: { jicofo: 9646, jvb: 9646, web: 10133, plugins: 8529, meet: 1 }"),
    problems: [
      "jitsi.release.plugins: unknown release 8529: vmmeet renders 7648, 8044, 8319, 9646, 10133, 10184, 10314, 10590, 11031, 11146 (x.yaml:5)",
      'jitsi.release: unknown key "meet" (check the spelling; see the spec reference in README.md) (x.yaml:5)',
    ],
  },
  {
    name: "an alias whose anchor is not set",
    change: edit("domain: jts.fips.de", "domain: *jts"),
    problems: ["(spec): YAML: Unresolved alias (the anchor must be set before the alias): jts (x.yaml:3)"],
  },
  {
    name: "not YAML",
    change: () => "nodes: [\n",
    problems: [
      "(spec): YAML: Flow sequence in block collection must be sufficiently indented and end with a ] (x.yaml:2)",
    ],
  },
];

describe("bad specs and the exact problems reported", () => {
  it.each(cases)("$name", ({ change, problems }) => {
    const res = parseSpecText(change(paper), "x.yaml");
    expect(res.ok).toBe(false);
    if (res.ok) return;
    const lines = res.problems.map(
      (p: { path: string; message: string; line?: number; file: string }) =>
        `${p.path === "" ? "(spec)" : p.path}: ${p.message}${p.line !== undefined ? ` (${p.file}:${p.line})` : ""}`,
    );
    expect(lines).toEqual(problems);
  });

  it("vmmeet validate prints every problem at once and exits 1", async () => {
    const file = path.join(dir, "vmmeet.yaml");
    await writeFile(file, cases[5]!.change(paper));
    const err: string[] = [];
    const code = await runCli(["validate", file], {
      out: () => {},
      err: (s: string) => err.push(s),
      cwd: dir,
      env: {},
    });
    expect(code).toBe(1);
    const text = err.join("");
    expect(text).toContain(`nodes[3].name: duplicate node name "jicofo" (also nodes[2]) (${file}:18)`);
    expect(text).toContain(`nodes[4].address: duplicate address 100.64.2.3 (also nodes[1]) (${file}:19)`);
    expect(text).toContain(`${file}: 4 problems`);
  });

  it("unusual pairings are warnings (path: warning: ...), and validate still exits 0", async () => {
    const warnings = (text: string) => {
      const res = parseSpecText(text, "x.yaml");
      if (!res.ok) throw new Error(JSON.stringify(res.problems));
      return res.warnings.filter((w) => w.path.startsWith("jitsi")).map((w) => `${w.path}: ${w.message}`);
    };
    const release = (r: string) => edit("release: 7648", `release: ${r}`)(paper);
    // prosody 13 with 9646: docker-jitsi-meet ran 9646 with 0.12 only.
    expect(warnings(edit('prosody: "0.12"', 'prosody: "13"')(release("9646")))).toEqual([
      "jitsi.prosody: prosody 13 with the prosody plugins of release 9646 is an untested pairing: that release is known to work with prosody 0.12; prosody 13 with releases 10133, 10184, 10314, 10590, 11031, 11146",
    ]);
    // Java 21 with 9646 (built for 11 or 17), and jicofo and jvb of different releases.
    expect(
      warnings(
        `${release("{ jicofo: 9646, jvb: 10133, web: 10133, plugins: 10133 }")}`.replace(
          'prosody: "0.12"',
          'prosody: "0.12"\n  java: 21',
        ),
      ),
    ).toEqual([
      "jitsi.java: jicofo of release 9646 was built for Java 11 or 17, not 21",
      "jitsi.release.jvb: jicofo 9646 with jvb 10133: jicofo and the bridges of one release are what upstream tests together",
    ]);
    // The ports tree's mixed set with its prosody 0.12: nothing to say.
    expect(warnings(release("{ jicofo: 9646, jvb: 9646, web: 10133, plugins: 10133 }"))).toEqual([]);

    const file = path.join(dir, "pairing.yaml");
    await writeFile(file, edit('prosody: "0.12"', 'prosody: "13"')(release("9646")));
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["validate", file], {
      out: (x: string) => out.push(x),
      err: (x: string) => err.push(x),
      cwd: dir,
      env: {},
    });
    expect(code).toBe(0);
    const line = err
      .join("")
      .split("\n")
      .find((l) => l.startsWith("jitsi.prosody: "));
    expect(line).toMatch(/^jitsi\.prosody: warning: prosody 13 with the prosody plugins of release 9646 /);
    expect(line?.endsWith(`(${file}:6)`)).toBe(true);
    expect(out.join("")).toContain("valid (4 VMs, release 9646)");
  });

  it("the fixture itself is valid", () => {
    expect(parseSpecText(paper, "x.yaml").ok).toBe(true);
  });
});
