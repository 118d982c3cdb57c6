// The apply engine as the daemon uses it: one object owning the state directory, the file writer, the
// service manager and the setup actions, running one apply (or rollback) at a time.
import { type NodeDesired, type NodeRole, RefusalLog } from "@vmmeet/shared";
import pino, { type Logger } from "pino";
import { AcmeActions } from "../actions/acme.js";
import { ProsodyActions } from "../actions/prosody.js";
import { type CommandRunner, execRunner } from "../actions/runner.js";
import type { HostManager } from "../host/vmm.js";
import { systemHooks } from "../pf/hooks.js";
import type { PfManager } from "../pf/manager.js";
import { ServiceLife } from "../services/life.js";
import type { ServiceManager } from "../services/manager.js";
import { Serial } from "../services/serial.js";
import { StateCorruptError, StateStore } from "../state/store.js";
import { type AccountResolver, systemAccounts } from "./accounts.js";
import {
  type ApplyDeps,
  type ApplyResult,
  applyDesired,
  type RollbackResult,
  type ServiceItem,
} from "./apply.js";
import { FileWriter } from "./files.js";
import { finishPending, rollback } from "./rollback.js";

export interface ApplyEngineOptions {
  /** STATE: last desired state, pending mark, action records, backups (created 0700). */
  stateDir: string;
  /** rcctl, or the owner of the services' life the daemon shares with health and healing (one is made). */
  services: ServiceManager | ServiceLife;
  /** Prefix of every managed path; "/" on the VM, a temp dir in tests. */
  root?: string;
  /** Owner/group names to ids; systemAccounts() (refuses unknown names) by default. */
  accounts?: AccountResolver;
  /** Runs prosodyctl, openssl and acme-client; execFile without a shell by default. */
  runner?: CommandRunner;
  prosodyctl?: string;
  /** The web node's certificate (tls.mode acme): openssl(1) and acme-client(1), OpenBSD base by default. */
  openssl?: string;
  acmeClient?: string;
  /** prosody's data_path as a managed path (default /var/prosody, the OpenBSD package's). */
  prosodyDataDir?: string;
  /** Refuse desired states for another role. */
  role?: NodeRole;
  log?: Logger;
  keepBackups?: number;
  /** pf.conf checked with pfctl -nf and loaded commit-confirmed; without it, notify "pf" goes to rcctl. */
  pf?: PfManager;
  /** The VMM host: vm.conf (vmd -n, vmctl reload), its VMs started, sysctl.conf values set. */
  host?: HostManager;
}

export type StartResult =
  | { kind: "enforced"; result: ApplyResult }
  | { kind: "pending-finished"; services: ServiceItem[] }
  | { kind: "empty" };

export class ApplyEngine {
  readonly state: StateStore;
  /** Every start, restart and reload of this engine's applies goes through it. */
  readonly services: ServiceLife;
  private readonly deps: ApplyDeps;
  private readonly serial = new Serial();
  private opened = false;

  constructor(opts: ApplyEngineOptions) {
    const root = opts.root ?? "/";
    const log = opts.log ?? pino({ enabled: false });
    const accounts = opts.accounts ?? systemAccounts();
    const runner = opts.runner ?? execRunner(log);
    this.state = new StateStore(opts.stateDir);
    this.services = ServiceLife.of(opts.services);
    this.deps = {
      root,
      log,
      refusalLog: new RefusalLog(),
      accounts,
      state: this.state,
      services: this.services,
      files: new FileWriter({ root, backupDir: this.state.backupDir, accounts }),
      prosody: new ProsodyActions({
        root,
        runner,
        ...(opts.prosodyctl ? { prosodyctl: opts.prosodyctl } : {}),
        ...(opts.prosodyDataDir ? { dataDir: opts.prosodyDataDir } : {}),
      }),
      acme: new AcmeActions({
        root,
        stateDir: this.state.dir,
        runner,
        accounts,
        log: log.child({ part: "acme" }),
        ...(opts.openssl ? { openssl: opts.openssl } : {}),
        ...(opts.acmeClient ? { acmeClient: opts.acmeClient } : {}),
      }),
      ...(opts.role ? { role: opts.role } : {}),
      ...(opts.keepBackups ? { keepBackups: opts.keepBackups } : {}),
      ...(opts.pf || opts.host
        ? { hooks: systemHooks({ pf: opts.pf ?? null, host: opts.host ?? null }) }
        : {}),
    };
    this.pf = opts.pf ?? null;
  }

  readonly pf: PfManager | null;

  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      if (!this.opened) {
        await this.state.open();
        this.opened = true;
      }
      // The services' "running" events are told when the apply (or rollback) ends.
      return this.services.hold(job);
    });
  }

  /** Applies a desired state (validated here) of a generation; older generations come back as "stale". */
  apply(desired: unknown, generation: number): Promise<ApplyResult> {
    return this.exclusive(() => applyDesired(desired, generation, this.deps));
  }

  /** Re-applies the persisted desired state (the coordinator may be gone): restores what was changed by hand. */
  enforce(): Promise<ApplyResult | null> {
    return this.exclusive(async () => {
      const st = await this.state.load();
      if (!st?.desired) return null;
      return applyDesired(st.desired, st.generation, this.deps);
    });
  }

  /**
   * At agent start: finish an apply a crash interrupted (its pending restarts) and enforce the persisted
   * desired state. A corrupt state file is logged and ignored: the coordinator will send a new state.
   */
  start(): Promise<StartResult> {
    return this.exclusive(async () => {
      let st: Awaited<ReturnType<StateStore["load"]>> = null;
      try {
        st = await this.state.load();
      } catch (e) {
        if (!(e instanceof StateCorruptError)) throw e;
        this.deps.log.error({ err: e.message }, "state unreadable; waiting for the coordinator");
      }
      if (st?.desired)
        return { kind: "enforced", result: await applyDesired(st.desired, st.generation, this.deps) };
      const services = await finishPending(this.deps);
      return services.length > 0 ? { kind: "pending-finished", services } : { kind: "empty" };
    });
  }

  /**
   * pf's confirm window ran out: the rules of before go back on disk and into pf, and the persisted desired
   * state keeps them (its pf.conf entry becomes that content, or goes when there was none), so enforcement
   * and the healer do not load the unconfirmed rules again; a new generation tries anew. Returns the
   * desired state now in force, or null when nothing was reverted (confirmed meanwhile). `why`: see
   * PfManager.revertIfExpired.
   */
  revertPf(why?: string): Promise<NodeDesired | null> {
    return this.exclusive(async () => {
      const r = await this.pf?.revertIfExpired(why);
      if (!r) return null;
      const st = await this.state.load().catch(() => null);
      if (!st?.desired) return null;
      const files =
        r.content === null
          ? st.desired.files.filter((f) => f.path !== r.path)
          : st.desired.files.map((f) => {
              if (f.path !== r.path) return f;
              const text = (r.content as Buffer).toString("utf8");
              const utf8 = Buffer.from(text, "utf8").equals(r.content as Buffer);
              return {
                ...f,
                content: utf8 ? text : (r.content as Buffer).toString("base64"),
                encoding: utf8 ? ("utf8" as const) : ("base64" as const),
                mode: `0${((r.mode ?? 0o600) & 0o777).toString(8).padStart(3, "0")}`,
              };
            });
      const desired: NodeDesired = { ...st.desired, files };
      await this.state.save({ ...st, desired });
      this.deps.log.warn({ generation: st.generation, path: r.path }, "keeping the previous pf.conf");
      return desired;
    });
  }

  /** Restores the files the given generation's apply replaced and restarts the services they notify. */
  rollback(generation: number): Promise<RollbackResult> {
    return this.exclusive(() => rollback(generation, this.deps));
  }
}
