// The apply engine's result as the protocol's apply-result: one item per file, service step and action,
// and the one-line error the coordinator shows when the apply did not succeed.
import type { ItemResult } from "@vmmeet/shared";
import type { ApplyResult } from "./reconcile/apply.js";

/** The apply engine's result as the protocol's per-item results. */
export function itemResults(res: ApplyResult): ItemResult[] {
  const out: ItemResult[] = [];
  const detail = (d?: string) => (d ? { detail: d.slice(0, 2000) } : {});
  for (const r of res.refusals)
    out.push({
      kind: r.item.startsWith("service") ? "service" : r.item.startsWith("action") ? "action" : "file",
      target: r.item,
      status: "refused",
      detail: r.reason.slice(0, 2000),
    });
  for (const f of res.files)
    out.push({ kind: "file", target: f.path, status: f.status, ...detail(f.detail) });
  for (const s of res.services) {
    if (s.status === "unchanged") out.push({ kind: "service", target: s.name, status: "unchanged" });
    for (const step of s.steps) out.push({ kind: "service", target: s.name, status: step });
    if (s.status === "failed")
      out.push({ kind: "service", target: s.name, status: "failed", ...detail(s.detail) });
  }
  for (const a of res.actions)
    out.push({ kind: "action", target: `${a.action} ${a.target}`, status: a.status, ...detail(a.detail) });
  return out;
}

/** Why an apply did not succeed, in one line (undefined when it did). */
export function applyError(
  res: ApplyResult,
  generation: number,
  items: readonly ItemResult[],
): string | undefined {
  if (res.outcome === "stale")
    return `stale generation ${generation}: this agent holds ${res.current ?? "a newer one"}`;
  if (res.outcome === "refused")
    return `refused: ${res.refusals.map((r) => `${r.item}: ${r.reason}`).join("; ")}`;
  if (res.outcome === "failed")
    return items
      .filter((i) => i.status === "failed")
      .map((i) => `${i.kind} ${i.target}${i.detail ? `: ${i.detail}` : ""}`)
      .join("; ");
  return undefined;
}
