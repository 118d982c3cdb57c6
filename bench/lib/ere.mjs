// JavaScript regular expressions of the rule table -> POSIX extended regular expressions for GNU grep -E,
// so that grep searches for the same patterns the classifier does. Only the syntax the rules use:
//   (?:x) -> (x); lazy quantifiers -> greedy (whether a line matches does not change);
//   \t -> a literal tab; \d \s \S \w \W -> bracket expressions (GNU grep also knows \s \S \w \W \b \B outside brackets);
//   inside brackets: \s -> [:space:], \d -> 0-9, \w -> [:alnum:]_, \] first, \- last, \n dropped (a line
//   holds no newline); (?=x) -> (x) (every lookahead in the rules sits at the end of a match, where
//   consuming it changes nothing for grep); (?!x) -> nothing (one jicofo rule: grep then counts a few lines
//   more than the classifier, which only makes grep's job heavier, not lighter).
// Anything else unusual throws, so a new kind of rule is noticed instead of being searched for wrongly.

const ERE_SPECIAL = new Set([".", "[", "]", "(", ")", "*", "+", "?", "{", "}", "|", "^", "$", "\\"]);
const OUTSIDE = {
  d: "[0-9]",
  D: "[^0-9]",
  s: "[[:space:]]",
  S: "[^[:space:]]",
  w: "[[:alnum:]_]",
  W: "[^[:alnum:]_]",
};

function bracket(src, i) {
  // src[i] === "["; returns [ere, next index]
  let j = i + 1;
  let negate = false;
  if (src[j] === "^") {
    negate = true;
    j++;
  }
  const items = [];
  let closeBracket = false;
  let dash = false;
  let caret = false;
  let first = true;
  for (; j < src.length; j++) {
    const c = src[j];
    if (c === "]" && !first) break;
    first = false;
    if (c === "\\") {
      const e = src[++j];
      if (e === "s") items.push("[:space:]");
      else if (e === "d") items.push("0-9");
      else if (e === "w") items.push("[:alnum:]_");
      else if (e === "n" || e === "r") {
        // no newline inside a line
      } else if (e === "t") items.push("\t");
      else if (e === "S" || e === "D" || e === "W") throw new Error(`\\${e} inside brackets in ${src}`);
      else if (e === "]") closeBracket = true;
      else if (e === "-") dash = true;
      else if (e === "^") caret = true;
      else items.push(e);
      continue;
    }
    if (c === "]") closeBracket = true;
    else if (c === "-" && (items.length === 0 || src[j + 1] === "]")) dash = true;
    else if (c === "-") {
      // a range: the previous item's last character to the next one
      const to = src[++j];
      if (to === "\\") throw new Error(`escaped range end in ${src}`);
      items[items.length - 1] += `-${to}`;
    } else if (c === "^") caret = true;
    else items.push(c);
  }
  if (src[j] !== "]") throw new Error(`unterminated [ in ${src}`);
  const body = `${closeBracket ? "]" : ""}${items.join("")}${caret ? "^" : ""}${dash ? "-" : ""}`;
  if (body === "") {
    // [^\n]: any character of a line
    if (negate) return [".", j + 1];
    throw new Error(`empty bracket in ${src}`);
  }
  return [`[${negate ? "^" : ""}${body}]`, j + 1];
}

/** The ERE for grep -E of a JavaScript RegExp without flags. */
export function toEre(re) {
  if (re.flags.replace(/[gdsuy]/g, "") !== "")
    throw new Error(`flags ${re.flags} not supported: /${re.source}/`);
  const src = re.source;
  let out = "";
  for (let i = 0; i < src.length; ) {
    const c = src[i];
    if (c === "\\") {
      const e = src[i + 1];
      if (OUTSIDE[e]) out += OUTSIDE[e];
      else if (e === "b" || e === "B") out += `\\${e}`;
      else if (/[0-9]/.test(e)) throw new Error(`backreference in ${src}`);
      else if (e === "t")
        out += "\t"; // a literal tab: ERE has no escape for it
      else if (e === "n" || e === "r") throw new Error(`\\${e} outside brackets in ${src}`);
      else out += ERE_SPECIAL.has(e) ? `\\${e}` : e;
      i += 2;
    } else if (c === "[") {
      const [b, next] = bracket(src, i);
      out += b;
      i = next;
    } else if (c === "(" && src[i + 1] === "?") {
      const kind = src[i + 2];
      if (kind === ":" || kind === "=") {
        out += "(";
        i += 3;
      } else if (kind === "!") {
        // drop the whole negative lookahead group
        let depth = 0;
        let j = i;
        for (; j < src.length; j++) {
          if (src[j] === "\\") {
            j++;
            continue;
          }
          if (src[j] === "(") depth++;
          else if (src[j] === ")" && --depth === 0) break;
        }
        i = j + 1;
      } else if (kind === "<" && src[i + 3] !== "=" && src[i + 3] !== "!") {
        out += "(";
        i = src.indexOf(">", i) + 1;
      } else throw new Error(`group (?${kind} not supported in ${src}`);
    } else if ((c === "*" || c === "+" || c === "?" || c === "}") && src[i + 1] === "?") {
      out += c;
      i += 2;
    } else {
      out += c;
      i += 1;
    }
  }
  return out;
}
