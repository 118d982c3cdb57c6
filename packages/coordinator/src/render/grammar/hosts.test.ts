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
});
