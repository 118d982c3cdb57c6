// The apply engine as the daemon uses it: one object owning the state directory, the file writer, the
// service manager and the setup actions, running one apply (or rollback) at a time.
import type { NodeRole } from "@vmmeet/shared";
import pino, { type Logger } from "pino";
import { ProsodyActions } from "../actions/prosody.js";
import { type CommandRunner, execRunner } from "../actions/runner.js";
import type { ServiceManager } from "../services/manager.js";
import { Serial } from "../services/serial.js";
import { StateCorruptError, StateStore } from "../state/store.js";
import { type AccountResolver, systemAccounts } from "./accounts.js";
import {
  type ApplyDeps,
  type ApplyResult,
  applyDesired,
  finishPending,
  type RollbackResult,
  rollback,
  type ServiceItem,
} from "./apply.js";
import { FileWriter } from "./files.js";

export interface ApplyEngineOptions {
  /** STATE: last desired state, pending mark, action records, backups (created 0700). */
  stateDir: string;
  services: ServiceManager;
  /** Prefix of every managed path; "/" on the VM, a temp dir in tests. */
  root?: string;
  /** Owner/group names to ids; systemAccounts() (refuses unknown names) by default. */
  accounts?: AccountResolver;
  /** Runs prosodyctl; execFile without a shell by default. */
  runner?: CommandRunner;
  prosodyctl?: string;
  /** prosody's data_path as a managed path (default /var/prosody, the OpenBSD package's). */
  prosodyDataDir?: string;
  /** Refuse desired states for another role. */
  role?: NodeRole;
  log?: Logger;
  keepBackups?: number;
}

export type StartResult =
  | { kind: "enforced"; result: ApplyResult }
  | { kind: "pending-finished"; services: ServiceItem[] }
  | { kind: "empty" };

export class ApplyEngine {
  readonly state: StateStore;
  private readonly deps: ApplyDeps;
  private readonly serial = new Serial();
  private opened = false;

  constructor(opts: ApplyEngineOptions) {
    const root = opts.root ?? "/";
    const log = opts.log ?? pino({ enabled: false });
    const accounts = opts.accounts ?? systemAccounts();
    this.state = new StateStore(opts.stateDir);
    this.deps = {
      root,
      log,
      accounts,
      state: this.state,
      services: opts.services,
      files: new FileWriter({ root, backupDir: this.state.backupDir, accounts }),
      prosody: new ProsodyActions({
        root,
        runner: opts.runner ?? execRunner(log),
        ...(opts.prosodyctl ? { prosodyctl: opts.prosodyctl } : {}),
        ...(opts.prosodyDataDir ? { dataDir: opts.prosodyDataDir } : {}),
      }),
      ...(opts.role ? { role: opts.role } : {}),
      ...(opts.keepBackups ? { keepBackups: opts.keepBackups } : {}),
    };
  }

  private exclusive<T>(job: () => Promise<T>): Promise<T> {
    return this.serial.run(async () => {
      if (!this.opened) {
        await this.state.open();
        this.opened = true;
      }
      return job();
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

  /** Restores the files the given generation's apply replaced and restarts the services they notify. */
  rollback(generation: number): Promise<RollbackResult> {
    return this.exclusive(() => rollback(generation, this.deps));
  }
}
