// What the apply engine needs from the service manager, as a small interface: rcctl(8) on OpenBSD
// (services/rcctl.ts), an in-memory fake in unit tests (services/fake.ts).

/**
 * How an rcctl action ended (rcctl(8), rc.subr(8); docs/openbsd-rc.md section 1):
 * - ok: "name(ok)", exit 0
 * - already: start of a running daemon (or stop of a stopped one): exit 0, no output
 * - killed: stop had to SIGKILL after daemon_timeout; still exit 0
 * - failed / timeout: "name(failed)" / "name(timeout)", exit 1
 * - unsupported: reload of a script with rc_reload=NO (jicofo, jvb): the caller restarts instead
 */
export type ServiceOutcome = "ok" | "already" | "killed" | "failed" | "timeout" | "unsupported";

export interface ServiceActionResult {
  ok: boolean;
  outcome: ServiceOutcome;
  /** rcctl's stdout and stderr, for the event log (never secret: rcctl prints service names only). */
  output: string;
}

export interface ServiceManager {
  /** `rcctl get NAME status`: enabled (exit 0) or not (exit 1). */
  isEnabled(name: string): Promise<boolean>;
  /** `rcctl enable NAME`. */
  enable(name: string): Promise<void>;
  /** `rcctl get NAME flags`: the effective flags (the script's defaults when none are set; "NO" if disabled). */
  getFlags(name: string): Promise<string>;
  /** `rcctl set NAME flags ...`: refused by rcctl unless NAME is enabled. */
  setFlags(name: string, flags: string): Promise<void>;
  /** `rcctl check NAME`: whether rc_check (pgrep -xf pexp) finds the process. */
  check(name: string): Promise<boolean>;
  start(name: string): Promise<ServiceActionResult>;
  stop(name: string): Promise<ServiceActionResult>;
  restart(name: string): Promise<ServiceActionResult>;
  reload(name: string): Promise<ServiceActionResult>;
}

/** rcctl exit 2: no rc.d script of that name, or an invalid name. */
export class UnknownServiceError extends Error {
  override readonly name = "UnknownServiceError";
  constructor(readonly service: string) {
    super(`unknown service ${service} (rcctl exit 2: no /etc/rc.d/${service} or invalid name)`);
  }
}

/** rcctl failed in a way its exit status does not express as a service outcome. */
export class RcctlError extends Error {
  override readonly name: string = "RcctlError";
  constructor(
    message: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message);
  }
}

/** rcctl did not return within the per-call timeout and was killed. */
export class RcctlTimeoutError extends RcctlError {
  override readonly name = "RcctlTimeoutError";
}
