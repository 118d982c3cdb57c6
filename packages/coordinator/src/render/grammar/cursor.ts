// The token cursor the pf.conf and vm.conf parsers walk a statement with, and the failure that ends a
// statement. Each parser extends the cursor with what its grammar needs (pf's lists, vm.conf's options
// one per line and its recovery after an error).
import type { Problem, Token } from "./tokenize.js";

/** Ends the statement being parsed; `problem` is reported unless `silent` (its cause already was). */
export class SyntaxFailure extends Error {
  constructor(
    readonly problem: Problem,
    readonly silent = false,
  ) {
    super(problem.message);
  }
}

/** A token as an error message quotes it. */
export function show(t: Token | undefined): string {
  if (!t || t.kind === "nl") return "end of line";
  return t.kind === "string" ? `"${t.text}"` : `'${t.text}'`;
}

export class TokenCursor {
  i = 0;
  constructor(readonly ts: readonly Token[]) {}
  peek(offset = 0): Token | undefined {
    return this.ts[this.i + offset];
  }
  next(): Token | undefined {
    const t = this.peek();
    if (t) this.i++;
    return t;
  }
  done(): boolean {
    return this.i >= this.ts.length;
  }
  /** The current token is the word (or punctuation) `text`. */
  is(text: string): boolean {
    const t = this.peek();
    return t !== undefined && (t.kind === "word" || t.kind === "punct") && t.text === text;
  }
  accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.i++;
    return true;
  }
  expect(text: string, what: string): Token {
    const t = this.peek();
    if (!this.accept(text)) throw this.fail(t, `expected ${what}, found ${show(t)}`);
    return t!;
  }
  fail(t: Token | undefined, message: string): SyntaxFailure {
    return new SyntaxFailure({ line: t?.line ?? this.lineWithoutToken(), message });
  }
  /** The line a failure with no token names: the current token's, else the statement's last. */
  protected lineWithoutToken(): number {
    return (this.ts[this.i] ?? this.ts[this.ts.length - 1])?.line ?? 0;
  }
}
