// In-memory ServiceManager with rcctl's rules (docs/openbsd-rc.md section 1) for unit tests: injected in
// place of Rcctl, never a module mock. It records every call so tests can assert order and counts.
import { RcctlError, type ServiceActionResult, type ServiceManager, UnknownServiceError } from "./manager.js";

export interface FakeService {
  enabled: boolean;
  /** X_flags in rc.conf.local, or null for the script's default. */
  flags: string | null;
  defaultFlags: string;
  running: boolean;
  /** rc_reload=NO (jicofo, jvb). */
  reloadUnsupported?: boolean;
  /** start "succeeds" but the process is never seen by rc_check (wrong pexp, or it dies at once). */
  startsButCheckFails?: boolean;
  /** rc_start fails: "(failed)", exit 1. */
  startFails?: boolean;
}

export class FakeServiceManager implements ServiceManager {
  readonly calls: string[] = [];
  readonly services = new Map<string, FakeService>();

  constructor(services: Record<string, Partial<FakeService>> = {}) {
    for (const [name, s] of Object.entries(services)) this.add(name, s);
  }

  add(name: string, s: Partial<FakeService> = {}): FakeService {
    const svc: FakeService = { enabled: false, flags: null, defaultFlags: "", running: false, ...s };
    this.services.set(name, svc);
    return svc;
  }

  /** The mutating calls only (enable, set, start, stop, restart, reload), in order. */
  get actions(): string[] {
    return this.calls.filter((c) => !/^(get|check) /.test(c));
  }

  private svc(name: string): FakeService {
    const s = this.services.get(name);
    if (!s) throw new UnknownServiceError(name);
    return s;
  }

  async isEnabled(name: string): Promise<boolean> {
    this.calls.push(`get ${name} status`);
    return this.svc(name).enabled;
  }

  async enable(name: string): Promise<void> {
    this.calls.push(`enable ${name}`);
    this.svc(name).enabled = true;
  }

  async getFlags(name: string): Promise<string> {
    this.calls.push(`get ${name} flags`);
    const s = this.svc(name);
    if (!s.enabled) return "NO";
    return s.flags ?? s.defaultFlags;
  }

  async setFlags(name: string, flags: string): Promise<void> {
    this.calls.push(`set ${name} flags ${flags}`);
    const s = this.svc(name);
    if (!s.enabled) throw new RcctlError(`${name} is not enabled`, ["set", name, "flags", flags], 1, "");
    s.flags = flags === s.defaultFlags ? null : flags;
  }

  async check(name: string): Promise<boolean> {
    this.calls.push(`check ${name}`);
    const s = this.svc(name);
    return s.running && !s.startsButCheckFails;
  }

  async start(name: string): Promise<ServiceActionResult> {
    this.calls.push(`start ${name}`);
    const s = this.svc(name);
    if (s.running) return { ok: true, outcome: "already", output: "" };
    return this.doStart(name, s);
  }

  private doStart(name: string, s: FakeService): ServiceActionResult {
    if (s.startFails) return { ok: false, outcome: "failed", output: `${name}(failed)\n` };
    // Like rc_bg=YES with a pexp that never matches: rcctl still says ok (docs/openbsd-rc.md section 2).
    s.running = true;
    return { ok: true, outcome: "ok", output: `${name}(ok)\n` };
  }

  async stop(name: string): Promise<ServiceActionResult> {
    this.calls.push(`stop ${name}`);
    const s = this.svc(name);
    if (!s.running) return { ok: true, outcome: "already", output: "" };
    s.running = false;
    return { ok: true, outcome: "ok", output: `${name}(ok)\n` };
  }

  async restart(name: string): Promise<ServiceActionResult> {
    this.calls.push(`restart ${name}`);
    const s = this.svc(name);
    s.running = false;
    return this.doStart(name, s);
  }

  async reload(name: string): Promise<ServiceActionResult> {
    this.calls.push(`reload ${name}`);
    const s = this.svc(name);
    if (s.reloadUnsupported) {
      return { ok: false, outcome: "unsupported", output: `/etc/rc.d/${name}: reload is not supported\n` };
    }
    if (!s.running) return { ok: false, outcome: "failed", output: `${name}(failed)\n` };
    return { ok: true, outcome: "ok", output: `${name}(ok)\n` };
  }
}
