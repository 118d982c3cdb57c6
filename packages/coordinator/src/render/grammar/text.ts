// What the readers of rendered configuration files (hocon, lua, nginx, configjs, shellenv, properties,
// turnserver, hosts) share: the error they throw, the white space and comments between tokens, and a
// lookup by dotted path. Pure: no Node APIs.

/**
 * A file a reader cannot read. The message names the place: `FILE:LINE: reason` when the caller gave
 * the file's name, `line LINE: reason` otherwise; a problem found only at the end of the text (a block
 * left open) has no line.
 */
export class GrammarError extends Error {
  constructor(
    readonly reason: string,
    readonly line?: number,
    readonly file?: string,
  ) {
    super(`${place(file, line)}${reason}`);
    this.name = "GrammarError";
  }
}

function place(file: string | undefined, line: number | undefined): string {
  if (file !== undefined) return line === undefined ? `${file}: ` : `${file}:${line}: `;
  return line === undefined ? "" : `line ${line}: `;
}

/** Options every reader takes. */
export interface ReadOptions {
  /** The file's name, put in front of the line of a parse error (`/etc/jvb/jvb.conf:12: ...`). */
  file?: string;
}

/** Comment syntax for skipBlank: a line comment's opener, and a block comment's opener and closer. */
export interface CommentSyntax {
  line: string;
  block?: readonly [string, string];
}

/**
 * Past the white space (counting newlines) and comments at `i`: where the next token starts, and on
 * which line. A block comment is tried before the line comment, whose opener it may start with.
 */
export function skipBlank(
  text: string,
  i: number,
  line: number,
  comments: CommentSyntax,
  file?: string,
): { i: number; line: number } {
  for (;;) {
    const ch = text[i];
    if (ch === undefined) return { i, line };
    if (ch === "\n") {
      line += 1;
      i += 1;
    } else if (/\s/.test(ch)) i += 1;
    else if (comments.block && text.startsWith(comments.block[0], i)) {
      const end = text.indexOf(comments.block[1], i);
      if (end < 0) throw new GrammarError("unterminated comment", line, file);
      line += text.slice(i, end).split("\n").length - 1;
      i = end + comments.block[1].length;
    } else if (text.startsWith(comments.line, i)) {
      while (i < text.length && text[i] !== "\n") i += 1;
    } else return { i, line };
  }
}

/** An object of string keys (not an array, not null). */
export function isRecord(v: unknown): v is { [key: string]: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The value at a dotted path of nested objects (keys without dots), or undefined. */
export function valueAt(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const k of path.split(".")) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}
