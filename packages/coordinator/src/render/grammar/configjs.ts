// jitsi-meet's config.js as the renderer writes it: one `var config = { ... };` read as an object literal
// (identifier or string keys; string, number, boolean, null, object and array values; `//` and `/* */`
// comments). Nothing is evaluated: anything that would need evaluation (an expression, a call, a second
// statement) is refused.
import { GrammarError, type ReadOptions, skipBlank, valueAt } from "./text.js";

export type JsValue = string | number | boolean | null | JsValue[] | JsObject;
export interface JsObject {
  [key: string]: JsValue;
}

type Tok = { t: "id" | "str" | "num" | "p"; v: string; line: number };

const NOT_IN_SUBSET = "is not in the config.js subset (no expressions)";

function tokens(text: string, file: string | undefined): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  for (;;) {
    ({ i, line } = skipBlank(text, i, line, { line: "//", block: ["/*", "*/"] }, file));
    if (i >= text.length) return toks;
    const ch = text[i]!;
    const fail = (reason: string) => new GrammarError(reason, line, file);
    if (ch === "'" || ch === '"') {
      let j = i + 1;
      let v = "";
      while (j < text.length && text[j] !== ch) {
        if (text[j] === "\n") throw fail("unterminated string");
        if (text[j] === "\\") {
          const e = text[j + 1] ?? "";
          v += e === "n" ? "\n" : e === "t" ? "\t" : e;
          j += 2;
        } else v += text[j++];
      }
      if (j >= text.length) throw fail("unterminated string");
      toks.push({ t: "str", v, line });
      i = j + 1;
    } else if (/[0-9-]/.test(ch)) {
      const m = /^-?\d+(\.\d+)?/.exec(text.slice(i));
      if (!m) throw fail(`unexpected ${JSON.stringify(ch)}`);
      toks.push({ t: "num", v: m[0], line });
      i += m[0].length;
    } else if (/[A-Za-z_$]/.test(ch)) {
      const m = /^[A-Za-z_$][A-Za-z0-9_$]*/.exec(text.slice(i))!;
      toks.push({ t: "id", v: m[0], line });
      i += m[0].length;
    } else if ("{}[]:,;=".includes(ch)) {
      toks.push({ t: "p", v: ch, line });
      i += 1;
    } else throw fail(`${JSON.stringify(ch)} ${NOT_IN_SUBSET}`);
  }
}

/** The object `config` is set to. */
export function parseConfigJs(text: string, opts: ReadOptions = {}): JsObject {
  const toks = tokens(text, opts.file);
  let k = 0;
  // A problem with no token left is at the end of the text: it names the last line.
  const fail = (reason: string, t = toks[k]) =>
    new GrammarError(reason, (t ?? toks[toks.length - 1])?.line, opts.file);
  const is = (v: string) => toks[k]?.t === "p" && toks[k]?.v === v;
  const take = (v: string) => {
    if (!is(v)) throw fail(`expected '${v}'`);
    k += 1;
  };
  const value = (): JsValue => {
    const t = toks[k++];
    if (!t) throw fail("a value is missing", t);
    if (t.t === "str") return t.v;
    if (t.t === "num") return Number(t.v);
    if (t.t === "id" && (t.v === "true" || t.v === "false")) return t.v === "true";
    if (t.t === "id" && t.v === "null") return null;
    if (t.t === "p" && t.v === "{") {
      const object: JsObject = {};
      while (!is("}")) {
        const key = toks[k++];
        if (!key || key.t === "p") throw fail("expected a property name", key);
        take(":");
        object[key.v] = value();
        if (!is("}")) take(",");
      }
      k += 1;
      return object;
    }
    if (t.t === "p" && t.v === "[") {
      const list: JsValue[] = [];
      while (!is("]")) {
        list.push(value());
        if (!is("]")) take(",");
      }
      k += 1;
      return list;
    }
    throw fail(`${JSON.stringify(t.v)} ${NOT_IN_SUBSET}`, t);
  };
  // The renderer writes exactly one statement: var config = {...};
  const decl = toks[k++];
  if (!(decl?.t === "id" && ["var", "let", "const"].includes(decl.v)) || toks[k]?.v !== "config")
    throw fail("expected 'var config = {'", decl);
  k += 1;
  take("=");
  const config = value();
  if (is(";")) k += 1;
  if (k < toks.length) throw fail("text after the config object");
  if (typeof config !== "object" || config === null || Array.isArray(config))
    throw fail("config is not an object", decl);
  return config;
}

/** The value at a dotted path of config.js's object (`hosts.domain`), or undefined. */
export function jsGet(config: JsObject, path: string): JsValue | undefined {
  return valueAt(config, path) as JsValue | undefined;
}
