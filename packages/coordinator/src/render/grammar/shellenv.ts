// The ksh environment files the jicofo and jvb wrappers source (/etc/jicofo/jicofo.in.sh, /etc/jvb/jvb.in.sh):
// `[export] NAME=WORD` lines, blank lines and `#` comments; WORD of bare characters, '...' and "..." parts.
// scanShellWord reads one such word as ksh does; parseKshAssignments reads the file the renderer writes
// and refuses an expansion ($, `), whose value would depend on the environment the wrapper runs in;
// envLineNames reads one line more loosely (several assignments, expansions) for a file a real shell sources.
import { GrammarError, type ReadOptions } from "./text.js";

/** One shell word as scanShellWord read it. */
export interface ShellWord {
  /** The word with its quotes removed and its escapes applied. */
  value: string;
  /** Index just past the word (at the blank that ends it, or where a problem stopped the scan). */
  end: number;
  /** Index of the first `$` or `` ` `` outside single quotes: the word expands something. */
  expansion?: number;
  /** A quote that is not closed before the end of the text: the scan stopped there. */
  unclosed?: number;
  /** An operator character outside quotes (`;&|<>()`) when they are asked for: the scan stopped there. */
  operator?: string;
}

const OPERATORS = ";&|<>()";

/**
 * The word that starts at `text[i]`, up to the first blank outside quotes (`isBlank`, default space and
 * tab). `operators`: stop at `;&|<>()` outside quotes, which end a command in ksh; without it they are
 * read as characters of the word.
 */
export function scanShellWord(
  text: string,
  i: number,
  opts: { operators?: boolean; isBlank?: (ch: string) => boolean } = {},
): ShellWord {
  const isBlank = opts.isBlank ?? ((ch: string) => ch === " " || ch === "\t");
  const out: ShellWord = { value: "", end: i };
  const expands = (at: number) => {
    out.expansion ??= at;
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (isBlank(ch)) break;
    if (ch === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { ...out, end: i, unclosed: i };
      out.value += text.slice(i + 1, end);
      i = end + 1;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') {
        if (text[j] === "$" || text[j] === "`") expands(j);
        if (text[j] === "\\" && '"\\$`'.includes(text[j + 1] ?? "")) j += 1;
        out.value += text[j++];
      }
      if (j >= text.length) return { ...out, end: i, unclosed: i };
      i = j + 1;
    } else if (ch === "\\") {
      out.value += text[i + 1] ?? "";
      i += 2;
    } else if (opts.operators && OPERATORS.includes(ch)) {
      return { ...out, end: i, operator: ch };
    } else {
      if (ch === "$" || ch === "`") expands(i);
      out.value += ch;
      i += 1;
    }
  }
  out.end = Math.min(i, text.length);
  return out;
}

/**
 * The variable names a `*.in.sh` line assigns, or why it is refused. Accepted: blank lines, comments,
 * `[export] NAME=VALUE [NAME=VALUE]... [# comment]` with VALUE made of plain, 'single' and "double" quoted
 * parts (each read by scanShellWord); refused: anything else (commands, `: ${X:=y}`, `;`,
 * pipes, redirections) and command substitution anywhere, since sourcing must not run anything
 * (test/validators' shellEnv checks every line with it before mksh sources the file).
 */
export function envLineNames(line: string): { names: string[] } | { reason: string } {
  if (/`|\$\(/.test(line)) return { reason: "command substitution" };
  let i = 0;
  const ws = (): void => {
    while (i < line.length && (line[i] === " " || line[i] === "\t")) i++;
  };
  ws();
  if (i === line.length || line[i] === "#") return { names: [] };
  if (/^export[ \t]/.test(line.slice(i))) {
    i += "export".length;
    ws();
  }
  const names: string[] = [];
  while (i < line.length && line[i] !== "#") {
    const m = /^[A-Za-z_][A-Za-z0-9_]*=/.exec(line.slice(i));
    if (!m) return { reason: "not an assignment" };
    names.push(m[0].slice(0, -1));
    const word = scanShellWord(line, i + m[0].length, { operators: true });
    if (word.unclosed !== undefined) return { reason: "quote not closed on this line" };
    if (word.operator !== undefined) return { reason: `"${word.operator}" outside quotes` };
    i = word.end;
    ws();
  }
  return { names };
}

/** Every variable the file assigns, with its value unquoted. */
export function parseKshAssignments(text: string, opts: ReadOptions = {}): Record<string, string> {
  const out: Record<string, string> = {};
  text.split("\n").forEach((raw, n) => {
    const fail = (reason: string) => new GrammarError(reason, n + 1, opts.file);
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) throw fail("not an assignment");
    const name = m[1]!;
    const word = m[2]!;
    const w = scanShellWord(word, 0, { isBlank: (ch) => /\s/.test(ch) });
    if (w.expansion !== undefined) throw fail(`expansion in ${name}`);
    if (w.unclosed !== undefined) throw fail("no closing quote");
    if (!/^\s*(#.*)?$/.test(word.slice(w.end))) throw fail("more than one word");
    out[name] = w.value;
  });
  return out;
}
