// ksh environment files (jicofo.in.sh, jvb.in.sh): NAME=value lines, '...' literal, "..." with $NAME
// expansion of names set before, `export` ignored.

export function parseKshEnv(text) {
  const env = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/^export\s+/, "");
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let rest = m[2];
    let val = "";
    while (rest.length > 0 && !/^\s/.test(rest)) {
      if (rest[0] === "'") {
        const j = rest.indexOf("'", 1);
        if (j < 0) throw new Error(`ksh: unterminated quote in ${m[1]}`);
        val += rest.slice(1, j);
        rest = rest.slice(j + 1);
      } else if (rest[0] === '"') {
        let j = 1;
        while (j < rest.length && rest[j] !== '"') {
          if (rest[j] === "\\" && j + 1 < rest.length) {
            val += rest[j + 1];
            j += 2;
          } else if (rest[j] === "$") {
            const v = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/.exec(rest.slice(j));
            if (v) {
              val += env[v[1]] ?? "";
              j += v[0].length;
            } else val += rest[j++];
          } else val += rest[j++];
        }
        rest = rest.slice(j + 1);
      } else if (rest[0] === "#") {
        break;
      } else {
        const w = /^[^\s'"]+/.exec(rest)[0];
        val += w.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n) => env[n] ?? "");
        rest = rest.slice(w.length);
      }
    }
    env[m[1]] = val;
  }
  return env;
}
