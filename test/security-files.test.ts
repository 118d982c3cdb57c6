// Rendered files that hold a secret (a generated password or a private key) are marked secret - so plan,
// status and events never show them - and are written 0600 or 0640 for the account the program runs as
// (prosody as _prosody, jicofo as _jicofo, jvb as _jvb, coturn as _turnserver): readable by that program,
// by nobody else. Secrets never go into service flags (visible in ps and rc.conf.local). What the agent
// then writes on disk is checked in security-secrets.test.ts; the state directories in both e2e tests.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadOrCreateMaterial, parseSpecText, renderDeployment } from "@vmmeet/coordinator";
import type { NodeDesired } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { fixturesDir } from "./fixtures/material.js";

const PROGRAM_ACCOUNT: Record<string, string> = {
  xmpp: "_prosody",
  jicofo: "_jicofo",
  jvb: "_jvb",
  turn: "_turnserver",
};

let dir: string;
let material: Awaited<ReturnType<typeof loadOrCreateMaterial>>;
const specs: Record<string, string> = {};

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-sec-files-"));
  const paper = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  specs.paper = paper;
  const raw = parse(paper) as Record<string, unknown> & { nodes: unknown[]; jitsi: Record<string, unknown> };
  raw.jitsi.release = 9646;
  raw.nodes.push({ name: "turn", role: "turn", address: "100.64.5.3" });
  raw.turn = { enabled: true };
  raw.auth = { mode: "internal" };
  raw.bridgeChannel = "colibri-websocket";
  specs.everything = stringify(raw);
  const parsed = parseSpecText(paper, "paper.yaml");
  if (!parsed.ok) throw new Error("fixture invalid");
  material = await loadOrCreateMaterial(path.join(dir, "state"), parsed.spec);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function render(name: string): Record<string, NodeDesired> {
  const res = parseSpecText(specs[name]!, `${name}.yaml`);
  if (!res.ok) throw new Error(JSON.stringify(res.problems));
  return renderDeployment({ spec: res.spec, secrets: material.secrets, pki: material.pki });
}

describe("rendered secrets", () => {
  for (const name of ["paper", "everything"]) {
    it(`${name}: every file holding a secret is marked secret, 0600/0640, for its program's account`, () => {
      const values = Object.values(material.secrets);
      const nodes = render(name);
      let secretFiles = 0;
      for (const [node, desired] of Object.entries(nodes)) {
        for (const f of desired.files) {
          const text =
            f.encoding === "base64" ? Buffer.from(f.content, "base64").toString("latin1") : f.content;
          const holds = values.some((v) => text.includes(v)) || /PRIVATE KEY-----/.test(text);
          const where = `${node}:${f.path} ${f.mode} ${f.owner}:${f.group}`;
          if (holds) {
            secretFiles++;
            expect(f.secret, `${where} holds a secret but is not marked secret`).toBe(true);
          }
          if (holds || f.secret) {
            expect(["0600", "0640"], where).toContain(f.mode);
            const account = PROGRAM_ACCOUNT[desired.role];
            expect(account, `${where}: a secret on a ${desired.role} node`).toBeDefined();
            if (f.mode === "0640") {
              expect(f.group, where).toBe(account);
              expect(f.owner, where).toBe("root");
            } else {
              expect([account, "root"], where).toContain(f.owner);
            }
          }
        }
        for (const s of desired.services)
          for (const v of values) expect(s.flags ?? "", `${node}: ${s.name} flags`).not.toContain(v);
        // The only setup action that carries a secret is prosody-user's password (redacted by the agent).
        for (const a of desired.actions) {
          const { password: _, ...rest } = a as { password?: string };
          for (const v of values) expect(JSON.stringify(rest), `${node}: ${a.kind}`).not.toContain(v);
        }
      }
      // prosody.cfg.lua (with TURN), auth key, jicofo.conf and .in.sh, jvb.conf and .in.sh (and turnserver.conf).
      expect(secretFiles).toBeGreaterThanOrEqual(name === "paper" ? 5 : 7);
    });
  }
});
