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

  it("splits the file into global, VirtualHost and Component sections with Lua values", () => {
    const sections = parseProsodyConfig(
      [
        "-- header",
        'plugin_paths = { "/p" }',
        "http_ports = { 5280 }",
        'modules_enabled = {\n    "bosh";\n    "ping";\n}',
        "external_services = {",
        '    { type = "turn", port = 3478, secret = true },',
        "}",
        'VirtualHost "auth.d"',
        "    ssl = {",
        '        key = "/k";',
        "    }",
        'Component "internal.auth.d" "muc"',
        "    muc_room_locking = false",
        "    admins = { \"focus@auth.d\", 'jvb@auth.d' }",
        'Component "plain"',
      ].join("\n"),
    );
    expect(sections.map((s) => [s.kind, s.name, s.module])).toEqual([
      ["global", "", undefined],
      ["VirtualHost", "auth.d", undefined],
      ["Component", "internal.auth.d", "muc"],
      ["Component", "plain", undefined],
    ]);
    const g = sections[0]!.settings;
    expect(g.http_ports).toEqual({ items: [5280], fields: {} });
    expect(g.modules_enabled).toEqual({ items: ["bosh", "ping"], fields: {} });
    expect(g.external_services).toEqual({
      items: [{ items: [], fields: { type: "turn", port: 3478, secret: true } }],
      fields: {},
    });
    expect(sections[1]!.settings.ssl).toEqual({ items: [], fields: { key: "/k" } });
    expect(sections[2]!.settings.muc_room_locking).toBe(false);
    expect(sections[2]!.settings.admins).toEqual({ items: ["focus@auth.d", "jvb@auth.d"], fields: {} });
  });

  it("names the line of what it cannot read", () => {
    expect(() => parseProsodyConfig('a = "x"\nb = {\n "y";\n')).toThrow(/not closed/);
    expect(() => parseProsodyConfig('a = "x"\nb c')).toThrow(/line 2: expected '='/);
    expect(() => parseProsodyConfig("a = 1 + 2")).toThrow(/line 1/);
  });
});
