// checkHocon: jicofo.conf / jvb.conf through the real Typesafe Config parser (HoconCheck.java beside this
// file, run by java's single-file source launcher). A JVM start costs ~0.7 s, so checkHoconMany checks any
// number of files in one run; checkHocon is the one-file form.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type CheckResult, joinOutput, requireTool, runProgram, withTempDir } from "./run.js";

export const TYPESAFE_CONFIG_JAR = "/usr/share/java/typesafe-config.jar";
const HOCON_CHECK = path.join(path.dirname(fileURLToPath(import.meta.url)), "HoconCheck.java");

export interface HoconOptions {
  /** Paths that must be present after resolution (e.g. jvb's five MUC keys, docs/jitsi-config-notes.md section 6). */
  require?: string[];
  /** Paths whose resolved values are returned in `got`. */
  get?: string[];
  /** reference.conf texts the file is layered over (like ConfigFactory.load), first wins. */
  references?: string[];
}

export interface HoconResult extends CheckResult {
  /** 0 ok, 2 parse/resolve error, 3 a required path is missing. */
  code: number;
  /** The parser's message on a parse/resolve error (file name, line, reason). */
  error?: string;
  /** Required paths that are absent. */
  missing: string[];
  /** Resolved values of the `get` paths that are present. */
  got: Record<string, unknown>;
  /** The whole resolved config as a plain object (absent on a parse/resolve error). */
  values?: Record<string, unknown>;
}

interface JavaLine {
  index: number;
  code: number;
  error?: string;
  missing: string[];
  got: Record<string, unknown>;
  values?: Record<string, unknown>;
}

/** Check several HOCON texts with one JVM start; results are in the order given. */
export async function checkHoconMany(
  items: { text: string; options?: HoconOptions }[],
): Promise<HoconResult[]> {
  const java = requireTool("java");
  requireTool(TYPESAFE_CONFIG_JAR);
  if (items.length === 0) return [];
  return withTempDir("hocon", async (dir) => {
    const manifest: { file: string; references: string[]; require: string[]; get: string[] }[] = [];
    for (const [i, item] of items.entries()) {
      const file = path.join(dir, `item${i}.conf`);
      await writeFile(file, item.text);
      const references: string[] = [];
      for (const [j, ref] of (item.options?.references ?? []).entries()) {
        const refFile = path.join(dir, `item${i}-reference${j}.conf`);
        await writeFile(refFile, ref);
        references.push(refFile);
      }
      manifest.push({ file, references, require: item.options?.require ?? [], get: item.options?.get ?? [] });
    }
    const manifestFile = path.join(dir, "manifest.json");
    await writeFile(manifestFile, JSON.stringify({ items: manifest }));
    const r = await runProgram(java, ["-cp", TYPESAFE_CONFIG_JAR, HOCON_CHECK, "--batch", manifestFile], {
      cwd: dir,
      timeoutMs: 60_000,
    });
    const lines = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as JavaLine);
    if (lines.length !== items.length) {
      throw new Error(`HoconCheck.java answered ${lines.length} of ${items.length} items: ${joinOutput(r)}`);
    }
    return lines.map((l) => {
      // The parser's message names the temp file (itemN.conf) and the line in the checked text.
      const output =
        l.error ?? (l.missing.length > 0 ? l.missing.map((m) => `MISSING ${m}`).join("\n") : "ok");
      return {
        ok: l.code === 0,
        output,
        code: l.code,
        ...(l.error !== undefined ? { error: l.error } : {}),
        missing: l.missing,
        got: l.got,
        ...(l.values !== undefined ? { values: l.values } : {}),
      };
    });
  });
}

/** Parse (ConfigSyntax.CONF), layer, resolve and check one HOCON text. */
export async function checkHocon(text: string, options: HoconOptions = {}): Promise<HoconResult> {
  const [r] = await checkHoconMany([{ text, options }]);
  return r!;
}
