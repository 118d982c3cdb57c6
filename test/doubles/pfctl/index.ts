// Helpers around the pfctl(8) TEST DOUBLE (pfctl.mjs in this folder): a fake root's /sbin/pfctl, and what
// the double recorded as loaded. See README.md for what is emulated.

import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeDoubleWrapper } from "../wrapper.js";

export const PFCTL_DOUBLE_SCRIPT: string = join(dirname(fileURLToPath(import.meta.url)), "pfctl.mjs");

/** Writes ROOT/sbin/pfctl running the double on ROOT; give its path to the agent as --pfctl. */
export function makePfctl(root: string): Promise<string> {
  return writeDoubleWrapper(root, "sbin/pfctl", PFCTL_DOUBLE_SCRIPT);
}

const loadedFile = (root: string) => join(root, "var/db/pfctl-double/loaded.conf");

/** The ruleset the double holds as loaded (the text of the last `pfctl -f`), or null before any load. */
export async function loadedRules(root: string): Promise<string | null> {
  try {
    return await readFile(loadedFile(root), "utf8");
  } catch {
    return null;
  }
}

/** loadedRules, read now: for a network double that must follow the rules the moment pfctl -f returns. */
export function loadedRulesNow(root: string): string | null {
  try {
    return readFileSync(loadedFile(root), "utf8");
  } catch {
    return null;
  }
}

/** Every load and flush in order ("load FILE", "flush rules"), without their timestamps. */
export async function pfctlHistory(root: string): Promise<string[]> {
  try {
    const text = await readFile(join(root, "var/db/pfctl-double/history.log"), "utf8");
    return text
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => l.slice(l.indexOf(" ") + 1));
  } catch {
    return [];
  }
}
