// prosody.cfg.lua, the subset the renderer writes: `VirtualHost "name"` and `Component "name" ["module"]`
// open a section, `key = value` sets an option of the current one; values are strings, numbers, booleans,
// nil and tables (`{ a; b }`, `{ k = v, ... }`, nested); `--` and `--[[ ]]` comments. Nothing is evaluated:
// prosody's loader runs the file as Lua, and the tests compare this reader with Lua 5.4 doing that.
import { type CommentSyntax, GrammarError, type ReadOptions, skipBlank } from "./text.js";

export type LuaValue = string | number | boolean | null | LuaTable;
export interface LuaTable {
  items: LuaValue[];
  fields: Record<string, LuaValue>;
}
export interface ProsodySection {
  kind: "global" | "VirtualHost" | "Component";
  name: string;
  module?: string;
  settings: Record<string, LuaValue>;
}

const LUA_COMMENTS: CommentSyntax = { line: "--", block: ["--[[", "]]"] };

type Tok = { t: "name" | "str" | "num" | "p"; v: string; line: number };

function tokens(text: string, file: string | undefined): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  for (;;) {
    ({ i, line } = skipBlank(text, i, line, LUA_COMMENTS, file));
    if (i >= text.length) break;
    const ch = text[i]!;
    if (ch === '"' || ch === "'") {
      let j = i + 1;
      let v = "";
      while (j < text.length && text[j] !== ch) {
        if (text[j] === "\n") throw new GrammarError("unterminated string", line, file);
        if (text[j] === "\\") {
          const e = text[j + 1] ?? "";
          v += e === "n" ? "\n" : e === "t" ? "\t" : e;
          j += 2;
        } else v += text[j++];
      }
      if (j >= text.length) throw new GrammarError("unterminated string", line, file);
      out.push({ t: "str", v, line });
      i = j + 1;
    } else if (/[0-9]/.test(ch)) {
      const m = /^\d+(\.\d+)?/.exec(text.slice(i))!;
      out.push({ t: "num", v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(ch)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))!;
      out.push({ t: "name", v: m[0], line });
      i += m[0].length;
    } else if ("{}=,;".includes(ch)) {
      out.push({ t: "p", v: ch, line });
      i += 1;
    } else throw new GrammarError(`unexpected character ${JSON.stringify(ch)}`, line, file);
  }
  return out;
}

/** The sections of a prosody config in file order, the global one first (name ""). */
export function parseProsodyConfig(text: string, opts: ReadOptions = {}): ProsodySection[] {
  const toks = tokens(text, opts.file);
  let i = 0;
  const sections: ProsodySection[] = [{ kind: "global", name: "", settings: {} }];
  // A problem at the end of the text says so where the others say their line.
  const fail = (t: Tok | undefined, msg: string) =>
    new GrammarError(t ? msg : `at the end: ${msg}`, t?.line, opts.file);
  const value = (): LuaValue => {
    const t = toks[i++];
    if (!t) throw fail(t, "a value is missing");
    if (t.t === "str") return t.v;
    if (t.t === "num") return Number(t.v);
    if (t.t === "name" && (t.v === "true" || t.v === "false")) return t.v === "true";
    if (t.t === "name" && t.v === "nil") return null;
    if (t.t === "p" && t.v === "{") return table();
    throw fail(t, `unexpected ${JSON.stringify(t.v)} where a value belongs`);
  };
  const table = (): LuaTable => {
    const out: LuaTable = { items: [], fields: {} };
    for (;;) {
      const n = toks[i];
      if (!n) throw fail(n, "'{' is not closed");
      if (n.t === "p" && n.v === "}") {
        i += 1;
        return out;
      }
      if (n.t === "name" && toks[i + 1]?.t === "p" && toks[i + 1]?.v === "=") {
        i += 2;
        out.fields[n.v] = value();
      } else out.items.push(value());
      const s = toks[i];
      if (s?.t === "p" && (s.v === "," || s.v === ";")) i += 1;
      else if (!(s?.t === "p" && s.v === "}")) throw fail(s, "expected ',', ';' or '}' in a table");
    }
  };
  while (i < toks.length) {
    const t = toks[i]!;
    if (t.t === "p" && t.v === ";") {
      i += 1;
      continue;
    }
    if (t.t !== "name") throw fail(t, `unexpected ${JSON.stringify(t.v)} where a statement belongs`);
    if ((t.v === "VirtualHost" || t.v === "Component") && toks[i + 1]?.t === "str") {
      const name = toks[i + 1]!.v;
      i += 2;
      let module: string | undefined;
      if (t.v === "Component" && toks[i]?.t === "str") module = toks[i++]!.v;
      sections.push({ kind: t.v, name, ...(module === undefined ? {} : { module }), settings: {} });
      continue;
    }
    const eq = toks[i + 1];
    if (!(eq?.t === "p" && eq.v === "=")) throw fail(eq, `expected '=' after ${t.v}`);
    i += 2;
    sections[sections.length - 1]!.settings[t.v] = value();
  }
  return sections;
}

export function isLuaTable(v: LuaValue | undefined): v is LuaTable {
  return typeof v === "object" && v !== null;
}

export function luaString(v: LuaValue | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}
