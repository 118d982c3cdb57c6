import { describe, expect, it } from "vitest";
import { parseTurnserverConf } from "./turnserver.js";

describe("parseTurnserverConf", () => {
  it("reads command-line style options and values with blanks around '='", () => {
    expect(parseTurnserverConf("--fingerprint\nrealm = a.example\n")).toEqual({
      fingerprint: [""],
      realm: ["a.example"],
    });
  });

  it("names file and line of what it cannot read", () => {
    expect(() => parseTurnserverConf("realm=a\n\nbad line=x\n", { file: "/etc/turnserver.conf" })).toThrow(
      '/etc/turnserver.conf:3: not an option line: "bad line"',
    );
  });
});
