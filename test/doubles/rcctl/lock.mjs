// The rcctl TEST DOUBLE's lock on a fake root (not OpenBSD code: real rcctl has none). "ref §N" = section N
// of docs/openbsd-rc.md.
import fs from "node:fs";
import { inRoot } from "./fake-root.mjs";

let lockHeld = null;

function alive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/**
 * Serialize mutating invocations on one root. Real rcctl has no lock (ref §1: the caller must serialize),
 * so waiting is also recorded in /var/run/rcctl-double/contention.log for tests to assert on.
 * Released when the process exits.
 */
export function acquireLock(root) {
  const file = inRoot(root, "/var/run/rcctl-double/lock");
  const me = `${process.pid} rcctl ${process.argv.slice(2).join(" ")}`;
  let logged = false;
  for (;;) {
    try {
      fs.writeFileSync(file, me, { flag: "wx" });
      lockHeld = { file, me };
      return;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
    }
    let holder;
    try {
      holder = fs.readFileSync(file, "utf8");
    } catch {
      continue;
    }
    if (holder !== "" && !alive(Number.parseInt(holder, 10))) {
      try {
        if (fs.readFileSync(file, "utf8") === holder) fs.unlinkSync(file);
      } catch {
        // someone else removed it
      }
      continue;
    }
    if (!logged) {
      logged = true;
      fs.appendFileSync(
        inRoot(root, "/var/run/rcctl-double/contention.log"),
        `${new Date().toISOString()} ${me} waited for ${holder || "(unknown)"}\n`,
      );
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  }
}
process.on("exit", () => {
  if (!lockHeld) return;
  try {
    if (fs.readFileSync(lockHeld.file, "utf8") === lockHeld.me) fs.unlinkSync(lockHeld.file);
  } catch {
    // already gone
  }
});
