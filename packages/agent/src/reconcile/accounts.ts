// Owner and group names (_prosody, _jicofo, root, wheel...) to numeric ids. Injectable: on a Linux test
// machine the OpenBSD accounts do not exist, so tests use lenientAccounts(); the agent uses
// systemAccounts(), which refuses an unknown name (a file chowned to a wrong id would be unreadable by its
// daemon, or readable by someone else).
import { readFileSync } from "node:fs";
import path from "node:path";

export interface AccountResolver {
  uid(user: string): number;
  gid(group: string): number;
}

export class UnknownAccountError extends Error {
  override readonly name = "UnknownAccountError";
  constructor(
    readonly kind: "user" | "group",
    readonly account: string,
  ) {
    super(
      `unknown ${kind} ${account}: not in /etc/${kind === "user" ? "passwd" : "group"} (is the package that creates it installed?)`,
    );
  }
}

function parseIds(text: string, idField: number): Map<string, number> {
  const ids = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const fields = line.split(":");
    const name = fields[0];
    const id = Number(fields[idField]);
    if (name && Number.isInteger(id)) ids.set(name, id);
  }
  return ids;
}

/**
 * Reads etcDir/passwd and etcDir/group (OpenBSD keeps a hash-free /etc/passwd readable by all). The files
 * are re-read when a name is missing, because packages (pkg_add jicofo) add their users while the agent runs.
 */
export function systemAccounts(etcDir = "/etc"): AccountResolver {
  let users = new Map<string, number>();
  let groups = new Map<string, number>();
  const reload = () => {
    users = parseIds(readFileSync(path.join(etcDir, "passwd"), "utf8"), 2);
    groups = parseIds(readFileSync(path.join(etcDir, "group"), "utf8"), 2);
  };
  const lookup = (map: () => Map<string, number>, kind: "user" | "group", name: string) => {
    let id = map().get(name);
    if (id === undefined) {
      reload();
      id = map().get(name);
    }
    if (id === undefined) throw new UnknownAccountError(kind, name);
    return id;
  };
  return {
    uid: (u) => lookup(() => users, "user", u),
    gid: (g) => lookup(() => groups, "group", g),
  };
}

/** For tests: known names from `base` (if any), every other name maps to the current process' uid/gid. */
export function lenientAccounts(base?: AccountResolver): AccountResolver {
  const fallbackUid = process.getuid?.() ?? 0;
  const fallbackGid = process.getgid?.() ?? 0;
  const tryOr = (f: () => number, d: number) => {
    try {
      return f();
    } catch {
      return d;
    }
  };
  return {
    uid: (u) => (base ? tryOr(() => base.uid(u), fallbackUid) : fallbackUid),
    gid: (g) => (base ? tryOr(() => base.gid(g), fallbackGid) : fallbackGid),
  };
}
