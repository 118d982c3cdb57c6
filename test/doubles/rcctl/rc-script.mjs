// rc.d scripts as rc.subr sees them, for the rcctl TEST DOUBLE (not OpenBSD code): the script's
// variables after sourcing rc.subr, with rc.conf's overrides. "ref §N" = section N of docs/openbsd-rc.md.
//
// Scripts are parsed as text (never run by a shell). Supported: NAME=word assignments (single/double
// quotes, $var, ${var}, ${var:-w}, ${var:+w}, ${var-w}, ${var+w}), ". /etc/rc.d/rc.subr", "rc_cmd $1",
// comments; function definitions are recorded by name and skipped. Anything needing a shell
// (command substitution, backquotes) is an error rather than a silent guess.

export class ScriptError extends Error {}

function expandAt(s, i, vars) {
  // s[i] === "$"
  const next = s[i + 1];
  if (next === "(" || next === "`")
    throw new ScriptError("command substitution is not supported by the double");
  if (next === "{") {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)(:?[-+=?])?/.exec(s.slice(i + 2));
    if (!m) throw new ScriptError(`unsupported parameter expansion near ${s.slice(i, i + 20)}`);
    const name = m[1];
    let j = i + 2 + m[0].length;
    let word = "";
    if (m[2]) {
      const r = parseChars(s, j, vars, "}");
      word = r.value;
      j = r.end;
    }
    if (s[j] !== "}") throw new ScriptError(`unterminated \${ near ${s.slice(i, i + 20)}`);
    const set = vars.has(name);
    const val = vars.get(name) ?? "";
    let out = val;
    switch (m[2]) {
      case ":-":
        out = val === "" ? word : val;
        break;
      case "-":
        out = set ? val : word;
        break;
      case ":+":
        out = val === "" ? "" : word;
        break;
      case "+":
        out = set ? word : "";
        break;
      case ":=":
      case "=":
      case ":?":
      case "?":
        throw new ScriptError(`\${${name}${m[2]}...} is not supported by the double`);
    }
    return { value: out, end: j + 1 };
  }
  const m = /^([A-Za-z_][A-Za-z0-9_]*|[0-9#@*?$!-])/.exec(s.slice(i + 1));
  if (!m) return { value: "$", end: i + 1 };
  const name = m[1];
  return { value: /^[A-Za-z_]/.test(name) ? (vars.get(name) ?? "") : "", end: i + 1 + name.length };
}

// "$..." is expanded and "`" refused alike inside double quotes and outside; null for any other character.
function expansion(s, i, vars) {
  if (s[i] === "$") return expandAt(s, i, vars);
  if (s[i] === "`") throw new ScriptError("command substitution is not supported by the double");
  return null;
}

// Parse a shell word from s[i]; stops at unquoted blank (or at `stop` when given, for ${v:+word}).
function parseChars(s, i, vars, stop) {
  let out = "";
  while (i < s.length) {
    const c = s[i];
    if (stop ? c === stop : c === " " || c === "\t") break;
    if (c === "'") {
      const j = s.indexOf("'", i + 1);
      if (j < 0) throw new ScriptError("unterminated single quote");
      out += s.slice(i + 1, j);
      i = j + 1;
    } else if (c === '"') {
      i++;
      while (i < s.length && s[i] !== '"') {
        const d = s[i];
        if (d === "\\" && i + 1 < s.length && '$`"\\'.includes(s[i + 1])) {
          out += s[i + 1];
          i += 2;
        } else {
          const r = expansion(s, i, vars) ?? { value: d, end: i + 1 };
          out += r.value;
          i = r.end;
        }
      }
      if (s[i] !== '"') throw new ScriptError("unterminated double quote");
      i++;
    } else if (c === "\\") {
      out += s[i + 1] ?? "";
      i += 2;
    } else {
      const r = expansion(s, i, vars);
      if (!r && !stop && ";|&<>()".includes(c)) {
        throw new ScriptError(`shell syntax '${c}' in an assignment is not supported by the double`);
      }
      out += r ? r.value : c;
      i = r ? r.end : i + 1;
    }
  }
  return { value: out, end: i };
}

/**
 * Evaluate an rc.d script the way rc.subr would see it.
 * mode "defaults": what rcctl's getdef sees (rc.subr sourced with FUNCS_ONLY: script values only, plus
 *   rcctl's defaults class=daemon rtable=0 timeout=30 user=root).
 * mode "run": what "/etc/rc.d/NAME ACTION" sees: rc.conf(.local) overrides applied when rc.subr is
 *   sourced (X_flags=NO kept only for start without -f, ref §1), default pexp "daemon[ flags]" (ref §2),
 *   then the script's post-rc.subr lines (pexp=, rc_bg=, rc_reload=, ...).
 */
export function evalRcScript(
  text,
  { name, mode, conf = new Map(), action = "", force = false, daemonClass = "daemon" },
) {
  const vars = new Map();
  const funcs = new Set();
  let sourced = false;
  let meta = false;
  const applyRcSubr = () => {
    sourced = true;
    if (mode !== "run") return;
    let rcflags = conf.get(`${name}_flags`) ?? "";
    if ((force || action !== "start") && rcflags === "NO") rcflags = "";
    vars.set("daemon_class", daemonClass);
    if (!vars.get("daemon_rtable")) vars.set("daemon_rtable", "0");
    if (!vars.get("daemon_timeout")) vars.set("daemon_timeout", "30");
    if (!vars.get("daemon_user")) vars.set("daemon_user", "root");
    if (rcflags !== "") vars.set("daemon_flags", rcflags);
    for (const v of ["execdir", "logger", "rtable", "timeout", "user"]) {
      const c = conf.get(`${name}_${v}`) ?? "";
      if (c !== "") vars.set(`daemon_${v}`, c);
    }
    const daemon = vars.get("daemon") ?? "";
    const flags = vars.get("daemon_flags") ?? "";
    vars.set("pexp", `${daemon}${flags ? ` ${flags}` : ""}`);
    vars.set("rc_reload_signal", "HUP");
    vars.set("rc_stop_signal", "TERM");
    vars.set("rc_usercheck", "YES");
  };
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === "" || line.startsWith("#")) continue;
    if (/^\.\s+\/etc\/rc\.d\/rc\.subr$/.test(line)) {
      applyRcSubr();
      continue;
    }
    if (/^rc_cmd\b/.test(line)) break;
    const fn = /^([A-Za-z_][A-Za-z0-9_]*)\s*\(\)/.exec(line);
    if (fn) {
      funcs.add(fn[1]);
      // skip the body: up to a line that is just "}" (or a one-line body ending in "}")
      if (!/}\s*$/.test(line)) while (n + 1 < lines.length && lines[++n].trim() !== "}");
      continue;
    }
    const as = /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(line);
    if (as) {
      if (as[1] === "_pkg_scripts") meta = true;
      const r = parseChars(line, as[0].length, vars);
      const rest = line.slice(r.end).trim();
      if (rest !== "" && !rest.startsWith("#")) {
        throw new ScriptError(
          `line ${n + 1}: "${line}" is not a plain assignment (unsupported by the double)`,
        );
      }
      vars.set(as[1], r.value);
    }
    // other shell statements (tests, if/fi, export) are ignored
  }
  if (mode === "defaults") {
    vars.set("daemon_class", daemonClass);
    if (!vars.get("daemon_rtable")) vars.set("daemon_rtable", "0");
    if (!vars.get("daemon_timeout")) vars.set("daemon_timeout", "30");
    if (!vars.get("daemon_user")) vars.set("daemon_user", "root");
  } else if (!sourced) {
    applyRcSubr();
  }
  const get = (k) => vars.get(k) ?? "";
  return {
    daemon: get("daemon"),
    daemon_class: get("daemon_class"),
    daemon_execdir: get("daemon_execdir"),
    daemon_flags: get("daemon_flags"),
    daemon_logger: get("daemon_logger"),
    daemon_rtable: get("daemon_rtable"),
    daemon_timeout: get("daemon_timeout"),
    daemon_user: get("daemon_user"),
    pexp: get("pexp"),
    rc_bg: get("rc_bg"),
    rc_reload: get("rc_reload"),
    rc_reload_signal: get("rc_reload_signal"),
    rc_stop_signal: get("rc_stop_signal"),
    rc_usercheck: get("rc_usercheck"),
    funcs,
    meta,
  };
}
