// The processes the rcctl TEST DOUBLE started, and rc.subr's pgrep -xf over them (not OpenBSD code).
// "ref §N" = section N of docs/openbsd-rc.md.
import fs from "node:fs";

/** Environment marker put on every daemon the double starts; value = the fake root (realpath). */
export const DAEMON_MARK = "RCCTL_DOUBLE_DAEMON";
/** Environment marker put on the logger(1) stand-ins the double starts. */
export const LOGGER_MARK = "RCCTL_DOUBLE_LOGGER";

// pgrep -xf PEXP (ref §2) is emulated over /proc/*/cmdline, restricted to processes that
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
