// The coordinator's state directory for a spec, made once per test file: generating the CA and keys takes
// seconds, so each test copies TEMPLATE/state instead.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { loadOrCreateMaterial, parseSpecText } from "@vmmeet/coordinator";

/** A new temporary directory (named by `prefix`) whose state/ holds the material for `specText`. */
export async function materialTemplate(specText: string, prefix: string): Promise<string> {
  const template = await mkdtemp(path.join(os.tmpdir(), prefix));
  const parsed = parseSpecText(specText, "paper.yaml");
  if (!parsed.ok) throw new Error("fixture spec invalid");
  await loadOrCreateMaterial(path.join(template, "state"), parsed.spec);
  return template;
}
