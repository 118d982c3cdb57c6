// checkKsh / shellEnv: OpenBSD's /bin/ksh scripts (rc.d scripts, the ports' jicofo.in.sh / jvb.in.sh that
// /usr/local/bin/jicofo and /usr/local/bin/jvb source). Debian has no OpenBSD ksh; mksh (MirBSD ksh) is
// of the same pdksh lineage, so `mksh -n` is the closest real syntax check (docs/jitsi-config-notes.md section 5, 11).
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { envLineNames } from "../../packages/coordinator/src/render/grammar/shellenv.js";
import { type CheckResult, joinOutput, requireTool, runProgram, withTempDir } from "./run.js";

export { envLineNames };

export interface KshOptions {
  /** File name used in messages (default "script.sh"), e.g. "jicofo.in.sh" or "vmmeet_agent". */
  name?: string;
}

export interface KshResult extends CheckResult {
  code: number | null;
}

/** `mksh -n`: parse a ksh script without running it. */
export async function checkKsh(text: string, opts: KshOptions = {}): Promise<KshResult> {
  const mksh = requireTool("mksh");
  return withTempDir("ksh", async (dir) => {
    const file = path.join(dir, safeName(opts.name ?? "script.sh"));
    await writeFile(file, text);
    const r = await runProgram(mksh, ["-n", file], { cwd: dir, env: {} });
    return { ok: r.code === 0, output: joinOutput(r).trim(), code: r.code };
  });
}

function safeName(name: string): string {
  return path.basename(name).replace(/[^A-Za-z0-9._-]/g, "_") || "script.sh";
}

/** A line of an env file that is not a blank, a comment or plain assignments. */
export interface RefusedLine {
  line: number;
  text: string;
  reason: string;
}

export interface ShellEnvResult extends CheckResult {
  /** Variables the file sets, as mksh sees them after sourcing it with an empty environment. */
  vars: Record<string, string>;
  /** Lines that are not blank/comment/assignment: when non-empty the file was not sourced. */
  refused: RefusedLine[];
}

/**
 * Syntax-check a `*.in.sh` env file with `mksh -n`, then source it with `env -i mksh -c '. FILE; ...'` and
 * return the variables it sets. Refuses (ok=false, nothing run) a file with anything but assignments,
 * comments and blank lines: sourcing the file would run anything else.
 */
export async function shellEnv(text: string, opts: KshOptions = {}): Promise<ShellEnvResult> {
  const mksh = requireTool("mksh");
  const env = requireTool("env");
  const syntax = await checkKsh(text, opts);
  if (!syntax.ok) return { ok: false, output: syntax.output, vars: {}, refused: [] };
  const names: string[] = [];
  const refused: RefusedLine[] = [];
  text.split("\n").forEach((l, n) => {
    const r = envLineNames(l);
    if ("reason" in r) refused.push({ line: n + 1, text: l, reason: r.reason });
    else for (const name of r.names) if (!names.includes(name)) names.push(name);
  });
  if (refused.length > 0) {
    const output = refused.map((r) => `refused line ${r.line} (${r.reason}): ${r.text}`).join("\n");
    return { ok: false, output, vars: {}, refused };
  }
  return withTempDir("shenv", async (dir) => {
    const file = path.join(dir, safeName(opts.name ?? "env.in.sh"));
    await writeFile(file, text);
    // Names are identifiers (checked above), so they can be spliced into the script; each is printed as
    // NAME \0 (set|"") \0 VALUE \0 so values may hold any character.
    const print = names.map((n) => `printf '%s\\0%s\\0%s\\0' ${n} "\${${n}+set}" "\${${n}-}"`).join("; ");
    const r = await runProgram(env, ["-i", mksh, "-c", `. "$1"; ${print}`, "mksh", file], { cwd: dir });
    if (r.code !== 0) return { ok: false, output: joinOutput(r).trim(), vars: {}, refused };
    const parts = r.stdout.split("\0");
    const vars: Record<string, string> = {};
    for (let i = 0; i + 2 < parts.length; i += 3) {
      if (parts[i + 1] === "set") vars[parts[i]!] = parts[i + 2]!;
    }
    const output = Object.entries(vars)
      .map(([k, v]) => `${k}=[${v}]`)
      .join("\n");
    return { ok: true, output, vars, refused };
  });
}
