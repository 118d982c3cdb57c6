// checkProsody: `luac5.4 -p` (Lua syntax; `VirtualHost "x"` is an ordinary call) plus the real
// `prosodyctl --config FILE check config` (Debian 12: prosody 0.12.3), as jitsi-configs.md section 3.
// Never `check dns/certs/turn`: those look things up on the network.
import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import { type CheckResult, joinOutput, requireTool, runProgram, withTempDir } from "./run.js";

export interface ProsodyResult extends CheckResult {
  /** luac5.4's exit code (syntax). */
  luacCode: number | null;
  /** prosodyctl's exit code (0 ok, 1 unreadable config, 2 problems found); null when killed. */
  prosodyctlCode: number | null;
  /** Everything both programs printed, before filtering. */
  rawOutput: string;
}

// Notices that say nothing about the config under test (jitsi-configs.md section 3):
//  * the rendered config names OpenBSD's `_prosody` account, which Debian lacks;
//  * prosody indexes a `certs` directory beside the config, which a temp dir does not have;
//  * `--no-install-recommends` leaves out lua-unbound, and prosody prints a banner about its fallback.
const NOTICES: RegExp[] = [
  /^Warning: Couldn't switch to Prosody user\/group .*$/gm,
  /^.*Error indexing certificate directory .*$/gm,
  /\*+\nProsody was unable to find lua-unbound[\s\S]*?\n\*+\n/g,
];

export function filterProsodyNotices(text: string): string {
  let out = text;
  for (const re of NOTICES) out = out.replace(re, "");
  return out.replace(/\n{3,}/g, "\n\n").trim();
}

/** Check a rendered prosody.cfg.lua with luac5.4 -p and prosodyctl check config. */
export async function checkProsody(cfgText: string): Promise<ProsodyResult> {
  const luac = requireTool("luac5.4");
  const prosodyctl = requireTool("prosodyctl");
  return withTempDir("prosody", async (dir) => {
    // prosodyctl, run as root, drops to the `prosody` user when the config names no existing
    // prosody_user (the paper's `_prosody` does not exist on Debian), and then fails with "The config
    // file is not readable by the 'prosody' user" unless the directory and file are world-readable.
    await chmod(dir, 0o755);
    const file = path.join(dir, "prosody.cfg.lua");
    await writeFile(file, cfgText, { mode: 0o644 });
    await chmod(file, 0o644);
    const syntax = await runProgram(luac, ["-p", "-o", "/dev/null", file], { cwd: dir });
    // prosodyctl runs even after a Lua syntax error: its message names the config file the way an operator
    // sees it on the VM ("A problem occurred while reading the config file ...").
    const check = await runProgram(prosodyctl, ["--config", file, "check", "config"], { cwd: dir });
    const raw = [joinOutput(syntax), joinOutput(check)].filter((s) => s.length > 0).join("\n");
    const output = filterProsodyNotices(raw);
    return {
      ok: syntax.code === 0 && check.code === 0 && /All checks passed/.test(output),
      output,
      rawOutput: raw,
      luacCode: syntax.code,
      prosodyctlCode: check.code,
    };
  });
}
