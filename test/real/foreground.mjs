#!/usr/bin/env node
// Runs a foreground daemon as a child and stays in front of it, passing rcctl's signals on and exiting with
// its status: `foreground.mjs CMD [ARGS...]`.
//
// Why: the rcctl test double (test/doubles/rcctl) finds the daemons it started by an environment marker
// in /proc/PID/environ. nginx rewrites its argv and environment area to show its process title ("nginx:
// master process ...", src/os/unix/ngx_setproctitle.c pads the whole area), so the marker of a real nginx
// master disappears and `rcctl check nginx` would never find it. This supervisor keeps the marker and the
// rc.d daemon line; the real nginx runs below it with `daemon off;` (so it does not detach). rc.d's stop
// signal (QUIT for nginx) and reload (HUP) reach nginx through it.
import { spawn } from "node:child_process";

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  process.stderr.write("usage: foreground.mjs CMD [ARGS...]\n");
  process.exit(64);
}
const child = spawn(cmd, args, { stdio: "inherit" });
// SIGUSR1 belongs to Node's inspector: not forwarded.
for (const s of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR2", "SIGWINCH"]) {
  process.on(s, () => child.kill(s));
}
child.on("error", (e) => {
  process.stderr.write(`foreground.mjs: ${cmd}: ${e.message}\n`);
  process.exit(127);
});
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
