// The rcctl TEST DOUBLE's shared pieces (not OpenBSD code) as one import for the TypeScript helpers
// (index.ts, typed by core.d.mts). Each lives in a module named for its job:
//   openbsd-facts.mjs  base daemons, specials, a fresh install's rc.conf/syslog.conf, rcctl's usage
//   fake-root.mjs      the fake VM root: resolving it, mapping paths into it, its first-use layout
//   rc-conf.mjs        rc.conf(.local) parsed like rc.subr's _rc_parse_conf
//   rc-script.mjs      rc.d scripts parsed as text, evaluated as rc.subr sees them
//   processes.mjs      the daemons the double started (environment markers) and pgrep -xf over them
//   syslog.mjs         syslog priorities, syslog.conf routing, syslogd's line format
export { ensureRoot, fakeHostname, inRoot, resolveRoot } from "./fake-root.mjs";
export { BASE_DAEMONS, DEFAULT_SYSLOG_CONF, defaultRcConf, SPECIALS } from "./openbsd-facts.mjs";
export { DAEMON_MARK, ereToRegExp, findMarkedProcs, LOGGER_MARK, pgrep } from "./processes.mjs";
export { parseConfText, readConf } from "./rc-conf.mjs";
export { evalRcScript, ScriptError } from "./rc-script.mjs";
export { parsePriority, syslogLine, syslogTargets } from "./syslog.mjs";
