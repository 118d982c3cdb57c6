// The first step of an apply: the desired state checked against the role's allow-list and the schema,
// every problem reported, nothing touched; and how a refusal is logged (once per kind and minute).
import {
  actionRefusal,
  type NodeDesired,
  NodeDesired as NodeDesiredSchema,
  type NodeRole,
  pathRefusal,
  type RefusalLog,
  serviceRefusal,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import { logfileRefusal } from "../actions/syslog.js";
import { actionTarget } from "../actions/types.js";
import type { Refusal } from "./types.js";

/** The kind a refusal is logged under: what it concerns ("file", "service", "action", "role"), or "schema". */
export function refusalKind(refusals: readonly Refusal[]): string {
  const item = refusals[0]?.item ?? "";
  const word = /^(file|service|action|role)\b/.exec(item)?.[1];
  return `refused-${word ?? "schema"}`;
}

/** Logs a refusal, or only counts it when one of its kind was logged less than a minute ago. */
export function logRefusal(
  refusalLog: RefusalLog | undefined,
  log: Logger,
  kind: string,
  fields: object,
  msg: string,
  level: "warn" | "info",
) {
  const note = refusalLog ? refusalLog.note(kind) : { repeated: 0 };
  if (note === null) return;
  log[level]({ ...fields, ...(note.repeated > 0 ? { repeated: note.repeated } : {}) }, msg);
}

/** Allow-list and schema checks, each problem reported. Nothing is touched. */
export function validateDesired(
  input: unknown,
  role?: NodeRole,
): { desired: NodeDesired; refusals: [] } | { desired: null; refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const raw = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
  const claimed = raw["role"] as NodeRole;
  if (role !== undefined && claimed !== role) {
    refusals.push({ item: "role", reason: `this agent manages a ${role} node, not ${String(claimed)}` });
  }
  const effRole = role ?? claimed;
  const knownRole = typeof effRole === "string" && NodeDesiredSchema.shape.role.safeParse(effRole).success;
  if (knownRole) {
    eachNamed(
      raw["files"],
      "path",
      "file",
      (p) => pathRefusal(effRole, p),
      refusals,
      (p, f) => {
        for (const n of asArray(f["notify"])) {
          const s = n["service"];
          const nwhy = typeof s === "string" ? serviceRefusal(effRole, s) : null;
          if (nwhy) refusals.push({ item: `service ${String(s)} (notified by ${p})`, reason: nwhy });
        }
      },
    );
    eachNamed(raw["services"], "name", "service", (n) => serviceRefusal(effRole, n), refusals);
    for (const a of asArray(raw["actions"])) {
      if (a["kind"] === "syslog-logfile" && typeof a["path"] === "string") {
        const why = logfileRefusal(a["path"]);
        if (why) refusals.push({ item: `action syslog-logfile ${a["path"]}`, reason: why });
      }
    }
  }
  const parsed = NodeDesiredSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // zod issue messages describe the rule, never echo the value (a password stays out of the result).
      refusals.push({ item: issue.path.join(".") || "(desired state)", reason: issue.message });
    }
  }
  if (parsed.success && knownRole) {
    // Kinds bound to a role (acme-certificate: web only) and the paths an action may write.
    for (const a of parsed.data.actions) {
      const why = actionRefusal(effRole, a);
      if (why) refusals.push({ item: `action ${a.kind} ${actionTarget(a)}`, reason: why });
    }
  }
  if (refusals.length > 0 || !parsed.success) return { desired: null, refusals };
  return { desired: parsed.data, refusals: [] };
}

/**
 * Each entry of `list` whose `key` is a string (item "WHAT NAME"): refused for `refuse`'s reason and when
 * listed twice, then handed to `each`, in order.
 */
function eachNamed(
  list: unknown,
  key: string,
  what: string,
  refuse: (name: string) => string | null,
  refusals: Refusal[],
  each?: (name: string, entry: Record<string, unknown>) => void,
): void {
  const seen = new Set<string>();
  for (const entry of asArray(list)) {
    const name = entry[key];
    if (typeof name !== "string") continue;
    const why = refuse(name);
    if (why) refusals.push({ item: `${what} ${name}`, reason: why });
    if (seen.has(name)) refusals.push({ item: `${what} ${name}`, reason: "listed twice" });
    seen.add(name);
    each?.(name, entry);
  }
}

function asArray(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v)
    ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null)
    : [];
}
