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

  it("reads turnserver.conf options, repeated and flag-only", () => {
    expect(
      parseTurnserverConf("# c\nuse-auth-secret\nrealm=a.example\ndenied-peer-ip=1-2\ndenied-peer-ip=3-4\n"),
    ).toEqual({ "use-auth-secret": [""], realm: ["a.example"], "denied-peer-ip": ["1-2", "3-4"] });
    expect(() => parseTurnserverConf("bad line here")).toThrow(/option/);
  });
});
