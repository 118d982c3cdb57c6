// nginx.conf: the directive tree (`name args... ;` and `name args... { ... }`), quoted arguments and `#`
// comments. An argument is unescaped as nginx's own reader does (ngx_conf_read_token in
// src/core/ngx_conf_file.c): `\"`, `\'` and `\\` stand for the character, `\t`, `\r` and `\n` for the control
// character, and any other backslash stays (regular expressions such as `[a-z=\?]` keep theirs).
import { GrammarError, type ReadOptions, skipBlank } from "./text.js";

export interface NginxDirective {
  name: string;
  args: string[];
  children?: NginxDirective[];
}

export interface NginxReadOptions extends ReadOptions {
  /**
   * Never throw: stop quietly at the first structural problem (an unterminated string, directive or block,
   * a stray brace) and return what was read before it. For a caller that only looks for names in a file
   * the real nginx checks anyway.
   */
  tolerant?: boolean;
}

type Tok = { v: string; word: boolean; line: number };

function unescapeWord(raw: string): string {
  return raw.replace(/\\(.)/gs, (all, c: string) =>
    c === '"' || c === "'" || c === "\\" ? c : c === "t" ? "\t" : c === "r" ? "\r" : c === "n" ? "\n" : all,
  );
}

function tokens(text: string, file: string | undefined): { toks: Tok[]; error?: GrammarError } {
  const toks: Tok[] = [];
  let i = 0;
  let line = 1;
  for (;;) {
    ({ i, line } = skipBlank(text, i, line, { line: "#" }));
    if (i >= text.length) return { toks };
    const ch = text[i]!;
    if (ch === "{" || ch === "}" || ch === ";") {
      toks.push({ v: ch, word: false, line });
      i += 1;
    } else if (ch === '"' || ch === "'") {
      const start = line;
      let j = i + 1;
      while (j < text.length && text[j] !== ch) {
        if (text[j] === "\n") line += 1;
        j += text[j] === "\\" && j + 1 < text.length ? 2 : 1;
      }
      if (j >= text.length) return { toks, error: new GrammarError("unterminated string", line, file) };
      toks.push({ v: unescapeWord(text.slice(i + 1, j)), word: true, line: start });
      i = j + 1;
    } else {
      let j = i;
      while (j < text.length && !/[\s{};"']/.test(text[j]!)) j += text[j] === "\\" ? 2 : 1;
      toks.push({ v: unescapeWord(text.slice(i, j)), word: true, line });
      i = j;
    }
  }
}

/** The directives of an nginx configuration, nested as its blocks are. */
export function parseNginxConf(text: string, opts: NginxReadOptions = {}): NginxDirective[] {
  const { file } = opts;
  const { toks, error } = tokens(text, file);
  if (error && !opts.tolerant) throw error;
  const root: NginxDirective[] = [];
  let k = 0;
  // Every directive is added before its arguments are read, so that a tolerant read keeps what came
  // before a problem.
  const block = (out: NginxDirective[], nested: boolean): void => {
    for (;;) {
      const t = toks[k];
      if (!t) {
        if (nested) throw new GrammarError("'{' is not closed", undefined, file);
        return;
      }
      if (!t.word) {
        if (t.v === "}" && nested) {
          k += 1;
          return;
        }
        throw new GrammarError(`unexpected '${t.v}'`, t.line, file);
      }
      const d: NginxDirective = { name: t.v, args: [] };
      out.push(d);
      k += 1;
      for (;;) {
        const a = toks[k];
        if (!a) throw new GrammarError(`directive "${t.v}" is not terminated by ";"`, t.line, file);
        k += 1;
        if (a.word) d.args.push(a.v);
        else if (a.v === ";") break;
        else if (a.v === "{") {
          d.children = [];
          block(d.children, true);
          break;
        } else throw new GrammarError("unexpected '}'", a.line, file);
      }
    }
  };
  try {
    block(root, false);
  } catch (e) {
    if (!(opts.tolerant && e instanceof GrammarError)) throw e;
  }
  return root;
}

/** Directives at a path of names, e.g. ["http", "server"]. */
export function nginxFind(tree: readonly NginxDirective[], path: readonly string[]): NginxDirective[] {
  const [head, ...rest] = path;
  if (head === undefined) return [];
  const here = tree.filter((d) => d.name === head);
  return rest.length === 0 ? here : here.flatMap((d) => nginxFind(d.children ?? [], rest));
}

/** Every `location [modifier] PATH { }` of every server, with its path. */
export function nginxLocations(
  tree: readonly NginxDirective[],
): { path: string; directive: NginxDirective }[] {
  return nginxFind(tree, ["http", "server", "location"]).map((d) => ({
    path: d.args[d.args.length - 1] ?? "",
    directive: d,
  }));
}
