import { describe, expect, it } from "vitest";
import { parseHostsFile } from "./hosts.js";

describe("parseHostsFile", () => {
  it("passes over blank and comment-only lines and keeps the first address of a name", () => {
    const hosts = parseHostsFile("\n# only a comment\n  \n10.0.0.1\tweb WEB.example\n10.0.0.9 web\n");
    expect([...hosts]).toEqual([
      ["web", "10.0.0.1"],
      ["web.example", "10.0.0.1"],
    ]);
  });

  it("maps /etc/hosts names to the first address given", () => {
    const hosts = parseHostsFile("# c\n127.0.0.1 localhost\n10.0.0.2 xmpp A.Example # c\n10.0.0.9 xmpp\n");
    expect(hosts.get("xmpp")).toBe("10.0.0.2");
    expect(hosts.get("a.example")).toBe("10.0.0.2");
    expect(hosts.get("nothing")).toBeUndefined();
  });
});
