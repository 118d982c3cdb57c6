// Re-applying the persisted desired state (ApplyEngine.enforce) on the healer's behalf, with every file
// written and every service (re)started reported as an event. Drift repair, remedies and the certificate
// check all repair this way.
import type { ApplyResult } from "../reconcile/apply.js";
import type { ApplyEngine } from "../reconcile/engine.js";
import type { HealContext } from "./context.js";

export interface EnforceOutcome {
  written: string[];
  restarted: string[];
  /** Paths and services that failed; "enforce" when the re-apply itself threw. */
  failed: string[];
  /** The apply's setup-action items (the certificate check reads its own). */
  actions: ApplyResult["actions"];
}

/** `why`: per drifted path, what differed (for the event; never the content). */
export async function enforceAndReport(
  ctx: HealContext,
  engine: Pick<ApplyEngine, "enforce">,
  why: ReadonlyMap<string, string> = new Map(),
): Promise<EnforceOutcome> {
  const out: EnforceOutcome = { written: [], restarted: [], failed: [], actions: [] };
  let res: ApplyResult | null;
  try {
    res = await engine.enforce();
  } catch (err) {
    ctx.event("repair-file", "failed", `cannot re-apply the desired state: ${(err as Error).message}`);
    out.failed.push("enforce");
    return out;
  }
  if (!res) return out;
  out.actions = res.actions;
  for (const f of res.files) {
    if (f.status === "written") {
      out.written.push(f.path);
      ctx.event("repair-file", "degraded", `restored ${f.path} (${why.get(f.path) ?? "differed"})`, f.path);
    } else if (f.status === "failed" || f.status === "refused") {
      out.failed.push(f.path);
      // A refused state names why in its refusals (a link or a FIFO where the file was, say).
      const reason = f.detail ?? res.refusals.find((r) => r.item === `file ${f.path}`)?.reason ?? f.status;
      ctx.event("repair-file", "failed", `cannot restore ${f.path}: ${reason}`, f.path);
    }
  }
  const files = out.written.length > 0 ? ` after restoring ${out.written.join(", ")}` : "";
  for (const s of res.services) {
    const acted = s.steps.filter((x) => x === "started" || x === "restarted" || x === "reloaded");
    if (acted.length > 0) {
      // (The service owner saw the start, and told the health monitor, as it happened.)
      out.restarted.push(s.name);
      ctx.event("repair-service", "degraded", `${acted.join(", ")} ${s.name}${files}`, s.name);
    }
    if (s.status === "failed") {
      out.failed.push(s.name);
      ctx.event("repair-service", "failed", `${s.name}: ${s.detail ?? "failed"}${files}`, s.name);
    }
  }
  return out;
}
