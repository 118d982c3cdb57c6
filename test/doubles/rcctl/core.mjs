// Shared pieces of the rcctl(8) TEST DOUBLE (not OpenBSD code): fake-root layout, rc.conf parsing,
// textual rc.d script parsing, pgrep-like process lookup and syslog routing. Used by rcctl.mjs (the CLI),
// logger.mjs (the logger(1)/syslogd stand-in) and index.ts (test helpers).
// Behaviour follows docs/openbsd-rc.md sections 1-3 ("ref §N" below).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** Environment marker put on every daemon the double starts; value = the fake root (realpath). */
export const DAEMON_MARK = "RCCTL_DOUBLE_DAEMON";
/** Environment marker put on the logger(1) stand-ins the double starts. */
export const LOGGER_MARK = "RCCTL_DOUBLE_LOGGER";

/** Daemons started by OpenBSD's /etc/rc (start_daemon lines); everything else is a package daemon. */
export const BASE_DAEMONS = new Set(
  (
    "amd apmd bgpd bootparamd cron dhcp6leased dhcpd dhcpleased dhcrelay dhcrelay6 dvmrpd eigrpd ftpd " +
    "ftpproxy ftpproxy6 hostapd hotplugd httpd identd ifstated iked inetd isakmpd iscsid ldapd ldattach " +
    "ldpd lockd lpd mopd mountd mrouted nfsd npppd nsd ntpd ospf6d ospfd pflogd portmap rad radiusd rarpd " +
    "rbootd relayd resolvd ripd route6d sasyncd sensorsd slaacd slowcgi smtpd sndiod snmpd spamd spamlogd " +
    "sshd statd syslogd tftpd tftpproxy unbound unwind vmd watchdogd wsmoused xenodm ypbind ypldap ypserv"
  ).split(" "),
);

/** rcctl's "special" services: plain YES/NO variables in rc.conf, no rc.d script; value = default. */
export const SPECIALS = {
  accounting: "NO",
  check_quotas: "YES",
  ipsec: "NO",
  library_aslr: "YES",
  multicast: "NO",
  pf: "YES",
  spamd_black: "NO",
};

// Base daemons enabled by default (empty flags) in OpenBSD's /etc/rc.conf; the other base daemons are
// written as X_flags=NO. Written by the double itself, not copied from OpenBSD.
const BASE_ON_BY_DEFAULT = new Set([
  "cron",
  "dhcpleased",
  "ntpd",
  "pflogd",
  "resolvd",
  "slaacd",
  "smtpd",
  "sndiod",
  "sshd",
  "syslogd",
]);

export function defaultRcConf() {
  const lines = [
    "# rc.conf of the rcctl TEST DOUBLE's fake root: base daemon defaults (X_flags=NO means off by default).",
    "# Like OpenBSD's /etc/rc.conf, do not edit: rcctl writes rc.conf.local.",
  ];
  const entries = [];
  for (const d of BASE_DAEMONS) entries.push(`${d}_flags=${BASE_ON_BY_DEFAULT.has(d) ? "" : "NO"}`);
  for (const [k, v] of Object.entries(SPECIALS)) entries.push(`${k}=${v}`);
  entries.push("pkg_scripts=", "shlib_dirs=");
  entries.sort();
  return `${[...lines, "", ...entries].join("\n")}\n`;
}

// A reduced syslog.conf (ref §3, from openbsd/src etc/syslog.conf: daemon.info goes to /var/log/daemon).
// Composed for the double.
export const DEFAULT_SYSLOG_CONF = [
  "# syslog.conf of the rcctl TEST DOUBLE's fake root (reduced; program blocks like !jicofo may follow).",
  "*.notice;auth,authpriv,cron,ftp,kern,lpr,mail,user.none\t/var/log/messages",
  "daemon.info\t\t\t\t\t\t/var/log/daemon",
  "",
].join("\n");

/** Resolve and sanity-check the fake root: it must exist and must not be the real "/". */
export function resolveRoot(root) {
  if (!root) throw new Error("rcctl test double: RCCTL_DOUBLE_ROOT is not set; refusing to run");
  const real = fs.realpathSync(root);
  if (real === "/") throw new Error("rcctl test double: RCCTL_DOUBLE_ROOT resolves to /; refusing to run");
  return real;
}

/** Map a path of the fake VM ("/etc/rc.conf") into the fake root. */
export function inRoot(root, p) {
  return path.join(root, p);
}

/**
 * First use of a fake root: create the layout a fresh OpenBSD install has (rc.conf with defaults,
 * syslog.conf, /var/log/daemon and /var/log/messages, /var/run/rc.d). Later runs never re-create files
 * a test removed on purpose (syslogd does not create missing log files, ref §3).
 */
export function ensureRoot(root) {
  const state = inRoot(root, "/var/run/rcctl-double");
  if (fs.existsSync(state)) return;
  for (const d of ["/etc/rc.d", "/var/run/rc.d", "/var/log"])
    fs.mkdirSync(inRoot(root, d), { recursive: true });
  const writeIfAbsent = (p, text) => {
    try {
      fs.writeFileSync(inRoot(root, p), text, { flag: "wx", mode: 0o644 });
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
  };
  writeIfAbsent("/etc/rc.conf", defaultRcConf());
  writeIfAbsent("/etc/syslog.conf", DEFAULT_SYSLOG_CONF);
  writeIfAbsent("/var/log/daemon", "");
  writeIfAbsent("/var/log/messages", "");
  fs.mkdirSync(state, { recursive: true });
}

const CONF_SPECIAL_KEYS = new Set([
  "accounting",
  "amd_master",
  "check_quotas",
  "ipsec",
  "library_aslr",
  "multicast",
  "nfs_server",
  "pexp",
  "pf",
  "pkg_scripts",
  "shlib_dirs",
  "spamd_black",
]);

/**
 * rc.subr's _rc_parse_conf (ref §1): key=value lines only, keys lower-cased and limited to
 * *_execdir|flags|logger|rtable|timeout|user and a few specials; text after '#' dropped; one level of
 * surrounding quotes stripped; no shell expansion. Later files/lines override earlier ones.
 */
export function parseConfText(text, into = new Map()) {
  for (const raw of text.split("\n")) {
    const l = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (!/^[^#=][^=]*=/.test(l)) continue;
    const eq = l.indexOf("=");
    const key = l
      .slice(0, eq)
      .replace(/[ \t]+$/, "")
      .toLowerCase();
    if (key === "") continue;
    if (!/_(execdir|flags|logger|rtable|timeout|user)$/.test(key) && !CONF_SPECIAL_KEYS.has(key)) continue;
    let val = l.slice(eq + 1).replace(/^[ \t]+/, "");
    const hash = val.indexOf("#");
    if (hash >= 0) val = val.slice(0, hash);
    val = val.replace(/[ \t]+$/, "");
    if (
      val.length >= 2 &&
      ((val.startsWith('"') && val.endsWith('"')) || (val.startsWith("'") && val.endsWith("'")))
    ) {
      val = val.slice(1, -1);
    }
    into.set(key, val);
  }
  return into;
}

export function readConf(root, files = ["/etc/rc.conf", "/etc/rc.conf.local"]) {
  const conf = new Map();
  for (const f of files) {
    let text;
    try {
      text = fs.readFileSync(inRoot(root, f), "utf8");
    } catch (e) {
      if (e.code === "ENOENT") continue;
      throw e;
    }
    parseConfText(text, conf);
  }
  return conf;
}

// ---------------------------------------------------------------------------------------------------
// rc.d scripts, parsed as text (never run by a shell). Supported: NAME=word assignments (single/double
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
        } else if (d === "$") {
          const r = expandAt(s, i, vars);
          out += r.value;
          i = r.end;
        } else if (d === "`") {
          throw new ScriptError("command substitution is not supported by the double");
        } else {
          out += d;
          i++;
        }
      }
      if (s[i] !== '"') throw new ScriptError("unterminated double quote");
      i++;
    } else if (c === "\\") {
      out += s[i + 1] ?? "";
      i += 2;
    } else if (c === "$") {
      const r = expandAt(s, i, vars);
      out += r.value;
      i = r.end;
    } else if (c === "`") {
      throw new ScriptError("command substitution is not supported by the double");
    } else if (!stop && ";|&<>()".includes(c)) {
      throw new ScriptError(`shell syntax '${c}' in an assignment is not supported by the double`);
    } else {
      out += c;
      i++;
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

// ---------------------------------------------------------------------------------------------------
// Processes. pgrep -xf PEXP (ref §2) is emulated over /proc/*/cmdline, restricted to processes that
// carry the double's environment marker for this root (the daemons it started and their descendants,
// even after they daemonize), so parallel tests with other roots never see each other's daemons.

/** Processes carrying `mark`=root in their environment (default: daemons of this root). */
export function findMarkedProcs(root, marks = [DAEMON_MARK]) {
  const needles = marks.map((m) => Buffer.from(`${m}=${root}\0`));
  const out = [];
  let entries;
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === process.pid) continue;
    let environ;
    let cmdline;
    try {
      environ = fs.readFileSync(`/proc/${e}/environ`);
      cmdline = fs.readFileSync(`/proc/${e}/cmdline`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (cmdline.length === 0) continue; // zombie or kernel thread
    const env = Buffer.concat([Buffer.from("\0"), environ]);
    const idx = needles.findIndex((n) => env.includes(Buffer.concat([Buffer.from("\0"), n])));
    if (idx < 0) continue;
    const args = cmdline.toString("utf8").split("\0");
    if (args[args.length - 1] === "") args.pop();
    out.push({ pid, cmdline: args.join(" "), mark: marks[idx] });
  }
  return out;
}

const POSIX_CLASSES = {
  alnum: "A-Za-z0-9",
  alpha: "A-Za-z",
  blank: " \\t",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "\\x21-\\x7e",
  lower: "a-z",
  print: "\\x20-\\x7e",
  punct: "!-\\/:-@\\[-`{-~",
  space: " \\t\\n\\r\\f\\v",
  upper: "A-Z",
  xdigit: "0-9A-Fa-f",
};

/** Translate a POSIX ERE into an anchored JS RegExp (pgrep -x: whole-line match). null if invalid. */
export function ereToRegExp(ere) {
  let out = "";
  for (let i = 0; i < ere.length; i++) {
    const c = ere[i];
    if (c === "\\") {
      const d = ere[i + 1];
      if (d === undefined) return null;
      out += /[A-Za-z0-9]/.test(d) ? d : `\\${d}`; // \w, \d... are not ERE; treat as literal letters
      i++;
    } else if (c === "[") {
      let j = i + 1;
      let cls = "[";
      if (ere[j] === "^") {
        cls += "^";
        j++;
      }
      if (ere[j] === "]") {
        cls += "\\]";
        j++;
      }
      for (; j < ere.length && ere[j] !== "]"; j++) {
        if (ere[j] === "[" && ere[j + 1] === ":") {
          const end = ere.indexOf(":]", j + 2);
          if (end < 0) return null;
          const name = ere.slice(j + 2, end);
          const body = POSIX_CLASSES[name];
          if (body === undefined) return null;
          cls += body;
          j = end + 1;
        } else if (ere[j] === "\\" || ere[j] === "[") {
          cls += `\\${ere[j]}`;
        } else {
          cls += ere[j];
        }
      }
      if (j >= ere.length) return null;
      out += `${cls}]`;
      i = j;
    } else {
      out += c;
    }
  }
  try {
    return new RegExp(`^(?:${out})$`);
  } catch {
    return null;
  }
}

/** pgrep -xf PEXP among this root's daemons; returns matching pids. */
export function pgrep(root, pexp, procs = findMarkedProcs(root)) {
  const re = ereToRegExp(pexp);
  if (!re) return [];
  return procs.filter((p) => re.test(p.cmdline)).map((p) => p.pid);
}

// ---------------------------------------------------------------------------------------------------
// syslog: logger -isp PRIO -t NAME feeding syslogd (ref §2 daemon_logger, §3 "Logs of jicofo/jvb").

const FACILITIES = [
  "kern",
  "user",
  "mail",
  "daemon",
  "auth",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
];
const LEVELS = {
  emerg: 0,
  panic: 0,
  alert: 1,
  crit: 2,
  err: 3,
  error: 3,
  warning: 4,
  warn: 4,
  notice: 5,
  info: 6,
  debug: 7,
};

/** Parse "facility.level"; null if not a valid syslog priority. */
export function parsePriority(prio) {
  const m = /^([a-z0-9]+)\.([a-z]+)$/.exec(prio);
  if (!m || !FACILITIES.includes(m[1]) || LEVELS[m[2]] === undefined) return null;
  return { facility: m[1], level: LEVELS[m[2]] };
}

function selectorMatches(selector, facility, level) {
  const mask = new Map();
  for (const part of selector.split(";")) {
    const dot = part.lastIndexOf(".");
    if (dot < 0) return false;
    const levStr = part.slice(dot + 1);
    const lev = levStr === "*" ? 7 : levStr === "none" ? -1 : LEVELS[levStr];
    if (lev === undefined) return false;
    for (const f of part.slice(0, dot).split(",")) {
      if (f === "*") for (const all of FACILITIES) mask.set(all, lev);
      else mask.set(f, lev);
    }
  }
  return (mask.get(facility) ?? -1) >= level;
}

/**
 * Files (fake-VM paths) a message from program `tag` with priority `prio` goes to. The rule
 * "daemon.info /var/log/daemon" always applies (the harness' syslogd stand-in keeps lines there even
 * when a !prog block also matches, ref §3); then every rule of syslog.conf, global or in a matching
 * "!prog[,prog]" block ("!*" ends blocks; +host blocks are treated as matching).
 */
export function syslogTargets(syslogConf, tag, prio) {
  const p = parsePriority(prio) ?? { facility: "daemon", level: LEVELS.info };
  const out = new Set();
  if (p.facility === "daemon" && p.level <= LEVELS.info) out.add("/var/log/daemon");
  let progs = null; // null = all programs
  for (const raw of syslogConf.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    if (line.startsWith("!")) {
      const list = line.slice(1).trim();
      progs = list === "*" ? null : list.split(",").map((s) => s.trim());
      continue;
    }
    if (line.startsWith("+") || line.startsWith("-")) continue;
    const m = /^(\S+)\s+(\S.*)$/.exec(line);
    if (!m) continue;
    if (progs && !progs.includes(tag)) continue;
    const action = m[2].trim();
    if (!action.startsWith("/")) continue;
    if (selectorMatches(m[1], p.facility, p.level)) out.add(action);
  }
  return [...out];
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** One syslogd file line: "Mmm dd hh:mm:ss HOST TAG[PID]: MSG" (ref §4). */
export function syslogLine(date, host, tag, pid, msg) {
  const two = (n) => String(n).padStart(2, "0");
  const stamp = `${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2, " ")} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${stamp} ${host} ${tag}[${pid}]: ${msg}\n`;
}

/** The fake VM's short host name: /etc/myname if present, else this machine's. */
export function fakeHostname(root) {
  try {
    const n = fs.readFileSync(inRoot(root, "/etc/myname"), "utf8").trim();
    if (n) return n.split(".")[0];
  } catch {
    // no /etc/myname
  }
  return os.hostname().split(".")[0];
}
