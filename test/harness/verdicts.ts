// Waiting for the coordinator's verdict on the sandbox, and saying where it stands when it does not come.
import type { StatusReport } from "@vmmeet/coordinator";
import { waitFor } from "../helpers/wait.js";

export type Verdict = "conference-ready" | "degraded" | "down";

/** Waits for a verdict; on timeout says where the deployment stands (reasons, each component). */
export async function waitForVerdict(
  status: () => Promise<StatusReport>,
  verdict: Verdict,
  timeoutMs: number,
): Promise<StatusReport> {
  let last: StatusReport | null = null;
  try {
    return await waitFor(
      async () => {
        last = await status();
        return last.verdict.verdict === verdict ? last : undefined;
      },
      { what: `verdict ${verdict}`, timeoutMs, intervalMs: 200 },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${describeStatus(last)}`);
  }
}

/** One line per node: generation and each component's state with its explanation. */
export function describeStatus(s: StatusReport | null): string {
  if (!s) return "no status";
  return `${s.verdict.verdict}: ${s.verdict.reasons.join("; ")}\n${s.nodes
    .map(
      (n) =>
        `  ${n.node} gen ${n.generation.applied}/${n.generation.desired} ${n.health
          .map((h) => `${h.component}=${h.state} (${h.explain})`)
          .join(", ")}`,
    )
    .join("\n")}`;
}
