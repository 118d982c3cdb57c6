// The fake VM root of the rcctl TEST DOUBLE (not OpenBSD code): where it is, how a VM path maps into it,
// and the layout a fresh OpenBSD install has, made on first use. "ref §N" = section N of docs/openbsd-rc.md.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_SYSLOG_CONF, defaultRcConf } from "./openbsd-facts.mjs";

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
