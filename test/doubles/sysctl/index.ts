// Helpers around the sysctl(8) TEST DOUBLE (sysctl.mjs in this folder). See README.md.
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeDoubleWrapper } from "../wrapper.js";

export const SYSCTL_DOUBLE_SCRIPT: string = join(dirname(fileURLToPath(import.meta.url)), "sysctl.mjs");

/** Writes ROOT/sbin/sysctl running the double on ROOT; give its path to the agent as --sysctl. */
export function makeSysctl(root: string): Promise<string> {
  return writeDoubleWrapper(root, "sbin/sysctl", SYSCTL_DOUBLE_SCRIPT);
}

/** The values the double holds now (its defaults before the first set). */
export async function sysctlValues(root: string): Promise<Record<string, string> | null> {
  try {
    return JSON.parse(await readFile(join(root, "var/db/sysctl-double/values.json"), "utf8")) as Record<
      string,
      string
    >;
  } catch {
    return null;
  }
}

/** Every `sysctl NAME=VALUE` the double carried out, in order. */
export async function sysctlHistory(root: string): Promise<string[]> {
  try {
    return (await readFile(join(root, "var/db/sysctl-double/history.log"), "utf8"))
      .split("\n")
      .filter(Boolean);
  } catch {
    return [];
  }
}
