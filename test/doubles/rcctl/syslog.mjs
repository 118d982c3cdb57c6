// syslog for the rcctl TEST DOUBLE (not OpenBSD code): priorities, syslog.conf routing and syslogd's
// file line format, used by logger.mjs. "ref §N" = section N of docs/openbsd-rc.md.
// What is emulated: logger -isp PRIO -t NAME feeding syslogd (ref §2 daemon_logger, §3 "Logs of jicofo/jvb").

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
