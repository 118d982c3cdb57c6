// Bad input, the spec side: thousands of mutated specs through `vmmeet validate` (the command's own code,
// runCli, in this process: the executable only adds process.exit). Never an exception, never a stack: a spec
// is either valid (exit 0) or refused (exit 1) with one `path: message` line per problem. Every spec that
// validates is rendered, and its rendered files of each kind (nginx.conf, prosody.cfg.lua, jicofo.conf and
// jvb.conf, sip-communicator.properties, the ksh env files, config.js) go through their real parsers, each
// distinct text once, up to a number per kind. (pf.conf, vm.conf and the other OpenBSD files have no parser
// on Linux; the invariants `vmmeet validate` checks cover how they agree with the rest.)
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseSpecText, renderDeployment, runCli } from "@vmmeet/coordinator";
import type { NodeDesired } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { fakePki, fakeSecrets, fixturesDir } from "./fixtures/material.js";
import { mutateObject, mutateText, NASTY_STRINGS, prng, type Rng } from "./helpers/fuzz.js";
import { recordFigure, scale } from "./helpers/reliability.js";
import {
  checkHoconMany,
  checkJs,
  checkNginx,
  checkPropertiesMany,
  checkProsody,
  shellEnv,
} from "./validators/index.js";

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const SPECS = scale(1000, 10_000);
/** Distinct rendered texts per kind of file checked by the real parser. */
const PARSED_PER_KIND = scale(3, 25);
const TIMEOUT_MS = scale(120_000, 1_800_000);

let dir = "";
const bases: string[] = [];
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-specfuzz-"));
  const paper = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  const raw = parse(paper) as Record<string, unknown> & { nodes: unknown[]; jitsi: Record<string, unknown> };
  raw.jitsi.release = 9646;
  raw.nodes.push({ name: "turn", role: "turn", address: "100.64.5.3" });
  raw.turn = { enabled: true };
  raw.auth = { mode: "internal", guests: true };
  raw.bridgeChannel = "colibri-websocket";
  raw.xmppWebsocket = true;
  bases.push(paper, stringify(raw));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Values a field could plausibly hold: the same type, within and beyond its range. */
function plausible(r: Rng, old: unknown): unknown {
  if (typeof old === "boolean") return !old;
  if (typeof old === "number")
    return r.pick([0, 1, -1, 65535, 65536, 7648, 9646, 8044, 8319, old + 1, old * 2, 0.5, 2 ** 31]);
  if (typeof old === "string")
    return r.pick([
      ...NASTY_STRINGS.slice(0, 11),
      `${old}x`,
      old.toUpperCase(),
      "meet.example.org",
      "100.64.9.9",
      "192.0.2.77",
      "10.0.0.0/8",
      "jvb9",
      "a".repeat(64),
      "1G",
      "0.13",
    ]);
  return null;
}

/** A copy of `v` with one random leaf replaced by a plausible value. */
function mutateLeaf(r: Rng, v: unknown): unknown {
  const root = structuredClone(v) as Record<string, unknown>;
  let parent: Record<string | number, unknown> = root;
  let key: string | number | undefined;
  for (let d = 0; d < 6; d++) {
    const keys: (string | number)[] = Array.isArray(parent) ? parent.map((_, i) => i) : Object.keys(parent);
    if (keys.length === 0) break;
    key = r.pick(keys);
    const child = parent[key];
    if (child && typeof child === "object") parent = child as Record<string | number, unknown>;
    else break;
  }
  if (key !== undefined && (typeof parent[key] !== "object" || parent[key] === null))
    parent[key] = plausible(r, parent[key]);
  return root;
}

function mutatedSpec(r: Rng): string | Buffer {
  const base = r.pick(bases);
  const roll = r.next();
  if (roll < 0.35) return mutateText(r, base);
  if (roll < 0.6) return stringify(mutateObject(r, parse(base)));
  // One to three plausible edits: many of these still validate, and their renders are what the parsers see.
  let v: unknown = parse(base);
  for (let i = 0, n = 1 + r.int(3); i < n; i++) v = mutateLeaf(r, v);
  return stringify(v);
}

/** The real parser of a rendered file, by path; null: none on Linux. */
type Kind = "nginx" | "prosody" | "hocon" | "properties" | "ksh" | "js";
function kindOf(p: string): Kind | null {
  if (p.endsWith("/nginx.conf")) return "nginx";
  if (p.endsWith("prosody.cfg.lua")) return "prosody";
  if (p.endsWith("/jicofo.conf") || p.endsWith("/jvb.conf")) return "hocon";
  if (p.endsWith(".properties")) return "properties";
  if (p.endsWith(".in.sh")) return "ksh";
  if (p.endsWith("/config.js")) return "js";
  return null;
}

describe("mutated specs through vmmeet validate", () => {
  it(
    `${SPECS} specs: never an exception, always path: message and exit 1, or valid and parsable (seed ${SEED})`,
    async () => {
      const r = prng(SEED);
      const file = path.join(dir, "vmmeet.yaml");
      const outcomes = { valid: 0, invalid: 0, problems: 0 };
      const toParse = new Map<Kind, Map<string, { text: string; where: string }>>();
      const hashOf = (text: string) => createHash("sha256").update(text).digest("hex");
      const render = (text: string, name: string): Record<string, NodeDesired> => {
        const parsed = parseSpecText(text, "vmmeet.yaml");
        if (!parsed.ok) throw new Error(`${name}: valid for validate, not for parseSpecText`);
        return renderDeployment({ spec: parsed.spec, secrets: fakeSecrets, pki: fakePki });
      };
      // What the unmutated specs render is parsed by the renderer tests: only new texts are worth a parser run.
      const known = new Set(
        bases.flatMap((b) =>
          Object.values(render(b, "base")).flatMap((d) => d.files.map((f) => hashOf(f.content))),
        ),
      );
      const started = performance.now();
      for (let i = 0; i < SPECS; i++) {
        const spec = mutatedSpec(r);
        await writeFile(file, spec);
        let out = "";
        let err = "";
        let code: number;
        try {
          code = await runCli(["validate", file], {
            out: (s) => {
              out += s;
            },
            err: (s) => {
              err += s;
            },
            cwd: dir,
            env: {},
          });
        } catch (e) {
          throw new Error(`spec #${i} (seed ${SEED}) made validate throw: ${(e as Error).stack}`);
        }
        const where = `spec #${i} (seed ${SEED})`;
        expect([0, 1], `${where}: exit ${code}\n${out}${err}`).toContain(code);
        const lines = err.split("\n").filter((l) => l !== "");
        // No stack trace, no "undefined", no [object Object], whatever the input.
        expect(err, where).not.toMatch(/^\s+at |\bundefined\b|\[object Object\]|TypeError|RangeError/m);
        if (code === 1) {
          outcomes.invalid++;
          const [summary, ...rest] = [lines.at(-1) ?? "", ...lines.slice(0, -1)];
          expect(summary, `${where}\n${err}`).toMatch(
            /: \d+ problems?$|: the rendered files break \d+ cross-file invariant\(s\)$/,
          );
          expect(rest.length, `${where}: no problem named\n${err}`).toBeGreaterThan(0);
          for (const l of rest) {
            if (l.startsWith("warning: ")) continue;
            // `path: message (file:line)`, or `invariant: NAME: detail`.
            expect(l, `${where}\n${err}`).toMatch(
              /^(?:\(spec\)|[A-Za-z][\w]*(?:\.[\w]+|\[\d+\])*|invariant): \S/,
            );
            outcomes.problems++;
          }
          continue;
        }
        outcomes.valid++;
        expect(out, where).toMatch(/: valid \(/);
        const nodes = render(spec.toString(), where);
        for (const [node, d] of Object.entries(nodes))
          for (const f of d.files) {
            const kind = kindOf(f.path);
            if (kind === null || f.encoding === "base64") continue;
            const seen = toParse.get(kind) ?? new Map();
            toParse.set(kind, seen);
            const hash = hashOf(f.content);
            if (!known.has(hash) && !seen.has(hash) && seen.size < PARSED_PER_KIND)
              seen.set(hash, { text: f.content, where: `${where} ${node}:${f.path}` });
          }
      }
      const validateMs = performance.now() - started;
      expect(outcomes.valid, "some mutated specs still validate").toBeGreaterThan(0);
      expect(outcomes.invalid).toBeGreaterThan(0);

      // The real parsers, each distinct rendered text once.
      const files = (k: Kind) => [...(toParse.get(k)?.values() ?? [])];
      let parsedCount = 0;
      let unverifiable = 0;
      for (const f of files("nginx")) {
        const res = await checkNginx(f.text);
        // The harness fakes the TLS files nginx opens by mounting over their directories, which it refuses to
        // do over "/" itself (a valid spec may name a key in /KEYS, say): nothing nginx said, not checkable here.
        if (!res.ok && /^checkNginx: refusing to overlay \/ /.test(res.output)) {
          unverifiable++;
          continue;
        }
        expect(res.ok, `${f.where}\n${res.output}`).toBe(true);
        parsedCount++;
      }
      for (const f of files("prosody")) {
        const res = await checkProsody(f.text);
        expect(res.ok, `${f.where}\n${res.output}`).toBe(true);
        parsedCount++;
      }
      const hocon = files("hocon");
      (await checkHoconMany(hocon.map((f) => ({ text: f.text })))).forEach((res, i) => {
        expect(res.ok, `${hocon[i]!.where}\n${res.output}`).toBe(true);
        parsedCount++;
      });
      const props = files("properties");
      (await checkPropertiesMany(props.map((f) => ({ text: f.text })))).forEach((res, i) => {
        expect(res.ok, `${props[i]!.where}\n${res.output}`).toBe(true);
        parsedCount++;
      });
      for (const f of files("ksh")) {
        const res = await shellEnv(f.text);
        expect(res.ok, `${f.where}\n${res.output}`).toBe(true);
        parsedCount++;
      }
      for (const f of files("js")) {
        const res = await checkJs(f.text);
        expect(res.ok, `${f.where}\n${res.output}`).toBe(true);
        parsedCount++;
      }
      expect(parsedCount).toBeGreaterThan(0);

      await recordFigure({
        fault: "mutated specs (vmmeet validate)",
        what: "specs",
        count: SPECS,
        lost: 0,
        details: {
          seed: SEED,
          valid: outcomes.valid,
          invalid: outcomes.invalid,
          problemLines: outcomes.problems,
          renderedFilesParsed: parsedCount,
          nginxNotCheckable: unverifiable,
          perKind: Object.fromEntries([...toParse].map(([k, v]) => [k, v.size])),
          validateMsPerSpec: Math.round((validateMs / SPECS) * 100) / 100,
          lost: "exceptions, lines that are not `path: message`, rendered files their parser refuses (none)",
        },
      });
    },
    TIMEOUT_MS,
  );
});
