// The apply engine's types: what one apply needs (ApplyDeps), what it reports (ApplyResult), and the hooks
// through which programs other than rcctl make a config effective. Kept apart from apply.ts so that its
// steps (validate.ts, converge.ts, components.ts) import them without importing the engine.
import type { FileEntry, NodeDesired, NodeRole, NodeStatus, RefusalLog } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { AcmeActions } from "../actions/acme.js";
import type { ProsodyActions } from "../actions/prosody.js";
import type { ActionItem } from "../actions/types.js";
import type { ServiceLife } from "../services/life.js";
import type { ServiceActionResult } from "../services/manager.js";
import type { PendingAction, StateStore } from "../state/store.js";
import type { AccountResolver } from "./accounts.js";
import type { FileChange, FileWriter } from "./files.js";

export interface ApplyDeps {
  files: FileWriter;
  /** The owner of the services' life: every start, restart and reload, each followed by its check. */
  services: ServiceLife;
  state: StateStore;
  prosody: ProsodyActions;
  /** The web node's Let's Encrypt certificate (tls.mode acme). */
  acme: AcmeActions;
  accounts: AccountResolver;
  /** Prefix of managed paths ("/" on the VM). */
  root: string;
  log: Logger;
  /** The role this agent was installed for: a desired state for another role is refused. */
  role?: NodeRole;
  /** Generations whose backups are kept for rollback. */
  keepBackups?: number;
  /** pf, vmd's VMs and sysctl: configs made effective by their own programs (pf/hooks.ts). */
  hooks?: ApplyHooks;
  /** Refused and stale desired states are logged once per kind and minute (shared/refusals.ts). */
  refusalLog?: RefusalLog;
}

/** A step of a hook reported like a setup action: a sysctl value set, a VM started. */
export interface HookItem {
  kind: "action";
  action: "sysctl" | "vm-start";
  target: string;
  status: ActionItem["status"];
  detail?: string;
}

export interface HookContext {
  generation: number;
  desired: NodeDesired | null;
}

/**
 * Configs that take effect through another program than rcctl: pf.conf through pfctl (commit-confirmed),
 * vm.conf through vmctl, sysctl.conf through sysctl. Each file is first checked by its program (pfctl -nf,
 * vmd -n) before anything is written. Built by the engine from the agent's pf/ and host/ modules.
 */
export interface ApplyHooks {
  /** A changed file's new bytes, before anything is written: null when fine, else why (all is refused). */
  check(entry: FileEntry, bytes: Buffer): Promise<string | null>;
  /** A changed file is about to be replaced (pf: remember the rules to go back to). */
  beforeWrite(entry: FileEntry): Promise<void>;
  /** Takes over a notified service that is no rc.d daemon (pf); null: rcctl does it. */
  notify(
    service: string,
    action: PendingAction,
    ctx: HookContext,
  ): Promise<{ ok: boolean; step: ServiceStep | null; detail?: string }> | null;
  /** Reloads a running rc.d daemon with its own tool (vmd: vmctl reload); null: rcctl reload. */
  reload(service: string): Promise<ServiceActionResult> | null;
  /** After the services: what else the node needs (sysctl values set, VMs started). */
  finish(desired: NodeDesired, ctx: HookContext): Promise<HookItem[]>;
}

export interface FileItem {
  kind: "file";
  path: string;
  status: "written" | "unchanged" | "refused" | "failed";
  change?: FileChange;
  detail?: string;
}

export type ServiceStep = "enabled" | "flags-set" | "started" | "restarted" | "reloaded";

export interface ServiceItem {
  kind: "service";
  name: string;
  status: "changed" | "unchanged" | "failed";
  /** What was done, in order (a failed item lists what succeeded before the failure). */
  steps: ServiceStep[];
  detail?: string;
}

export interface Refusal {
  /** "file /etc/master.passwd", "service sshd", "role", "files.0.mode"... */
  item: string;
  reason: string;
}

/** One managed file as the status reports it (all null when it is missing or unreadable). */
export type FileState = NodeStatus["files"][number];

export interface ApplyResult {
  /**
   * applied: every item succeeded; failed: written, but some item failed (see the items); refused: nothing
   * written (allow-list, schema, unsafe path, unknown account); stale: an older generation than the agent's.
   */
  outcome: "applied" | "failed" | "refused" | "stale";
  generation: number;
  /** Whether anything on the node changed (a file, a service, an action). */
  changed: boolean;
  files: FileItem[];
  services: ServiceItem[];
  actions: (ActionItem | HookItem)[];
  refusals: Refusal[];
  /** For stale: the generation the agent holds. */
  current?: number;
  /**
   * The managed files this apply wrote or found as desired, by path, as the status reports them (the
   * desired bytes' hash, mode and owner): the snapshot right after the apply does not read and hash them
   * again. A file that failed or was refused is absent. (What rcctl said of the services, the service
   * owner keeps: services/life.ts.)
   */
  observedFiles?: Record<string, FileState>;
}

export interface RollbackResult {
  outcome: "rolled-back" | "failed" | "nothing";
  generation: number;
  files: FileItem[];
  services: ServiceItem[];
}

export function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A file mode as the status reports it: "0644". */
export function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}
