// The lexical layer shared by the pf.conf and vm.conf checkers. Both formats come from OpenBSD's
// yacc-style parse.y family: '#' comments to the end of the line, a backslash before the newline joins
// two lines, double-quoted strings, `name = value` macros expanded wherever `$name` appears outside
// quotes, and a newline that ends a statement. Every token keeps the physical line it started on, so
// that errors point at the line an operator has to edit.
//
// Pure: no Node APIs, so that the agent (and the pfctl/vmd test doubles) can run the same checks.

export interface Problem {
  /** 1-based physical line. */
  line: number;
  message: string;
}

export interface CheckResult {
  ok: boolean;
  errors: Problem[];
}

/** "error" stands where an undefined macro was used: the error is reported once, parsers skip the statement. */
export type TokenKind = "word" | "string" | "punct" | "macro" | "nl" | "error";

export interface Token {
  kind: TokenKind;
  /** For "string" the unquoted text; for "macro" the name without '$'. */
  text: string;
  line: number;
}

export interface LexOptions {
  /** Characters that are tokens of their own (e.g. "{}(),=!<>"). */
  punct: string;
  /** Two-character operators recognised before single punctuation (e.g. "!=", "<="). */
  ops?: readonly string[];
}

const MACRO_NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** Split `text` into tokens. Newlines become "nl" tokens (one per line end that is not continued). */
export function tokenize(text: string, opts: LexOptions): { tokens: Token[]; errors: Problem[] } {
  const tokens: Token[] = [];
  const errors: Problem[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  const isSpace = (c: string) => c === " " || c === "\t" || c === "\r";
  const isDelim = (c: string) =>
    isSpace(c) || c === "\n" || c === "#" || c === '"' || c === "\\" || opts.punct.includes(c);
  while (i < n) {
    const c = text[i]!;
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c === "\n") {
      tokens.push({ kind: "nl", text: "\n", line });
      line++;
      i++;
      continue;
    }
    if (c === "#") {
      // A comment runs to the end of the line; the newline itself still ends the statement.
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (c === "\\") {
      // Line continuation: a backslash immediately before the newline (blanks in between are tolerated,
      // as an invisible trailing blank is the classic way to break a continued pf.conf line).
      let j = i + 1;
      while (j < n && isSpace(text[j]!)) j++;
      if (j >= n) {
        i = j;
        continue;
      }
      if (text[j] === "\n") {
        line++;
        i = j + 1;
        continue;
      }
      errors.push({ line, message: "stray backslash (only a backslash at the end of a line continues it)" });
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = "";
      let closed = false;
      while (j < n) {
        const d = text[j]!;
        if (d === "\n") break;
        if (d === "\\" && text[j + 1] === '"') {
          value += '"';
          j += 2;
          continue;
        }
        if (d === '"') {
          closed = true;
          j++;
          break;
        }
        value += d;
        j++;
      }
      if (!closed) errors.push({ line, message: "unterminated quoted string" });
      tokens.push({ kind: "string", text: value, line });
      i = j;
      continue;
    }
    if (c === "$") {
      const m = MACRO_NAME.exec(text.slice(i + 1));
      if (!m) {
        errors.push({ line, message: "'$' must be followed by a macro name" });
        i++;
        continue;
      }
      tokens.push({ kind: "macro", text: m[0], line });
      i += 1 + m[0].length;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (opts.ops?.includes(two)) {
      tokens.push({ kind: "punct", text: two, line });
      i += 2;
      continue;
    }
    if (opts.punct.includes(c)) {
      tokens.push({ kind: "punct", text: c, line });
      i++;
      continue;
    }
    let j = i;
    while (j < n && !isDelim(text[j]!) && text[j] !== "$") j++;
    tokens.push({ kind: "word", text: text.slice(i, j), line });
    i = j;
  }
  return { tokens, errors };
}

export interface MacroDefinition {
  name: string;
  value: string;
  line: number;
}

/**
 * Apply macro definitions and uses, in file order, the way the OpenBSD lexers do: a line `name = value`
 * (at the start of a statement) defines a macro whose value is the concatenation of the following
 * strings, words and already-defined macros; a `$name` elsewhere is replaced by the tokens of its value,
 * which carry the line of the use. A use before the definition is an error, as with pfctl(8).
 *
 * `isKeyword` rejects macro names that the real lexer would have returned as a keyword token, which
 * makes the definition a syntax error there.
 */
export function expandMacros(
  tokens: readonly Token[],
  lex: LexOptions,
  isKeyword: (word: string) => boolean,
): { tokens: Token[]; macros: MacroDefinition[]; errors: Problem[] } {
  const out: Token[] = [];
  const errors: Problem[] = [];
  const macros = new Map<string, MacroDefinition>();
  let atStart = true;
  let i = 0;
  // The value is lexed again at the use, like pfctl pushing it back into its input: a "$b" inside a
  // quoted value is expanded then. The depth bound stops a macro that refers to itself.
  const expand = (name: string, line: number, depth = 0): Token[] => {
    const def = macros.get(name);
    if (!def) {
      errors.push({ line, message: `macro '${name}' not defined (a macro must be defined before its use)` });
      return [{ kind: "error", text: `$${name}`, line }];
    }
    if (depth > 16) {
      errors.push({ line, message: `macro '${name}' expands into itself` });
      return [{ kind: "error", text: `$${name}`, line }];
    }
    const inner = tokenize(def.value, lex);
    for (const e of inner.errors) errors.push({ line, message: `in macro '${name}': ${e.message}` });
    return inner.tokens
      .filter((t) => t.kind !== "nl")
      .flatMap((t) => (t.kind === "macro" ? expand(t.text, line, depth + 1) : [{ ...t, line }]));
  };
  while (i < tokens.length) {
    const t = tokens[i]!;
    const next = tokens[i + 1];
    if (atStart && t.kind === "word" && next?.kind === "punct" && next.text === "=") {
      const name = t.text;
      let j = i + 2;
      const parts: string[] = [];
      let bad = false;
      while (j < tokens.length && tokens[j]!.kind !== "nl") {
        const v = tokens[j]!;
        if (v.kind === "string") parts.push(v.text);
        else if (v.kind === "word" && !isKeyword(v.text)) parts.push(v.text);
        else if (v.kind === "macro") {
          const d = macros.get(v.text);
          if (d) parts.push(d.value);
          else {
            errors.push({
              line: v.line,
              message: `macro '${v.text}' not defined (a macro must be defined before its use)`,
            });
            bad = true;
          }
        } else if (!bad) {
          errors.push({
            line: v.line,
            message: `macro '${name}': unexpected ${JSON.stringify(v.text)} in the value; quote a list value, e.g. ${name} = "{ a b }"`,
          });
          bad = true;
        }
        j++;
      }
      if (!MACRO_NAME.test(name) || MACRO_NAME.exec(name)![0] !== name) {
        errors.push({ line: t.line, message: `invalid macro name '${name}' (letters, digits and '_')` });
      } else if (isKeyword(name)) {
        errors.push({ line: t.line, message: `macro name '${name}' is a reserved keyword` });
      } else if (parts.length === 0 && !bad) {
        errors.push({ line: t.line, message: `macro '${name}' has no value` });
      } else if (!bad) {
        macros.set(name, { name, value: parts.join(" "), line: t.line });
      }
      i = j;
      continue;
    }
    if (t.kind === "macro") {
      out.push(...expand(t.text, t.line));
      atStart = false;
      i++;
      continue;
    }
    out.push(t);
    atStart = t.kind === "nl";
    i++;
  }
  return { tokens: out, macros: [...macros.values()], errors };
}

/** A format of the parse.y family: how it is lexed, its keywords, and the reader of its expanded tokens. */
export interface TokenGrammar<C> {
  lex: LexOptions;
  /** Words the real lexer returns as keywords: never a macro name. */
  isKeyword: (word: string) => boolean;
  /** The format's structure from the expanded tokens; its problems are appended to `errors`. */
  read(tokens: Token[], macros: Record<string, string>, errors: Problem[]): C;
}

/**
 * Both checkers' frame: lex `text`, expand its macros, read the tokens with the grammar, and return the
 * problems of all three steps sorted by line. `macros` maps each defined name to its value.
 */
export function parseWith<C>(text: string, grammar: TokenGrammar<C>): { conf: C; errors: Problem[] } {
  const lexed = tokenize(text, grammar.lex);
  const expanded = expandMacros(lexed.tokens, grammar.lex, grammar.isKeyword);
  const macros = Object.fromEntries(expanded.macros.map((m) => [m.name, m.value]));
  const errors = [...lexed.errors, ...expanded.errors];
  const conf = grammar.read(expanded.tokens, macros, errors);
  return { conf, errors: byLine(errors) };
}

/** parseWith's problems as a CheckResult: ok when there are none. */
export function checkWith<C>(text: string, grammar: TokenGrammar<C>): CheckResult {
  const { errors } = parseWith(text, grammar);
  return { ok: errors.length === 0, errors };
}

/** Sort problems by line (stable) so that reports read top to bottom. */
function byLine(problems: Problem[]): Problem[] {
  return problems
    .map((p, i) => [p, i] as const)
    .sort((a, b) => a[0].line - b[0].line || a[1] - b[1])
    .map(([p]) => p);
}
