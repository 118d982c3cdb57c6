// The spec refuses every value that could inject into a rendered file. Renderers interpolate spec strings
// into Lua (prosody.cfg.lua), HOCON (jicofo.conf, jvb.conf), nginx.conf, pf.conf, vm.conf and ksh
// (jicofo.in.sh, jvb.in.sh, rc.conf.local flags), so each string field of a spec that uses every option is
// replaced in turn by attempts at each of those languages, and the spec must be refused with a clear
// `path: message` naming exactly that field.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseSpecText, runCli } from "@vmmeet/coordinator";
import { SpecSchema } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { fixturesDir } from "./fixtures/material.js";

/** Injection attempts per target language; each is tried as a suffix of the valid value and as the whole value. */
const PAYLOADS: Record<string, string[]> = {
  lua: ['"; os.execute("id") --', "]] .. os.execute('id') .. [[", "x\nmodules_enabled = { 'admin_telnet' }"],
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a HOCON substitution, meant literally
  hocon: ['" }\njicofo { xmpp { client { password = x } } }\n#', "${?HOME}", "a = b"],
  nginx: ["; }\nserver { listen 81; root /; }\n#", "$host", "a;b"],
  pf: ['"\npass in quick all\n', "{ any }", "x\tport 22"],
  shell: ["$(id)", "`id`", "; rm -rf /", "' ; id ; '", "a|b", "a&&b"],
  quoting: ['"', "'", "\\", "\r", " x", "#"],
};

type Leaf = { path: (string | number)[]; value: string };

function stringLeaves(v: unknown, at: (string | number)[] = []): Leaf[] {
  if (typeof v === "string") return [{ path: at, value: v }];
  if (Array.isArray(v)) return v.flatMap((x, i) => stringLeaves(x, [...at, i]));
  if (v && typeof v === "object") return Object.entries(v).flatMap(([k, x]) => stringLeaves(x, [...at, k]));
  return [];
}

function setIn(obj: unknown, p: (string | number)[], value: string): void {
  let o = obj as Record<string | number, unknown>;
  for (const k of p.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[p.at(-1) as string | number] = value;
}

const fmt = (p: (string | number)[]) =>
  p.reduce<string>((s, k) => (typeof k === "number" ? `${s}[${k}]` : s ? `${s}.${k}` : k), "");

/** The paper's spec with every optional string field set, in both TLS variants. */
async function fullSpecs(): Promise<Record<string, unknown>[]> {
  const base = parse(await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8")) as Record<
    string,
    unknown
  >;
  const full = {
    ...base,
    jitsi: { release: 9646, prosody: "0.12" },
    host: {
      name: "vmm",
      egress: "em0",
      resolver: "100.64.0.1",
      vmNetwork: "100.64.0.0/10",
      adminNetworks: ["192.0.2.0/24"],
      monitorNetworks: ["198.51.100.0/24"],
      imageDir: "/home/vmm",
    },
    nodes: [
      { name: "web", role: "web", address: "100.64.1.3", vm: { memory: "2G", disk: "5G" } },
      { name: "xmpp", role: "xmpp", address: "100.64.2.3" },
      { name: "jicofo", role: "jicofo", address: "100.64.3.3", jicofo: { maxMemory: "3G" } },
      { name: "jvb", role: "jvb", address: "100.64.4.3", jvb: { nickname: "jvb-1", maxMemory: "3G" } },
      { name: "turn", role: "turn", address: "100.64.5.3" },
    ],
    turn: { enabled: true },
    bridgeChannel: "colibri-websocket",
    auth: { mode: "internal", guests: true },
    web: { stunServers: ["stun:stun.example.org:3478"] },
    brewery: "JvbBrewery",
    operations: { heal: { schedule: "*/5 * * * *" } },
  };
  const acme = {
    ...full,
    tls: {
      mode: "acme",
      contact: "mailto:ops@example.org",
      authority: "letsencrypt",
      certificate: "/etc/ssl/jts.fullchain.pem",
      key: "/etc/ssl/private/jts.key",
    },
  };
  const files = {
    ...full,
    tls: { mode: "files", certificate: "/etc/ssl/a.pem", key: "/etc/ssl/private/a.key" },
  };
  return [acme, files];
}

describe("spec injection", () => {
  it("the base specs are valid, so every refusal below is the payload's doing", async () => {
    for (const s of await fullSpecs()) {
      const res = parseSpecText(stringify(s), "full.yaml");
      expect(res.ok, res.ok ? "" : JSON.stringify(res.problems)).toBe(true);
    }
  });

  it("refuses Lua, HOCON, nginx, pf and shell injection in every string field, naming the field", async () => {
    const tried = new Set<string>();
    let attempts = 0;
    const [acme, files] = await fullSpecs();
    // The second spec differs only in its tls section.
    const cases = [
      ...stringLeaves(acme).map((leaf) => ({ spec: acme!, leaf })),
      ...stringLeaves(files)
        .filter((l) => l.path[0] === "tls")
        .map((leaf) => ({ spec: files!, leaf })),
    ];
    for (const { spec, leaf } of cases) {
      tried.add(fmt(leaf.path));
      for (const [lang, payloads] of Object.entries(PAYLOADS)) {
        for (const payload of payloads) {
          for (const value of [`${leaf.value}${payload}`, payload]) {
            const doc = structuredClone(spec);
            setIn(doc, leaf.path, value);
            // The schema itself (what parseSpecText applies after YAML): fast enough for thousands of cases.
            const parsed = SpecSchema.safeParse(doc);
            const res = parsed.success
              ? { ok: true as const, spec: parsed.data }
              : {
                  ok: false as const,
                  problems: parsed.error.issues.map((i) => ({
                    path: fmt(i.path as (string | number)[]),
                    message: i.message,
                  })),
                };
            attempts++;
            const where = `${fmt(leaf.path)} = ${JSON.stringify(value)} (${lang})`;
            if (res.ok) {
              // Accepted only when the schema normalised the attempt away (domain names are trimmed):
              // what would be rendered is then exactly the valid value.
              let got: unknown = res.spec;
              for (const k of leaf.path) got = (got as Record<string | number, unknown>)[k];
              expect(got, `accepted ${where}`).toBe(leaf.value);
              expect(payload.trim(), `accepted ${where}`).toBe("");
              continue;
            }
            // tls.mode is the discriminator of the tls union: zod reports the union itself.
            const expected = fmt(leaf.path) === "tls.mode" ? ["tls.mode", "tls"] : [fmt(leaf.path)];
            const hit = res.problems.find((p) => expected.includes(p.path));
            expect(
              hit,
              `no problem at ${expected.join(" or ")} for ${where}: ${JSON.stringify(res.problems)}`,
            ).toBeDefined();
            // A clear message: it says what is allowed, and it does not echo the attack back.
            expect(hit!.message.length).toBeGreaterThan(10);
            if (payload.length > 2) expect(hit!.message).not.toContain(payload);
          }
        }
      }
    }
    // Every string field of the schema was among them (the list is what a spec can hold today).
    for (const field of [
      "domain",
      "publicAddress",
      "jitsi.prosody",
      "host.name",
      "host.egress",
      "host.resolver",
      "host.vmNetwork",
      "host.adminNetworks[0]",
      "host.monitorNetworks[0]",
      "host.imageDir",
      "nodes[0].name",
      "nodes[0].role",
      "nodes[0].address",
      "nodes[0].vm.memory",
      "nodes[0].vm.disk",
      "nodes[2].jicofo.maxMemory",
      "nodes[3].jvb.nickname",
      "nodes[3].jvb.maxMemory",
      "tls.mode",
      "tls.contact",
      "tls.authority",
      "tls.certificate",
      "tls.key",
      "bridgeChannel",
      "auth.mode",
      "web.stunServers[0]",
      "brewery",
      "operations.heal.schedule",
    ])
      expect(tried.has(field), field).toBe(true);
    expect(attempts).toBeGreaterThan(1000);
  });

  it("vmmeet validate prints the field and the rule, and exits 1", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-sec-spec-"));
    try {
      const [spec] = await fullSpecs();
      const doc = structuredClone(spec!);
      setIn(doc, ["domain"], 'jts.fips.de"; os.execute("id") --');
      setIn(doc, ["nodes", 3, "jvb", "nickname"], "jvb\n}\nvideobridge { }");
      await writeFile(path.join(dir, "vmmeet.yaml"), stringify(doc));
      let err = "";
      const code = await runCli(["validate"], {
        out: () => {},
        err: (s: string) => (err += s),
        cwd: dir,
        env: {},
      });
      expect(code).toBe(1);
      expect(err).toMatch(/^domain: must be a lower-case DNS name .*no spaces, quotes or newlines/m);
      expect(err).toMatch(/^nodes\[3\]\.jvb\.nickname: must be letters, digits, '_' or '-'/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
