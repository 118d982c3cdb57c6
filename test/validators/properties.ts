// checkProperties: a sip-communicator.properties read by the plain JDK java.util.Properties.load, as jvb
// reads it (PropsCheck.java beside this file). checkPropertiesMany checks several in one JVM start.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type CheckResult, joinOutput, requireTool, runProgram, withTempDir } from "./run.js";

const PROPS_CHECK = path.join(path.dirname(fileURLToPath(import.meta.url)), "PropsCheck.java");

export interface PropertiesOptions {
  /** Keys that must be present (e.g. org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS). */
  require?: string[];
}

export interface PropertiesResult extends CheckResult {
  /** 0 ok, 2 unreadable/malformed (e.g. a bad \uXXXX escape), 3 a required key is missing, 4 warnings. */
  code: number;
  /** Key -> value exactly as Properties.load returns it (trailing blanks kept). */
  properties: Record<string, string>;
  missing: string[];
  /** Leading/trailing blanks in values, backslash-continued lines. Any warning makes ok false. */
  warnings: string[];
}

interface JavaLine {
  index: number;
  code: number;
  error?: string;
  properties: Record<string, string>;
  missing: string[];
  warnings: string[];
}

/** Check several properties texts with one JVM start; results are in the order given. */
export async function checkPropertiesMany(
  items: { text: string; options?: PropertiesOptions }[],
): Promise<PropertiesResult[]> {
  const java = requireTool("java");
  if (items.length === 0) return [];
  return withTempDir("props", async (dir) => {
    const args: string[] = [PROPS_CHECK];
    for (const [i, item] of items.entries()) {
      const file = path.join(dir, `item${i}.properties`);
      // latin1: Properties.load(InputStream) decodes ISO-8859-1, so write the bytes the file would hold.
      await writeFile(file, item.text, "latin1");
      args.push(file);
      for (const k of item.options?.require ?? []) args.push("--require", k);
    }
    const r = await runProgram(java, args, { cwd: dir, timeoutMs: 60_000 });
    const lines = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as JavaLine);
    if (lines.length !== items.length) {
      throw new Error(`PropsCheck.java answered ${lines.length} of ${items.length} items: ${joinOutput(r)}`);
    }
    return lines.map((l) => ({
      ok: l.code === 0,
      output: [
        ...(l.error !== undefined ? [l.error] : []),
        ...l.missing.map((m) => `MISSING ${m}`),
        ...l.warnings.map((w) => `WARNING ${w}`),
        ...Object.entries(l.properties).map(([k, v]) => `${k}=[${v}]`),
      ].join("\n"),
      code: l.code,
      properties: l.properties,
      missing: l.missing,
      warnings: l.warnings,
    }));
  });
}

/** Load one properties text with java.util.Properties; see PropertiesResult. */
export async function checkProperties(
  text: string,
  options: PropertiesOptions = {},
): Promise<PropertiesResult> {
  const [r] = await checkPropertiesMany([{ text, options }]);
  return r!;
}
