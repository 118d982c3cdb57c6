// checkProsody: `luac5.4 -p` (Lua syntax; `VirtualHost "x"` is an ordinary call) plus the real
// `prosodyctl --config FILE check config` (Debian 12: prosody 0.12.3), as docs/jitsi-config-notes.md section 3.
// Never `check dns/certs/turn`: those look things up on the network.
//
// prosodyctl check config does not load modules: a misspelled module, a module of jitsi's plugins, or a
// plugins directory missing from plugin_paths all pass it. So the modules the file names (global and per
// host `modules_enabled`, each Component's module, each `authentication` provider as auth_NAME) are also
// looked up, after Lua 5.4 has evaluated the file: in the local prosody's own module directory (Debian's,
// /usr/lib/prosody/modules), or else among the jitsi plugin modules the caller says the plugins package
// has (default: OpenBSD's jitsi-prosody-plugins 2.0.10133), and then only if the file's plugin_paths
// holds the directory that package installs to. Jitsi's plugins are not packaged for Debian, so they are
// checked against that list, not loaded.
import { existsSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import { PROSODY_PLUGINS } from "@vmmeet/shared";
import { type CheckResult, joinOutput, requireTool, runProgram, withTempDir } from "./run.js";

/** Debian's prosody module directory (package prosody). */
export const LOCAL_PROSODY_MODULES = "/usr/lib/prosody/modules";

export interface ProsodyOptions {
  /** Module names the jitsi plugins package provides (default: OpenBSD's 2.0.10133 package). */
  plugins?: readonly string[];
  /** Where that package installs them (default: net/prosody-plugins' directory). */
  pluginsDir?: string;
}

/** One module the file names, and where it comes from. */
export interface ProsodyModule {
  name: string;
  /** Section that names it: "global", `VirtualHost "x"`, `Component "x"`. */
  section: string;
  from: "prosody" | "jitsi-prosody-plugins" | "missing";
}

export interface ProsodyResult extends CheckResult {
  /** luac5.4's exit code (syntax). */
  luacCode: number | null;
  /** prosodyctl's exit code (0 ok, 1 unreadable config, 2 problems found); null when killed. */
  prosodyctlCode: number | null;
  /** Everything both programs printed, before filtering. */
  rawOutput: string;
  /** The modules the file names (empty when Lua could not evaluate it). */
  modules: ProsodyModule[];
}

// Notices that say nothing about the config under test (docs/jitsi-config-notes.md section 3):
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

// Runs a prosody config in Lua 5.4 the way prosody's config loader reads it: `VirtualHost "x"` and
// `Component "x" "module"` open a section, every global assignment lands in the current section. Prints
// the sections as JSON (tables: arrays when they are sequences, objects otherwise).
export const LUA_DUMP = String.raw`
local sections = {}
local current
local function open(head)
  current = { head = head, options = {} }
  sections[#sections + 1] = current
end
open("global")
local env = setmetatable({}, {
  __index = function(_, k)
    if k == "VirtualHost" then
      return function(name) open('VirtualHost "' .. name .. '"') end
    elseif k == "Component" then
      return function(name)
        open('Component "' .. name .. '"')
        local section = current
        return function(module) section.head = section.head .. ' "' .. module .. '"' end
      end
    end
    return nil
  end,
  __newindex = function(_, k, v) current.options[k] = v end,
})
assert(loadfile(arg[1], "t", env))()

local enc
local function str(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end
function enc(v)
  local t = type(v)
  if t == "string" then return str(v)
  elseif t == "number" then return math.type(v) == "integer" and tostring(v) or string.format("%.17g", v)
  elseif t == "boolean" then return tostring(v)
  elseif t == "table" then
    local n, count = #v, 0
    for _ in pairs(v) do count = count + 1 end
    local parts = {}
    if count == n then
      for i = 1, n do parts[i] = enc(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local value = v[k]
      if value == nil then value = v[tonumber(k)] end
      parts[#parts + 1] = str(k) .. ":" .. enc(value)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return "null"
end
local out = {}
for i, s in ipairs(sections) do out[i] = "{" .. str("head") .. ":" .. str(s.head) .. "," .. str("options") .. ":" .. enc(s.options) .. "}" end
io.write("[" .. table.concat(out, ",") .. "]")
`;

export interface ProsodySection {
  /** "global", `VirtualHost "x"` or `Component "x" "module"`. */
  head: string;
  options: Record<string, unknown>;
}

/** The sections of a prosody config as Lua 5.4 evaluates it (LUA_DUMP). */
export async function prosodySections(text: string): Promise<ProsodySection[]> {
  const lua = requireTool("lua5.4");
  return withTempDir("prosody-parse", async (dir) => {
    const file = path.join(dir, "prosody.cfg.lua");
    await writeFile(file, text);
    const r = await evalSections(lua, file);
    if ("error" in r) throw new Error(`prosodySections: ${r.error}`);
    return r.sections;
  });
}

async function evalSections(
  lua: string,
  file: string,
): Promise<{ sections: ProsodySection[] } | { error: string }> {
  const script = path.join(path.dirname(file), "dump.lua");
  await writeFile(script, LUA_DUMP);
  const r = await runProgram(lua, [script, file], { cwd: path.dirname(file) });
  if (r.code !== 0) return { error: `Lua could not evaluate the file: ${r.stderr.trim()}` };
  return { sections: JSON.parse(r.stdout) as ProsodySection[] };
}

/** prosody's loader looks for mod_NAME.lua, mod_NAME/mod_NAME.lua and NAME/mod_NAME.lua in each path. */
function inPath(dir: string, name: string): boolean {
  return [`mod_${name}.lua`, `mod_${name}/mod_${name}.lua`, `${name}/mod_${name}.lua`].some((f) =>
    existsSync(path.join(dir, f)),
  );
}

async function namedModules(
  lua: string,
  file: string,
  opts: ProsodyOptions,
): Promise<{ modules: ProsodyModule[]; problems: string[] }> {
  const r = await evalSections(lua, file);
  if ("error" in r) return { modules: [], problems: [`modules: ${r.error}`] };
  if (!existsSync(LOCAL_PROSODY_MODULES))
    throw new Error(`checkProsody: ${LOCAL_PROSODY_MODULES} is missing (is Debian's prosody installed?)`);
  const plugins = new Set(opts.plugins ?? PROSODY_PLUGINS.modules.value);
  const pluginsDir = opts.pluginsDir ?? PROSODY_PLUGINS.dir.value;
  const strings = (v: unknown): string[] =>
    Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  const pluginPaths = strings(r.sections[0]?.options.plugin_paths);
  const modules: ProsodyModule[] = [];
  const problems: string[] = [];
  for (const { head, options } of r.sections) {
    const named = strings(options.modules_enabled);
    // `Component "x" "module"`; a Component without a module is an external component.
    const component = /^Component "[^"]*" "([^"]+)"$/.exec(head)?.[1];
    if (component) named.push(component);
    if (typeof options.authentication === "string") named.push(`auth_${options.authentication}`);
    for (const name of named) {
      const from = inPath(LOCAL_PROSODY_MODULES, name)
        ? "prosody"
        : plugins.has(name) && pluginPaths.includes(pluginsDir)
          ? "jitsi-prosody-plugins"
          : "missing";
      modules.push({ name, section: head, from });
      if (from !== "missing") continue;
      problems.push(
        plugins.has(name)
          ? `modules: ${head}: mod_${name} is in jitsi-prosody-plugins, but plugin_paths does not list ${pluginsDir}`
          : `modules: ${head}: mod_${name} is neither prosody's (${LOCAL_PROSODY_MODULES}) nor in jitsi-prosody-plugins`,
      );
    }
  }
  return { modules, problems };
}

/** Check a rendered prosody.cfg.lua with luac5.4 -p, prosodyctl check config and its modules' presence. */
export async function checkProsody(cfgText: string, opts: ProsodyOptions = {}): Promise<ProsodyResult> {
  const luac = requireTool("luac5.4");
  const lua = requireTool("lua5.4");
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
    const { modules, problems } =
      syntax.code === 0 ? await namedModules(lua, file, opts) : { modules: [], problems: [] };
    const output = [filterProsodyNotices(raw), ...problems].join("\n");
    return {
      ok: syntax.code === 0 && check.code === 0 && /All checks passed/.test(output) && problems.length === 0,
      output,
      rawOutput: raw,
      luacCode: syntax.code,
      prosodyctlCode: check.code,
      modules,
    };
  });
}
