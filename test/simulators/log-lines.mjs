// The real programs' log line layouts, stamped with the simulated VM's clock.
import { vmNow } from "./vm.mjs";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n) => String(n).padStart(2, "0");

/** Jitsi's own layout (logging.properties of the jitsi packages): `Jicofo 2022-09-16 14:45:24.260 INFO: [35] ...`. */
export function jitsiLine(prefix, level, thread, where, msg, context) {
  const d = vmNow();
  const stamp =
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
  return `${prefix} ${stamp} ${level}: [${thread}] ${context ? `${context} ` : ""}${where}: ${msg}`;
}

/** A Jitsi logger printing to stdout (rc.subr's daemon_logger sends it to syslog). */
export function jitsiLogger(prefix) {
  const out = (level, thread, where, msg, context, extra = []) => {
    process.stdout.write(`${[jitsiLine(prefix, level, thread, where, msg, context), ...extra].join("\n")}\n`);
  };
  return {
    info: (t, w, m, c) => out("INFO", t, w, m, c),
    warn: (t, w, m, c, extra) => out("WARNING", t, w, m, c, extra),
    severe: (t, w, m, c, extra) => out("SEVERE", t, w, m, c, extra),
  };
}

/** prosody's file log layout: `Sep 16 14:37:01 c2s60a5b549900\tinfo\tAuthenticated as focus@auth.DOMAIN`. */
export function prosodyLine(source, level, msg) {
  const d = vmNow();
  const stamp = `${MONTHS[d.getMonth()]} ${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${stamp} ${source}\t${level}\t${msg}`;
}

/** nginx's error_log layout: `2024/01/31 12:00:00 [error] 123#0: *5 message`. */
export function nginxLine(level, msg, conn) {
  const d = vmNow();
  const stamp = `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${stamp} [${level}] ${process.pid}#0: ${conn === undefined ? "" : `*${conn} `}${msg}`;
}
