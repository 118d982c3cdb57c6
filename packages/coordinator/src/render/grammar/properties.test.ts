import { describe, expect, it } from "vitest";
import { parseProperties } from "./properties.js";

describe("parseProperties", () => {
  it("reads escaped separators in keys, CRLF lines and a continuation with an escaped backslash before it", () => {
    expect(parseProperties("a\\=b=1\r\nc=x\\\\\r\nd=2\\\r\n   3\r\nd=4\n")).toEqual({
      "a=b": "1",
      c: "x\\",
      d: "4",
    });
  });

  it("keeps a value's trailing blanks and reads a key without a value as empty, as Properties.load does", () => {
    expect(parseProperties("k = v  \nflag\n")).toEqual({ k: "v  ", flag: "" });
  });

  it("reads java properties with separators, escapes and continuations", () => {
    expect(
      parseProperties(
        [
          "# c",
          "! c",
          "a=1",
          "b : 2",
          "c 3",
          "org.ice4j.ice.harvest.\\",
          "    NAT=10.0.0.1",
          "u=\\u0041\\t",
          "trailing=true ",
        ].join("\n"),
      ),
    ).toEqual({
      a: "1",
      b: "2",
      c: "3",
      "org.ice4j.ice.harvest.NAT": "10.0.0.1",
      u: "A\t",
      trailing: "true ",
    });
  });
});
