#!/usr/bin/env node
// A stand-in daemon for services the sandbox only needs to exist (syslogd, vmd): it idles until stopped.
// The argument names it, so that rc.subr's pexp tells the stand-ins apart.
process.on("SIGHUP", () => {});
setInterval(() => {}, 1 << 30);
