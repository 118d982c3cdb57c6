// Certificate renewal: on a node with an acme-certificate action (the web node, tls.mode acme), the
// desired state is re-applied every `certificateIntervalMs` (with jitter), which runs acme-client when the
// certificate is the agent's placeholder or due for renewal (actions/acme.ts); after acme-client could not
// get one, again after `certificateRetryMs`.
//
// One clock timer, armed from start() to stop() and only while the desired state has an acme-certificate.
import type { HealContext } from "./context.js";
import type { EnforceOutcome } from "./enforce.js";
import { UnitTimer } from "./timer.js";
import { jittered } from "./tuning.js";

export interface CertificateRenewalOptions {
  ctx: HealContext;
  /** Re-applies the desired state; runs inside ctx.work. */
  enforce: () => Promise<EnforceOutcome>;
}

export class CertificateRenewal {
  readonly #ctx: HealContext;
  readonly #timer: UnitTimer;
  #checks = 0;

  constructor(private readonly options: CertificateRenewalOptions) {
    this.#ctx = options.ctx;
    this.#timer = new UnitTimer(options.ctx.clock);
  }

  /** Completed certificate checks (tests wait on it instead of sleeping). */
  get checks(): number {
    return this.#checks;
  }

  start(): void {
    if (this.#timer.start()) this.#arm(true);
  }

  /** Idempotent. */
  stop(): void {
    this.#timer.stop();
  }

  /**
   * The desired state changed (ctx.desired). The apply that brought it ran the certificate check itself;
   * should acme-client have failed there, the retry delay is the sooner time to look again.
   */
  configure(): void {
    if (this.#timer.running) this.#arm(true);
  }

  #hasCertificate(): boolean {
    return this.#ctx.desired?.actions.some((a) => a.kind === "acme-certificate") ?? false;
  }

  /**
   * `soon`: after certificateRetryMs (acme-client failed, or an apply ran whose outcome this does not
   * see), else after certificateIntervalMs.
   */
  #arm(soon: boolean): void {
    this.#timer.clear();
    if (!this.#hasCertificate()) return;
    const ctx = this.#ctx;
    const { certificateIntervalMs, certificateRetryMs, jitter } = ctx.tuning;
    const base = soon ? certificateRetryMs : certificateIntervalMs;
    this.#timer.arm(jittered(base, jitter, ctx.random), () => {
      ctx.work
        .run(() => this.#check())
        .catch((err: unknown) => {
          ctx.log.error({ err: (err as Error).message }, "certificate check failed");
          return true;
        })
        .then((retry) => {
          this.#checks += 1;
          if (this.#timer.running && !this.#timer.armed) this.#arm(retry);
        });
    });
  }

  /**
   * Re-applies the desired state, whose acme-certificate action runs acme-client only when the
   * certificate is the placeholder or due; reports what it did. True: try again after certificateRetryMs.
   */
  async #check(): Promise<boolean> {
    const ctx = this.#ctx;
    // An apply in progress runs the same check.
    if (this.#timer.stopped || !this.#hasCertificate() || ctx.busy()) return false;
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
