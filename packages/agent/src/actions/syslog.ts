// syslogd(8) does not create missing log files: the file of a `!program` block in syslog.conf must exist
// before syslogd is HUPed, or that program's lines are dropped (docs/openbsd-rc.md section 3, "Logs of
// jicofo/jvb"). The action creates it once; an existing file is left alone, because newsyslog(8) recreates
// it at every rotation with its own mode and owner and the two must not fight.
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { fsyncDir } from "@vmmeet/node";
import type { SetupAction } from "@vmmeet/shared";
import type { AccountResolver } from "../reconcile/accounts.js";
import { resolveUnderRoot } from "../reconcile/paths.js";
import type { ActionItem } from "./types.js";

type LogfileAction = Extract<SetupAction, { kind: "syslog-logfile" }>;

/** The role allow-list names the files the agent may write; log files it may create are these. */
export function logfileRefusal(p: string): string | null {
  return /^\/var\/log\/[A-Za-z0-9_][A-Za-z0-9._-]*$/.test(p)
    ? null
    : "a syslog log file must be /var/log/NAME";
}

/** Creates the log file when missing. `created` tells the caller that syslogd needs a reload. */
export async function ensureLogfile(
  a: LogfileAction,
  root: string,
  accounts: AccountResolver,
): Promise<{ item: ActionItem; created: boolean }> {
  const item = { kind: "action", action: a.kind, target: a.path } as const;
  const refusal = logfileRefusal(a.path);
  if (refusal) return { item: { ...item, status: "refused", detail: refusal }, created: false };
  const uid = accounts.uid(a.owner);
  const gid = accounts.gid(a.group);
  const { target } = await resolveUnderRoot(root, a.path, true);
  let fd: Awaited<ReturnType<typeof open>>;
  try {
    fd = await open(
      target,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST")
      return { item: { ...item, status: "skipped" }, created: false };
    throw e;
  }
  try {
    await fd.chown(uid, gid);
    await fd.chmod(Number.parseInt(a.mode, 8));
    await fd.sync();
  } finally {
    await fd.close();
  }
  await fsyncDir(path.dirname(target));
  return { item: { ...item, status: "done", detail: "created" }, created: true };
}
