import { describe, expect, it } from "vitest";
import { envLineNames, parseKshAssignments, scanShellWord } from "./shellenv.js";

describe("parseKshAssignments", () => {
  it("joins the quoted and bare parts of one word", () => {
    expect(parseKshAssignments("export A=a'b c'\"d\\$\"\\ e\nB=  \n")).toEqual({ A: "ab cd$ e", B: "" });
  });

  it("names file and line of what it cannot read", () => {
    const file = "/etc/jvb/jvb.in.sh";
    expect(() => parseKshAssignments('# c\nA=1\nB="$HOME"\n', { file })).toThrow(`${file}:3: expansion in B`);
    expect(() => parseKshAssignments("A=1\nrm -rf /\n", { file })).toThrow(`${file}:2: not an assignment`);
  });

  it("unquotes single, double and bare words", () => {
    expect(
      parseKshAssignments(
        ["# c", "A=/etc/x", "B='it'\\''s'", 'C=""', 'export D="x\\"y"', "E=plain # comment"].join("\n"),
      ),
    ).toEqual({ A: "/etc/x", B: "it's", C: "", D: 'x"y', E: "plain" });
  });

  it("refuses expansions and non-assignments", () => {
    expect(() => parseKshAssignments("A=$HOME")).toThrow(/expansion/);
    expect(() => parseKshAssignments('A="$(id)"')).toThrow(/expansion/);
    expect(() => parseKshAssignments("echo hi")).toThrow(/line 1: not an assignment/);
    expect(() => parseKshAssignments("A='x")).toThrow(/closing quote/);
    expect(() => parseKshAssignments("A=x y")).toThrow(/more than one word/);
  });
});

describe("scanShellWord", () => {
  it("ends the word at the first blank outside quotes", () => {
    const text = `A='x y'"z"\\ w next`;
    expect(scanShellWord(text, 2)).toEqual({ value: "x yz w", end: 13 });
  });

  it("marks an expansion and goes on; stops at an unclosed quote", () => {
    expect(scanShellWord('a$b"c`d"', 0)).toEqual({ value: "a$bc`d", end: 8, expansion: 1 });
    expect(scanShellWord("'a$b'", 0)).toEqual({ value: "a$b", end: 5 });
    expect(scanShellWord("ab'cd", 0)).toEqual({ value: "ab", end: 2, unclosed: 2 });
  });

  it("stops at an operator outside quotes only when asked to", () => {
    expect(scanShellWord("a;b '|'", 0, { operators: true })).toEqual({ value: "a", end: 1, operator: ";" });
    expect(scanShellWord("a;b '|'", 0)).toEqual({ value: "a;b", end: 3 });
    expect(scanShellWord("'a|b'>c", 0, { operators: true })).toEqual({ value: "a|b", end: 5, operator: ">" });
  });
});

describe("envLineNames", () => {
  it("names every variable of a line of assignments; a blank or comment line assigns none", () => {
    expect(envLineNames("export A='x y' B=\"$HOME/z\" C=plain # c")).toEqual({ names: ["A", "B", "C"] });
    expect(envLineNames("  # comment")).toEqual({ names: [] });
    expect(envLineNames("")).toEqual({ names: [] });
  });

  it("refuses what sourcing would run, and a quote left open", () => {
    expect(envLineNames("A=$(id)")).toEqual({ reason: "command substitution" });
    expect(envLineNames("A=`id`")).toEqual({ reason: "command substitution" });
    expect(envLineNames("echo hi")).toEqual({ reason: "not an assignment" });
    expect(envLineNames("A=x; rm -rf /")).toEqual({ reason: '";" outside quotes' });
    expect(envLineNames("A='x")).toEqual({ reason: "quote not closed on this line" });
  });
});
