import { describe, expect, it } from "vitest";
import { hoconGet, parseHocon } from "./hocon.js";
import { GrammarError } from "./text.js";

describe("parseHocon", () => {
  it("merges a repeated block and reads a dotted key into the same tree", () => {
    const conf = parseHocon("a { b = 1 }\na { c = x }\na.d.e = true\n");
    expect(conf).toEqual({ a: { b: 1, c: "x", d: { e: true } } });
    expect(hoconGet(conf, "a.d.e")).toBe(true);
    expect(hoconGet(conf, "a.b.c")).toBeUndefined();
  });

  it("names file and line of what it cannot read", () => {
    const file = "/etc/jvb/jvb.conf";
    expect(() => parseHocon("a {\n  b = 1\n  c = x y }\n} }\n", { file })).toThrow(
      "/etc/jvb/jvb.conf:4: '}' without '{'",
    );
    expect(() => parseHocon('a = 1\nb = "x\n', { file })).toThrow(`${file}:2: unterminated string`);
    expect(() => parseHocon("a = 1\n\nb = $a\n", { file })).toThrow(`${file}:3: substitutions`);
    expect(() => parseHocon("a = 1\nb\n")).toThrow('line 2: key "b" has no value');
  });

  it("says nothing of a line for a block left open at the end, which has none", () => {
    const e = (() => {
      try {
        parseHocon("a {\n b = 1\n", { file: "j.conf" });
      } catch (err) {
        return err;
      }
    })();
    expect(e).toBeInstanceOf(GrammarError);
    expect((e as GrammarError).message).toBe("j.conf: '{' is not closed");
    expect((e as GrammarError).line).toBeUndefined();
  });

  it("reads nested blocks, dotted keys, quoted and unquoted values, lists and lists of objects", () => {
    const conf = parseHocon(
      [
        "# comment",
        "a {",
        '  b = "x@y" // trailing comment',
        "  c: 5222",
        "  d = true, e = false",
        "  interval = 10 seconds",
        '  list = [ "one", "two" ]',
        "  maps = [",
        "    {",
        '      local-address = "10.0.0.1"',
        "    }",
        "  ]",
        "}",
        "a.f.g = 1.5",
        'a { "h.i" = "\\u0041\\n" }',
      ].join("\n"),
    );
    expect(hoconGet(conf, "a.b")).toBe("x@y");
    expect(hoconGet(conf, "a.c")).toBe(5222);
    expect(hoconGet(conf, "a.d")).toBe(true);
    expect(hoconGet(conf, "a.e")).toBe(false);
    expect(hoconGet(conf, "a.interval")).toBe("10 seconds");
    expect(hoconGet(conf, "a.list")).toEqual(["one", "two"]);
    expect(hoconGet(conf, "a.maps")).toEqual([{ "local-address": "10.0.0.1" }]);
    // A later block with the same key merges into the earlier one (HOCON object merge).
    expect(hoconGet(conf, "a.f.g")).toBe(1.5);
    expect((hoconGet(conf, "a") as Record<string, unknown>)["h.i"]).toBe("A\n");
    expect(hoconGet(conf, "a.missing")).toBeUndefined();
    expect(hoconGet(conf, "a.b.c")).toBeUndefined();
  });

  it("refuses what it does not understand instead of guessing", () => {
    expect(() => parseHocon("a {\n b = 1\n")).toThrow(/not closed/);
    expect(() => parseHocon(["a = $", "{b}"].join(""))).toThrow(/substitutions/);
    // Typesafe Config: "Reserved character '@' is not allowed outside quotes".
    expect(() => parseHocon("jid = a@b")).toThrow(/unexpected/);
    expect(() => parseHocon("a = 1 }")).toThrow(/without/);
    expect(() => parseHocon("a")).toThrow(/no value/);
  });
});
