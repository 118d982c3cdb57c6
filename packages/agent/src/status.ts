// What the agent reports about its node: the managed files as they are on disk (hash, mode, owner), the
// services as rcctl(8) sees them. Raw log lines and file contents never leave the VM.

import { sha256 } from "@vmmeet/node";
import type { NodeDesired, NodeStatus } from "@vmmeet/shared";
import type { AccountResolver } from "./reconcile/accounts.js";
import { readCurrent } from "./reconcile/files.js";
import { resolveUnderRoot } from "./reconcile/paths.js";
import { type FileState, modeText } from "./reconcile/types.js";
import type { ServiceLife } from "./services/life.js";

export type { FileState } from "./reconcile/types.js";

/**
 * `known`: files as the apply that just ended left them (see ApplyResult.observedFiles); not read again.
 * The others are read as the apply reads them (FileWriter's readCurrent: no link followed).
 */
export async function fileStates(
  desired: NodeDesired | null,
  root: string,
  accounts: AccountResolver,
  known: Readonly<Record<string, FileState>> = {},
): Promise<FileState[]> {
  const out: FileState[] = [];
  for (const f of desired?.files ?? []) {
    const k = Object.hasOwn(known, f.path) ? known[f.path] : undefined;
    if (k) {
      out.push(k);
      continue;
    }
    try {
      const r = await resolveUnderRoot(root, f.path, false);
      const cur = r.parent === null ? null : await readCurrent(r.target);
      if (cur === null) throw new Error("missing");
      out.push({
        path: f.path,
        sha256: sha256(cur.content),
        mode: modeText(cur.mode),
        // Reported by name when the id is the desired account's (the resolver maps names to ids only).
        owner: idIs(() => accounts.uid(f.owner), cur.uid) ? f.owner : String(cur.uid),
        group: idIs(() => accounts.gid(f.group), cur.gid) ? f.group : String(cur.gid),
      });
    } catch {
      out.push({ path: f.path, sha256: null, mode: null, owner: null, group: null });
    }
  }
  return out;
}

export interface ServiceHealthHint {
  state: NodeStatus["services"][number]["state"];
  restarts: number;
  detail?: string;
}

/**
 * The services as the owner of their life knows them: what rcctl said moments ago (an apply's or a
 * restart's check, the flags it read) is not asked again; what it has no fresh answer for is.
 */
export async function serviceStates(
  desired: NodeDesired | null,
  services: ServiceLife,
  hints: (name: string) => ServiceHealthHint | undefined,
): Promise<NodeStatus["services"]> {
  const out: NodeStatus["services"] = [];
  for (const s of desired?.services ?? []) {
    const [running, flags] = await Promise.all([
      services.running(s.name).catch(() => false),
      services.flags(s.name).catch(() => null),
    ]);
    // `rcctl get NAME flags` prints NO exactly when NAME is disabled (rcctl refuses to set flags NO), so a
    // second rcctl call for the status would only repeat what this one said.
    const enabled = flags !== null && flags !== "NO";
    const hint = hints(s.name);
    out.push({
      name: s.name,
      enabled,
      running,
      flags,
      state: hint?.state ?? (running ? "ok" : "stopped"),
      restarts: hint?.restarts ?? 0,
      ...(hint?.detail ? { detail: hint.detail } : {}),
    });
  }
  return out;
}

function idIs(id: () => number, actual: number): boolean {
  try {
    return id() === actual;
  } catch {
    return false;
  }
}
