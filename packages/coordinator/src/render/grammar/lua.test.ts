import { describe, expect, it } from "vitest";
import { isLuaTable, luaString, parseProsodyConfig } from "./lua.js";

describe("parseProsodyConfig", () => {
  it("skips a block comment over several lines and a line comment after a value", () => {
    const [global, ...rest] = parseProsodyConfig(
      '--[[ admins = { "x" }\nplugin_paths = { } ]]\nadmins = { "a@b" } -- "c@d"\n',
    );
    expect(rest).toEqual([]);
    expect(global!.settings).toEqual({ admins: { items: ["a@b"], fields: {} } });
    const admins = global!.settings.admins;
    expect(isLuaTable(admins) ? admins.items.map(luaString) : []).toEqual(["a@b"]);
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
