// checkJs: jitsi-meet's config.js is a classic browser script that declares a global `config` (not JSON,
// and not a module: docs/jitsi-config-notes.md section 2). `node --check` gives node's own syntax message with
// file:line and a caret; evaluating it with node:vm as a classic script in an empty context gives the
// `config` object the browser would see.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import vm from "node:vm";
import { type CheckResult, joinOutput, runProgram, withTempDir } from "./run.js";

export interface JsOptions {
  /** Dotted paths that must be defined in `config` (e.g. "hosts.domain", "bosh"). */
  require?: string[];
  /** File name used in messages (default "config.js"). */
  name?: string;
}

export interface JsResult extends CheckResult {
  /** The global `config` after evaluation, as plain JSON data (absent on a syntax/evaluation error). */
  config?: Record<string, unknown>;
  /** Required paths that are undefined. */
  missing: string[];
}

/** Value at a dotted path ("hosts.domain") of a plain object, undefined when any step is missing. */
export function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const key of dotted.split(".")) {
    if (cur === null || (typeof cur !== "object" && typeof cur !== "function")) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Check a rendered config.js: `node --check`, then evaluation as a classic script. */
export async function checkJs(text: string, opts: JsOptions = {}): Promise<JsResult> {
  const name = path.basename(opts.name ?? "config.js");
  return withTempDir("js", async (dir) => {
    // A .js file with no package.json around is parsed as CommonJS by `node --check`, which accepts a
    // top-level `return` a browser would reject; the vm evaluation below catches that case.
    const file = path.join(dir, name.endsWith(".js") ? name : `${name}.js`);
    await writeFile(file, text);
    const r = await runProgram(process.execPath, ["--check", file], { cwd: dir });
    if (r.code !== 0) return { ok: false, output: joinOutput(r).trim(), missing: [] };
    let config: unknown;
    try {
      const context = vm.createContext({});
      new vm.Script(text, { filename: name }).runInContext(context, { timeout: 2000 });
      // Read `config` by name: a top-level `const config` is not a property of the global object.
      config = new vm.Script("typeof config === 'undefined' ? undefined : config").runInContext(context);
    } catch (e) {
      return { ok: false, output: `evaluation failed: ${String(e)}`, missing: [] };
    }
    if (config === null || typeof config !== "object") {
      return { ok: false, output: "no global `config` object after evaluation", missing: [] };
    }
    const missing = (opts.require ?? []).filter((p) => getPath(config, p) === undefined);
    return {
      ok: missing.length === 0,
      output: missing.length > 0 ? missing.map((m) => `MISSING ${m}`).join("\n") : "ok",
      // A plain copy made in this realm: objects from the vm context have the context's prototypes, which
      // strict equality in tests would reject. Functions (none in a rendered config.js) are dropped.
      config: JSON.parse(JSON.stringify(config)) as Record<string, unknown>,
      missing,
    };
  });
}
