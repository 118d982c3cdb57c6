import { describe, expect, it } from "vitest";
import { parseKshAssignments } from "./shellenv.js";

describe("parseKshAssignments", () => {
  it("joins the quoted and bare parts of one word", () => {
    expect(parseKshAssignments("export A=a'b c'\"d\\$\"\\ e\nB=  \n")).toEqual({ A: "ab cd$ e", B: "" });
  });

  it("names file and line of what it cannot read", () => {
    const file = "/etc/jvb/jvb.in.sh";
    expect(() => parseKshAssignments('# c\nA=1\nB="$HOME"\n', { file })).toThrow(`${file}:3: expansion in B`);
    expect(() => parseKshAssignments("A=1\nrm -rf /\n", { file })).toThrow(`${file}:2: not an assignment`);
  });
});
