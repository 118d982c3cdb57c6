// Certificate renewal: on a node with an acme-certificate action (the web node, tls.mode acme), the
// desired state is re-applied every `certificateIntervalMs` (with jitter), which runs acme-client when the
// certificate is the agent's placeholder or due for renewal (actions/acme.ts); after acme-client could not
// get one, again after `certificateRetryMs`.
//
// Its own periodic check (pass.ts), armed from start() to stop() and only while the desired state has an
// acme-certificate.
import type { HealContext } from "./context.js";
import type { EnforceOutcome } from "./enforce.js";
import { PeriodicPass } from "./pass.js";

export interface CertificateRenewalOptions {
  ctx: HealContext;
  /** Re-applies the desired state; runs inside ctx.work. */
  enforce: () => Promise<EnforceOutcome>;
}

export class CertificateRenewal {
  readonly #ctx: HealContext;
  readonly #pass: PeriodicPass;
  /**
   * The next check after certificateRetryMs (acme-client failed, or an apply ran whose outcome this does
   * not see), else after certificateIntervalMs.
   */
  #soon = true;

  constructor(private readonly options: CertificateRenewalOptions) {
    const ctx = options.ctx;
    this.#ctx = ctx;
    this.#pass = new PeriodicPass({
      ctx,
      logLine: "certificate check",
      run: async () => {
        try {
          this.#soon = await this.#check();
        } catch (err) {
          ctx.log.error({ err: (err as Error).message }, "certificate check failed");
          this.#soon = true;
        }
      },
      intervalMs: () => (this.#soon ? ctx.tuning.certificateRetryMs : ctx.tuning.certificateIntervalMs),
      armed: () => this.#hasCertificate(),
    });
  }

  /** Completed certificate checks (tests wait on it instead of sleeping). */
  get checks(): number {
    return this.#pass.passes;
  }

  start(): void {
    this.#pass.start();
  }

  /** Idempotent. */
  stop(): void {
    this.#pass.stop();
  }

  /**
   * The desired state changed (ctx.desired). The apply that brought it ran the certificate check itself;
   * should acme-client have failed there, the retry delay is the sooner time to look again.
   */
  configure(): void {
    this.#soon = true;
    this.#pass.rearm();
  }

  #hasCertificate(): boolean {
    return this.#ctx.desired?.actions.some((a) => a.kind === "acme-certificate") ?? false;
  }

  /**
   * Re-applies the desired state, whose acme-certificate action runs acme-client only when the
   * certificate is the placeholder or due; reports what it did. True: try again after certificateRetryMs.
   */
  async #check(): Promise<boolean> {
    const ctx = this.#ctx;
    // An apply in progress runs the same check.
    if (!this.#hasCertificate() || ctx.busy()) return false;
    const r = await this.options.enforce();
    let retry = r.failed.includes("enforce");
    for (const a of r.actions) {
      if (a.action !== "acme-certificate") continue;
      const deferred = "deferred" in a && a.deferred === true;
      if (a.status === "done") {
        ctx.event("certificate-renewed", "healthy", `${a.target}: ${a.detail ?? "renewed"}`, a.target);
      } else if (deferred || a.status === "failed") {
        retry = true;
        ctx.event(
          "certificate-pending",
          a.status === "failed" ? "failed" : "degraded",
          `${a.target}: ${a.detail ?? a.status}`,
          a.target,
        );
      }
    }
    return retry;
  }
}
