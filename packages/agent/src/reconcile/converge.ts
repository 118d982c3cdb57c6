// One service brought to where the apply wants it, through the service owner (services/life.ts): started
// when it should run and does not, restarted or reloaded at most once for what changed. A notified service
// that is no rc.d daemon (pf) is the hooks' business.
import type { Logger } from "pino";
import type { LifeResult } from "../services/life.js";
import type { PendingAction } from "../state/store.js";
import { type ApplyDeps, errText, type HookContext, type ServiceItem } from "./types.js";

export interface ConvergeOptions {
  /** What the changed files (or flags, or an interrupted apply) ask of the service; none: just keep it up. */
  action: PendingAction | undefined;
  /** A managed service is started when it is not running; a merely notified one (syslogd) only gets its action. */
  startIfStopped: boolean;
  ctx: HookContext;
}

/** Brings one service to running, restarting or reloading it at most once; the outcome goes into `it`. */
export async function converge(
  name: string,
  it: ServiceItem,
  deps: ApplyDeps,
  log: Logger,
  options: ConvergeOptions,
): Promise<void> {
  try {
    const hooked =
      options.action !== undefined ? deps.hooks?.notify(name, options.action, options.ctx) : null;
    if (hooked) {
      // pf is no rc.d daemon: pfctl loads its rules (rcctl knows it only as the special variable pf=YES).
      const r = await hooked;
      if (r.step) it.steps.push(r.step);
      if (!r.ok) {
        it.status = "failed";
        it.detail = r.detail ?? "failed";
        log.error({ service: name, detail: r.detail }, "service action failed");
      } else log.info({ service: name, step: r.step, detail: r.detail }, "service");
      return;
    }
    const life = deps.services;
    // Asked now, not answered from an earlier observation: what the apply does depends on it.
    const running = await life.check(name);
    let r: LifeResult | null = null;
    if (!running && options.startIfStopped) r = await life.start(name);
    else if (options.action === "restart" || (options.action === "reload" && !running))
      r = await life.restart(name);
    else if (options.action === "reload") {
      const hooks = deps.hooks;
      r = await life.reload(name, hooks ? (s) => hooks.reload(s) : undefined);
    }
    if (!r) return;
    // A restart of a stopped service starts it.
    const step = r.step === "restarted" && !running ? "started" : r.step;
    if (step) it.steps.push(step);
    if (r.ok) {
      log.info({ service: name, step }, "service");
      return;
    }
    it.status = "failed";
    it.detail = r.detail;
    log.error({ service: name, step, outcome: r.outcome }, "service action failed");
  } catch (e) {
    it.status = "failed";
    it.detail = errText(e);
  } finally {
    if (it.status !== "failed" && it.steps.length > 0) it.status = "changed";
  }
}
