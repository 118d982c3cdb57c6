import { describe, expect, it } from "vitest";
import { isLuaTable, luaString, parseProsodyConfig } from "./lua.js";

describe("parseProsodyConfig", () => {
  it("puts each option in the section opened before it, skipping both comment forms", () => {
    const sections = parseProsodyConfig(
      [
        "--[[ a block",
        "comment ]]",
        'admins = { "a@b" } -- line comment',
        'VirtualHost "d"',
        '  modules_enabled = { "bosh"; "ping" }',
        'Component "conference.d" "muc"',
        "  muc_room_locking = false",
      ].join("\n"),
    );
    expect(sections.map((s) => [s.kind, s.name, s.module])).toEqual([
      ["global", "", undefined],
      ["VirtualHost", "d", undefined],
      ["Component", "conference.d", "muc"],
    ]);
    const modules = sections[1]!.settings.modules_enabled;
    expect(isLuaTable(modules) ? modules.items.map(luaString) : []).toEqual(["bosh", "ping"]);
  });

  it("names file and line of what it cannot read", () => {
    const file = "/etc/prosody/prosody.cfg.lua";
    expect(() => parseProsodyConfig('a = "x"\n\nb c', { file })).toThrow(`${file}:3: expected '=' after b`);
    expect(() => parseProsodyConfig("a = 1 + 2", { file })).toThrow(`${file}:1: unexpected character "+"`);
    expect(() => parseProsodyConfig("a = {\n 'x' 'y' }", { file })).toThrow(`${file}:2: expected ','`);
    expect(() => parseProsodyConfig("--[[ open\n", { file })).toThrow(`${file}:1: unterminated comment`);
    expect(() => parseProsodyConfig("a = {", { file })).toThrow(`${file}: at the end: '{' is not closed`);
  });
});
