// The agent's apply engine on a unit test's temp root (temp-root.ts), with the accounts of a test machine
// (every owner and group maps to the user running the test) unless the test gives its own.
import { lenientAccounts } from "../../packages/agent/src/reconcile/accounts.js";
import { ApplyEngine, type ApplyEngineOptions } from "../../packages/agent/src/reconcile/engine.js";
import type { TempRoot } from "./temp-root.js";

export function engineOn(t: TempRoot, options: Omit<ApplyEngineOptions, "root" | "stateDir">): ApplyEngine {
  return new ApplyEngine({ root: t.root, stateDir: t.stateDir, accounts: lenientAccounts(), ...options });
}
