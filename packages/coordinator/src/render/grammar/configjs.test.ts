import { describe, expect, it } from "vitest";
import { jsGet, parseConfigJs } from "./configjs.js";

describe("parseConfigJs", () => {
  it("reads nested objects and arrays, and finds a dotted path", () => {
    const config = parseConfigJs(
      "const config = {\n  hosts: { domain: 'd' },\n  list: [1, 'x', null],\n};\n",
    );
    expect(jsGet(config, "hosts.domain")).toBe("d");
    expect(jsGet(config, "list")).toEqual([1, "x", null]);
    expect(jsGet(config, "list.0")).toBeUndefined();
  });

  it("names file and line of what it cannot read", () => {
    const file = "/var/www/jitsi-meet/config.js";
    expect(() => parseConfigJs("var config = {\n  a: 1,\n  b: x.y,\n};", { file })).toThrow(
      `${file}:3: "." is not in the config.js subset`,
    );
    expect(() => parseConfigJs("var config = {\n  a: 1\n  b: 2 };", { file })).toThrow(
      `${file}:3: expected ','`,
    );
    expect(() => parseConfigJs("var config = {};\n/* open", { file })).toThrow(
      `${file}:2: unterminated comment`,
    );
    expect(() => parseConfigJs("var config = {\n a: ", { file })).toThrow(`${file}:2: a value is missing`);
  });

  it("reads the object literal without evaluating anything", () => {
    const config = parseConfigJs(
      [
        "// header",
        "/* block */",
        "var config = {",
        "  hosts: {",
        "    domain: 'a.example',",
        "    'muc': \"conference.a.example\",",
        "  },",
        "  bosh: '//a.example/http-bind',",
        "  enableWelcomePage: true,",
        "  n: -3,",
        "  p2p: { stunServers: [ { urls: 'stun:x:443' }, ], },",
        "};",
      ].join("\n"),
    );
    expect(config).toEqual({
      hosts: { domain: "a.example", muc: "conference.a.example" },
      bosh: "//a.example/http-bind",
      enableWelcomePage: true,
      n: -3,
      p2p: { stunServers: [{ urls: "stun:x:443" }] },
    });
  });

  it("refuses expressions and anything but one config declaration", () => {
    expect(() => parseConfigJs("var config = { a: 'x' + 'y' };")).toThrow(/subset/);
    expect(() => parseConfigJs("var config = { a: f() };")).toThrow(/subset/);
    expect(() => parseConfigJs("var other = {};")).toThrow(/var config/);
    expect(() => parseConfigJs("var config = {}; var x = 1;")).toThrow(/after/);
    expect(() => parseConfigJs("var config = { a: 'x' b: 1 };")).toThrow(/expected ','/);
  });
});
