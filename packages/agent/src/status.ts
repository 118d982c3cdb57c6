// What the agent reports about its node: the managed files as they are on disk (hash, mode, owner), the
// services as rcctl(8) sees them. Raw log lines and file contents never leave the VM.
import { readFile, stat } from "node:fs/promises";
import type { NodeDesired, NodeStatus } from "@vmmeet/shared";
import type { AccountResolver } from "./reconcile/accounts.js";
import { modeText, type ObservedService } from "./reconcile/apply.js";
import { sha256 } from "./reconcile/files.js";
import { resolveUnderRoot } from "./reconcile/paths.js";
import type { ServiceManager } from "./services/manager.js";

/** `known`: files as the apply that just ended left them (see ApplyResult.observedFiles); not read again. */
export async function fileStates(
  desired: NodeDesired | null,
  root: string,
  accounts: AccountResolver,
  known: Readonly<Record<string, NodeStatus["files"][number]>> = {},
): Promise<NodeStatus["files"]> {
  const out: NodeStatus["files"] = [];
  for (const f of desired?.files ?? []) {
    const k = Object.hasOwn(known, f.path) ? known[f.path] : undefined;
    if (k) {
      out.push(k);
      continue;
    }
    try {
      const r = await resolveUnderRoot(root, f.path, false);
      if (r.parent === null) throw new Error("missing");
      const p = r.target;
      const [st, data] = await Promise.all([stat(p), readFile(p)]);
      out.push({
        path: f.path,
        sha256: sha256(data),
        mode: modeText(st.mode),
        // Reported by name when the id is the desired account's (the resolver maps names to ids only).
        owner: idIs(() => accounts.uid(f.owner), st.uid) ? f.owner : String(st.uid),
        group: idIs(() => accounts.gid(f.group), st.gid) ? f.group : String(st.gid),
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
 * `known`: what rcctl said moments ago (the apply that just ended); only what is missing is asked again.
 */
export async function serviceStates(
  desired: NodeDesired | null,
  services: ServiceManager,
  hints: (name: string) => ServiceHealthHint | undefined,
  known: Readonly<Record<string, ObservedService>> = {},
): Promise<NodeStatus["services"]> {
  const out: NodeStatus["services"] = [];
  for (const s of desired?.services ?? []) {
    const k = Object.hasOwn(known, s.name) ? known[s.name] : undefined;
    const [running, flags] = await Promise.all([
      k?.running ?? services.check(s.name).catch(() => false),
      k?.flags ?? services.getFlags(s.name).catch(() => null),
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
