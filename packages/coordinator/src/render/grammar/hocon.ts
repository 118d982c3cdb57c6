// HOCON, the subset jicofo.conf and jvb.conf are written in: nested blocks (`key { }`), `key = value` /
// `key: value`, dotted keys, quoted (JSON) strings, unquoted strings, numbers, booleans, null, lists (also of
// objects), `#` and `//` comments. No includes, no substitutions, no triple quotes: the renderers write none,
// and a reader that met one would have to guess what Typesafe Config makes of it.
import { GrammarError, isRecord, type ReadOptions, valueAt } from "./text.js";

export type HoconValue = string | number | boolean | null | HoconValue[] | HoconObject;
export interface HoconObject {
  [key: string]: HoconValue;
}

type Tok = { t: "nl"; line: number } | { t: "p"; v: string; line: number } | Str;
type Str = { t: "str"; v: string; quoted: boolean; line: number };

/** Characters that end an unquoted string (Typesafe Config's forbidden characters). */
const FORBIDDEN = '$"{}[]:=,+#`^?!@*&\\';

function tokens(text: string, file: string | undefined): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  const fail = (reason: string) => new GrammarError(reason, line, file);
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === "\n") {
      out.push({ t: "nl", line });
      line += 1;
      i += 1;
    } else if (ch === " " || ch === "\t" || ch === "\r") i += 1;
    else if (ch === "#" || text.startsWith("//", i)) {
      while (i < text.length && text[i] !== "\n") i += 1;
    } else if ("{}[],=:".includes(ch)) {
      out.push({ t: "p", v: ch, line });
      i += 1;
    } else if (ch === '"') {
      if (text.startsWith('"""', i)) throw fail("triple-quoted strings are not in the subset");
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "\n") throw fail("unterminated string");
        j += text[j] === "\\" ? 2 : 1;
      }
      if (j >= text.length) throw fail("unterminated string");
      out.push({ t: "str", v: JSON.parse(text.slice(i, j + 1)) as string, quoted: true, line });
      i = j + 1;
    } else if (ch === "$") {
      throw fail("substitutions are not in the subset");
    } else {
      let j = i;
      while (
        j < text.length &&
        text[j] !== "\n" &&
        !FORBIDDEN.includes(text[j]!) &&
        !text.startsWith("//", j)
      )
        j += 1;
      if (j === i) throw fail(`unexpected character ${JSON.stringify(ch)}`);
      out.push({ t: "str", v: text.slice(i, j).trimEnd(), quoted: false, line });
      i = j;
    }
  }
  return out;
}

function literal(tok: Str): HoconValue {
  if (tok.quoted) return tok.v;
  if (tok.v === "true") return true;
  if (tok.v === "false") return false;
  if (tok.v === "null") return null;
  if (/^-?\d+(\.\d+)?$/.test(tok.v)) return Number(tok.v);
  return tok.v;
}

/** Read a HOCON text into plain objects, merging repeated object keys as Typesafe Config does. */
export function parseHocon(text: string, opts: ReadOptions = {}): HoconObject {
  const toks = tokens(text, opts.file);
  let i = 0;
  const peek = () => toks[i];
  const fail = (t: Tok | undefined, reason: string) => new GrammarError(reason, t?.line, opts.file);
  const skip = (what: (t: Tok) => boolean) => {
    while (i < toks.length && what(toks[i]!)) i += 1;
  };
  const sep = (t: Tok) => t.t === "nl" || (t.t === "p" && t.v === ",");
  const expectP = (v: string) => {
    const t = toks[i];
    if (t?.t !== "p" || t.v !== v) throw fail(t, `expected '${v}'`);
    i += 1;
  };
  const value = (): HoconValue => {
    const t = peek();
    if (!t) throw fail(t, "a value is missing at the end");
    if (t.t === "p" && t.v === "{") {
      i += 1;
      const inner = object("}");
      expectP("}");
      return inner;
    }
    if (t.t === "p" && t.v === "[") {
      i += 1;
      const list: HoconValue[] = [];
      for (;;) {
        skip(sep);
        const n = peek();
        if (!n) throw fail(n, "unterminated list");
        if (n.t === "p" && n.v === "]") {
          i += 1;
          return list;
        }
        list.push(value());
      }
    }
    if (t.t === "str") {
      i += 1;
      return literal(t);
    }
    throw fail(t, `unexpected ${t.t === "p" ? `'${t.v}'` : "end of line"} where a value belongs`);
  };
  const object = (close: "}" | "eof"): HoconObject => {
    const block: HoconObject = {};
    for (;;) {
      skip(sep);
      const t = peek();
      if (!t) {
        if (close === "}") throw fail(t, "'{' is not closed");
        return block;
      }
      if (t.t === "p" && t.v === "}") {
        if (close === "eof") throw fail(t, "'}' without '{'");
        return block;
      }
      if (t.t !== "str") throw fail(t, `unexpected '${t.t === "p" ? t.v : "newline"}' where a key belongs`);
      i += 1;
      const path = t.quoted ? [t.v] : t.v.split(".");
      if (path.some((k) => k === "")) throw fail(t, `bad key ${JSON.stringify(t.v)}`);
      const n = peek();
      if (n?.t === "p" && (n.v === "=" || n.v === ":")) i += 1;
      else if (!(n?.t === "p" && n.v === "{")) throw fail(t, `key ${JSON.stringify(t.v)} has no value`);
      const v = value();
      const after = peek();
      if (after && !sep(after) && !(after.t === "p" && after.v === "}"))
        throw fail(after, `unexpected text after the value of ${JSON.stringify(t.v)}`);
      setPath(block, path, v);
    }
  };
  return object("eof");
}

function setPath(target: HoconObject, path: string[], v: HoconValue): void {
  const [head, ...rest] = path;
  if (head === undefined) return;
  if (rest.length > 0) {
    const existing = target[head];
    const child: HoconObject = isHoconObject(existing) ? existing : {};
    target[head] = child;
    setPath(child, rest, v);
    return;
  }
  const existing = target[head];
  // HOCON merges an object into an earlier object of the same key; anything else replaces it.
  if (isHoconObject(existing) && isHoconObject(v)) {
    for (const [k, val] of Object.entries(v)) setPath(existing, [k], val);
  } else target[head] = v;
}

export function isHoconObject(v: unknown): v is HoconObject {
  return isRecord(v);
}

/** The value at a dotted path (keys without dots), or undefined. */
export function hoconGet(conf: HoconObject, path: string): HoconValue | undefined {
  return valueAt(conf, path) as HoconValue | undefined;
}
