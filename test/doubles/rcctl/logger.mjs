#!/usr/bin/env node
// logger(1) + syslogd stand-in of the rcctl TEST DOUBLE (not OpenBSD code). rc.subr runs a daemon with
// daemon_logger as "DAEMON FLAGS 2>&1 | logger -isp PRIO -t NAME" (ref §2); this process is that logger:
// it reads the daemon's output on stdin and appends one syslog line per input line to every existing file
// syslog.conf routes it to (syslogd does not create files, ref §3). syslog.conf is re-read for every line,
// as if syslogd had been HUPed at once. Usage: logger.mjs ROOT PRIO TAG
import fs from "node:fs";
import { fakeHostname, inRoot } from "./fake-root.mjs";
import { syslogLine, syslogTargets } from "./syslog.mjs";

const [root, prio, tag] = process.argv.slice(2);
if (!root || !prio || !tag) process.exit(2);
const host = fakeHostname(root);

function log(msg) {
  let conf = "";
  try {
    conf = fs.readFileSync(inRoot(root, "/etc/syslog.conf"), "utf8");
  } catch {
    // no syslog.conf: the built-in daemon.info rule still applies
  }
  // logger -i logs its own pid (the logger's, not the daemon's)
  // The VM's clock (VMMEET_VM_CLOCK_OFFSET_MS: a sandbox VM whose clock disagrees with the host's).
  const line = syslogLine(
    new Date(Date.now() + (Number(process.env.VMMEET_VM_CLOCK_OFFSET_MS ?? 0) || 0)),
    host,
    tag,
    process.pid,
    msg,
  );
  for (const target of syslogTargets(conf, tag, prio)) {
    const file = inRoot(root, target);
    try {
      // appendFileSync would create the file: check first so a missing file stays missing.
      if (fs.existsSync(file)) fs.appendFileSync(file, line);
    } catch {
      // a log file that cannot be written is skipped, like syslogd does
    }
  }
}

let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let nl = pending.indexOf("\n");
  while (nl >= 0) {
    log(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
    nl = pending.indexOf("\n");
  }
});
process.stdin.on("end", () => {
  if (pending !== "") log(pending);
});
