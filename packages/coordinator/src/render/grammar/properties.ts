// java.util.Properties, as jvb reads sip-communicator.properties with Properties.load: `key=value`,
// `key: value` and `key value` lines, `#` and `!` comments, backslash escapes (`\t`, `\uXXXX`, ...) and a
// line ending in an odd number of backslashes continued on the next. The format has no syntax error:
// Properties.load reads every line as something.

/** The properties in the text; a key given twice keeps its last value, as Properties.load does. */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let n = 0; n < lines.length; n += 1) {
    let line = lines[n]!.replace(/^[ \t\f]+/, "");
    if (line === "" || line.startsWith("#") || line.startsWith("!")) continue;
    // A line ending in an odd number of backslashes continues on the next one (leading blanks dropped).
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && n + 1 < lines.length) {
      n += 1;
      line = line.slice(0, -1) + lines[n]!.replace(/^[ \t\f]+/, "");
    }
    let i = 0;
    let key = "";
    while (i < line.length && !"=: \t\f".includes(line[i]!)) {
      if (line[i] === "\\") {
        key += unescapeProp(line, i);
        i += line[i + 1] === "u" ? 6 : 2;
      } else key += line[i++];
    }
    while (i < line.length && " \t\f".includes(line[i]!)) i += 1;
    if (line[i] === "=" || line[i] === ":") i += 1;
    while (i < line.length && " \t\f".includes(line[i]!)) i += 1;
    let value = "";
    while (i < line.length) {
      if (line[i] === "\\") {
        value += unescapeProp(line, i);
        i += line[i + 1] === "u" ? 6 : 2;
      } else value += line[i++];
    }
    out[key] = value;
  }
  return out;
}

function unescapeProp(line: string, i: number): string {
  const e = line[i + 1] ?? "";
  if (e === "u") return String.fromCharCode(Number.parseInt(line.slice(i + 2, i + 6), 16));
  return e === "t" ? "\t" : e === "n" ? "\n" : e === "r" ? "\r" : e === "f" ? "\f" : e;
}
