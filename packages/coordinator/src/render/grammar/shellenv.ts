// The ksh environment files the jicofo and jvb wrappers source (/etc/jicofo/jicofo.in.sh, /etc/jvb/jvb.in.sh):
// `[export] NAME=WORD` lines, blank lines and `#` comments; WORD of bare characters, '...' and "..." parts.
// An expansion ($, `) is refused: the value would depend on the environment the wrapper runs in.
import { GrammarError, type ReadOptions } from "./text.js";

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
    let v = "";
    let i = 0;
    while (i < word.length) {
      const ch = word[i]!;
      if (ch === "'") {
        const end = word.indexOf("'", i + 1);
        if (end < 0) throw fail("no closing quote");
        v += word.slice(i + 1, end);
        i = end + 1;
      } else if (ch === '"') {
        let j = i + 1;
        while (j < word.length && word[j] !== '"') {
          if (word[j] === "$" || word[j] === "`") throw fail(`expansion in ${name}`);
          if (word[j] === "\\" && '"\\$`'.includes(word[j + 1] ?? "")) j += 1;
          v += word[j++];
        }
        if (j >= word.length) throw fail("no closing quote");
        i = j + 1;
      } else if (ch === "\\") {
        v += word[i + 1] ?? "";
        i += 2;
      } else if (ch === "$" || ch === "`") {
        throw fail(`expansion in ${name}`);
      } else if (/\s/.test(ch)) {
        if (!/^\s*(#.*)?$/.test(word.slice(i))) throw fail("more than one word");
        break;
      } else {
        v += ch;
        i += 1;
      }
    }
    out[name] = v;
  });
  return out;
}
