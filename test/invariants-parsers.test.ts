// The readers of the invariant check agree with the real parsers (Typesafe Config, Lua 5.4, node's vm, mksh,
// java.util.Properties) on the rendered files of whole deployments and on the paper's own files.
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import {
  parseConfigJs,
  parseHocon,
  parseKshAssignments,
  parseProperties,
  parseProsodyConfig,
} from "../packages/coordinator/src/render/grammar/index.js";
import { all, deployment, FULL, prosody13 } from "./helpers/invariants.js";
import {
  checkHoconMany,
  checkJs,
  checkPropertiesMany,
  paperSampleDir,
  requireTool,
  runProgram,
  shellEnv,
  withTempDir,
} from "./validators/index.js";

describe("the readers agree with the real parsers", () => {
  const full = deployment(all(FULL, prosody13));
  const paper = deployment();
  const text = (d: { nodes: Record<string, NodeDesired> }, node: string, file: string) => {
    const f = d.nodes[node]!.files.find((x) => x.path === file)!;
    return f.content;
  };
  const sample = (name: string) => readFileSync(path.join(paperSampleDir(), name), "utf8");

  it("HOCON: jicofo.conf and every jvb.conf (7648, 9646 with colibri) and the paper's files, as Typesafe Config reads them", async () => {
    const texts = [
      text(paper, "jicofo", "/etc/jicofo/jicofo.conf"),
      text(paper, "jvb", "/etc/jvb/jvb.conf"),
      text(full, "jicofo", "/etc/jicofo/jicofo.conf"),
      ...["jvb", "jvb2", "jvb3"].map((n) => text(full, n, "/etc/jvb/jvb.conf")),
      sample("jicofo.conf"),
      sample("jvb.conf"),
    ];
    const real = await checkHoconMany(texts.map((t) => ({ text: t })));
    texts.forEach((t, i) => {
      expect(real[i]!.ok, real[i]!.output).toBe(true);
      expect(parseHocon(t)).toEqual(real[i]!.values);
    });
  });

  it("prosody.cfg.lua: the same sections and values as Lua 5.4 executing the file", async () => {
    const lua = requireTool("lua5.4");
    const texts = [
      text(paper, "xmpp", "/etc/prosody/prosody.cfg.lua"),
      text(full, "xmpp", "/etc/prosody/prosody.cfg.lua"),
      sample("prosody.cfg.lua"),
    ];
    await withTempDir("invariants-lua", async (dir) => {
      await writeFile(path.join(dir, "dump.lua"), LUA_DUMP);
      for (const [i, t] of texts.entries()) {
        const file = path.join(dir, `prosody${i}.cfg.lua`);
        await writeFile(file, t);
        const r = await runProgram(lua, [path.join(dir, "dump.lua"), file]);
        expect(r.code, r.stderr).toBe(0);
        expect(parseProsodyConfig(t)).toEqual(JSON.parse(r.stdout));
      }
    });
  });

  it("config.js: the object node's vm evaluation gives", async () => {
    for (const t of [
      text(paper, "web", "/var/www/jitsi-meet/config.js"),
      text(full, "web", "/var/www/jitsi-meet/config.js"),
      sample("config.js"),
    ]) {
      const real = await checkJs(t);
      expect(real.ok, real.output).toBe(true);
      expect(parseConfigJs(t)).toEqual(real.config);
    }
  });

  it("ksh: the variables mksh sets when it sources jicofo.in.sh and jvb.in.sh", async () => {
    for (const t of [
      text(full, "jicofo", "/etc/jicofo/jicofo.in.sh"),
      text(full, "jvb2", "/etc/jvb/jvb.in.sh"),
      sample("jicofo.in.sh"),
      sample("jvb.in.sh"),
    ]) {
      const real = await shellEnv(t);
      expect(real.ok, real.output).toBe(true);
      expect(parseKshAssignments(t)).toEqual(real.vars);
    }
  });

  it("properties: what java.util.Properties.load returns for sip-communicator.properties", async () => {
    const texts = [
      text(paper, "jvb", "/etc/jvb/sip-communicator.properties"),
      text(full, "jvb3", "/etc/jvb/sip-communicator.properties"),
      sample("sip-communicator.properties"),
    ];
    const real = await checkPropertiesMany(texts.map((t) => ({ text: t })));
    texts.forEach((t, i) => {
      expect(parseProperties(t)).toEqual(real[i]!.properties);
    });
  });
});

// Runs a prosody config the way prosody's config loader does (VirtualHost/Component are functions that open
// a section; Component "x" "module" calls the returned function), then prints the sections as JSON in the
// shape of parseProsodyConfig: tables as { items, fields }.
const LUA_DUMP = String.raw`
local sections = { { kind = "global", name = "", settings = {} } }
local cur = sections[1]
local function open(kind, name)
  cur = { kind = kind, name = name, settings = {} }
  sections[#sections + 1] = cur
  return cur
end
local env = setmetatable({}, {
  __newindex = function(_, k, v) cur.settings[k] = v end,
  __index = function(_, k)
    if k == "VirtualHost" then return function(name) open("VirtualHost", name) end end
    if k == "Component" then
      return function(name)
        local s = open("Component", name)
        return function(module) s.module = module end
      end
    end
    return nil
  end,
})
assert(loadfile(arg[1], "t", env))()
local function esc(s)
  return '"' .. (s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end)) .. '"'
end
local function sorted(t)
  local ks = {}
  for k in pairs(t) do if type(k) == "string" then ks[#ks + 1] = k end end
  table.sort(ks)
  return ks
end
local enc
local function object(t)
  local out = {}
  for _, k in ipairs(sorted(t)) do out[#out + 1] = esc(k) .. ":" .. enc(t[k]) end
  return "{" .. table.concat(out, ",") .. "}"
end
enc = function(v)
  local t = type(v)
  if t == "string" then return esc(v) end
  if t == "number" or t == "boolean" then return tostring(v) end
  if t == "table" then
    local items = {}
    for i = 1, #v do items[i] = enc(v[i]) end
    return '{"items":[' .. table.concat(items, ",") .. '],"fields":' .. object(v) .. "}"
  end
  error("cannot encode a " .. t)
end
local out = {}
for i, s in ipairs(sections) do
  local module = s.module and (',"module":' .. esc(s.module)) or ""
  out[i] = '{"kind":' .. esc(s.kind) .. ',"name":' .. esc(s.name) .. module .. ',"settings":' .. object(s.settings) .. "}"
end
print("[" .. table.concat(out, ",") .. "]")
`;
