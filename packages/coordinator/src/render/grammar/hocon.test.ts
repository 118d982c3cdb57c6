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
});
