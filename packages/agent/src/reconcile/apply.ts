// The apply engine: makes a node match a desired state, and can undo one apply.
//
// Order of one apply (each step's reason in its comment below):
//   validate (allow-list, schema) -> stale check -> plan (read only: compare files, read flags)
//   -> persist the desired state -> pending mark -> files -> enable/flags -> setup actions (log files, the
//   ACME placeholder certificate) -> start/restart/reload once per service (+ check) -> prosody actions
//   after prosody runs, acme-client after nginx runs -> clear the pending mark -> mark the generation complete.
import {
  actionRefusal,
  type FileEntry,
  type NodeDesired,
  NodeDesired as NodeDesiredSchema,
  type NodeRole,
  pathRefusal,
  type RefusalLog,
  type ServiceEntry,
  type SetupAction,
  serviceRefusal,
} from "@vmmeet/shared";
import type { Logger } from "pino";
import type { AcmeAction, AcmeActions } from "../actions/acme.js";
import type { ProsodyActions } from "../actions/prosody.js";
import { ensureLogfile, logfileRefusal } from "../actions/syslog.js";
import { type ActionItem, actionTarget } from "../actions/types.js";
import type { ServiceActionResult, ServiceManager } from "../services/manager.js";
import { type PendingAction, type PendingMark, StateCorruptError, type StateStore } from "../state/store.js";
import type { FileState } from "../status.js";
import { type AccountResolver, UnknownAccountError } from "./accounts.js";
import { type FileChange, type FilePlan, type FileWriter, notifyMap } from "./files.js";
import { PathRefusedError, resolveUnderRoot } from "./paths.js";

export interface ApplyDeps {
  files: FileWriter;
  services: ServiceManager;
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

/** The kind a refusal is logged under: what it concerns ("file", "service", "action", "role"), or "schema". */
function refusalKind(refusals: readonly Refusal[]): string {
  const item = refusals[0]?.item ?? "";
  const word = /^(file|service|action|role)\b/.exec(item)?.[1];
  return `refused-${word ?? "schema"}`;
}

/** Logs a refusal, or only counts it when one of its kind was logged less than a minute ago. */
function logRefusal(
  deps: ApplyDeps,
  log: Logger,
  kind: string,
  fields: object,
  msg: string,
  level: "warn" | "info",
) {
  const note = deps.refusalLog ? deps.refusalLog.note(kind) : { repeated: 0 };
  if (note === null) return;
  log[level]({ ...fields, ...(note.repeated > 0 ? { repeated: note.repeated } : {}) }, msg);
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
   * What this apply's own rcctl calls found, per service, at its end: whether `rcctl check` matched and
   * what `rcctl get NAME flags` prints. The status snapshot sent right after the apply uses them instead of
   * asking rcctl the same questions again a few milliseconds later. A field is absent when not observed.
   */
  observed?: Record<string, ObservedService>;
  /**
   * The managed files this apply wrote or found as desired, by path, as the status reports them (the
   * desired bytes' hash, mode and owner): the snapshot right after the apply does not read and hash them
   * again. A file that failed or was refused is absent.
   */
  observedFiles?: Record<string, FileState>;
}

export interface ObservedService {
  running?: boolean;
  flags?: string;
}

/** A file mode as the status reports it: "0644". */
export function modeText(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

export interface RollbackResult {
  outcome: "rolled-back" | "failed" | "nothing";
  generation: number;
  files: FileItem[];
  services: ServiceItem[];
}

const DEFAULT_KEEP_BACKUPS = 5;

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Allow-list and schema checks, each problem reported. Nothing is touched. */
export function validateDesired(
  input: unknown,
  role?: NodeRole,
): { desired: NodeDesired; refusals: [] } | { desired: null; refusals: Refusal[] } {
  const refusals: Refusal[] = [];
  const raw = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
  const claimed = raw["role"] as NodeRole;
  if (role !== undefined && claimed !== role) {
    refusals.push({ item: "role", reason: `this agent manages a ${role} node, not ${String(claimed)}` });
  }
  const effRole = role ?? claimed;
  const knownRole = typeof effRole === "string" && NodeDesiredSchema.shape.role.safeParse(effRole).success;
  if (knownRole) {
    const seen = new Set<string>();
    for (const f of asArray(raw["files"])) {
      const p = f["path"];
      if (typeof p !== "string") continue;
      const why = pathRefusal(effRole, p);
      if (why) refusals.push({ item: `file ${p}`, reason: why });
      if (seen.has(p)) refusals.push({ item: `file ${p}`, reason: "listed twice" });
      seen.add(p);
      for (const n of asArray(f["notify"])) {
        const s = n["service"];
        const nwhy = typeof s === "string" ? serviceRefusal(effRole, s) : null;
        if (nwhy) refusals.push({ item: `service ${String(s)} (notified by ${p})`, reason: nwhy });
      }
    }
    const names = new Set<string>();
    for (const s of asArray(raw["services"])) {
      const n = s["name"];
      if (typeof n !== "string") continue;
      const why = serviceRefusal(effRole, n);
      if (why) refusals.push({ item: `service ${n}`, reason: why });
      if (names.has(n)) refusals.push({ item: `service ${n}`, reason: "listed twice" });
      names.add(n);
    }
    for (const a of asArray(raw["actions"])) {
      if (a["kind"] === "syslog-logfile" && typeof a["path"] === "string") {
        const why = logfileRefusal(a["path"]);
        if (why) refusals.push({ item: `action syslog-logfile ${a["path"]}`, reason: why });
      }
    }
  }
  const parsed = NodeDesiredSchema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // zod issue messages describe the rule, never echo the value (a password stays out of the result).
      refusals.push({ item: issue.path.join(".") || "(desired state)", reason: issue.message });
    }
  }
  if (parsed.success && knownRole) {
    // Kinds bound to a role (acme-certificate: web only) and the paths an action may write.
    for (const a of parsed.data.actions) {
      const why = actionRefusal(effRole, a);
      if (why) refusals.push({ item: `action ${a.kind} ${actionTarget(a)}`, reason: why });
    }
  }
  if (refusals.length > 0 || !parsed.success) return { desired: null, refusals };
  return { desired: parsed.data, refusals: [] };
}

function asArray(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v)
    ? v.filter((x): x is Record<string, unknown> => typeof x === "object" && x !== null)
    : [];
}

function emptyResult(outcome: ApplyResult["outcome"], generation: number): ApplyResult {
  return { outcome, generation, changed: false, files: [], services: [], actions: [], refusals: [] };
}

/** Merges service actions: restart wins over reload. */
function mergeInto(into: Map<string, PendingAction>, from: Record<string, PendingAction>) {
  for (const [svc, act] of Object.entries(from)) {
    if (into.get(svc) !== "restart") into.set(svc, act);
  }
}

const sameFlags = (a: string, b: string) => a.trim() === b.trim();

/**
 * Applies a desired state of the given generation. `input` is validated here (the agent trusts no
 * sender): a NodeDesired or its wire form.
 */
export async function applyDesired(
  input: unknown,
  generation: number,
  deps: ApplyDeps,
): Promise<ApplyResult> {
  const log = deps.log.child({ generation });
  const v = validateDesired(input, deps.role);
  if (!v.desired) {
    logRefusal(deps, log, refusalKind(v.refusals), { refusals: v.refusals }, "desired state refused", "warn");
    return { ...emptyResult("refused", generation), refusals: v.refusals };
  }
  const desired = v.desired;

  const state = await loadState(deps, log);
  if (state && generation < state.generation) {
    logRefusal(deps, log, "stale", { current: state.generation }, "stale generation ignored", "info");
    return { ...emptyResult("stale", generation), current: state.generation };
  }

  // Plan, read only. A path that escapes the root through a link, or an account that does not exist, is
  // found here, so the whole desired state is refused before anything is written.
  const refusals: Refusal[] = [];
  const plans: FilePlan[] = [];
  const unreadable: FileItem[] = [];
  for (const entry of desired.files) {
    try {
      plans.push(await deps.files.plan(entry));
    } catch (e) {
      if (e instanceof PathRefusedError) refusals.push({ item: `file ${entry.path}`, reason: e.reason });
      else if (e instanceof UnknownAccountError)
        refusals.push({ item: `file ${entry.path}`, reason: e.message });
      else unreadable.push({ kind: "file", path: entry.path, status: "failed", detail: errText(e) });
    }
  }
  for (const a of desired.actions) {
    if (a.kind === "acme-certificate") {
      // Its files must not lead out of the root through a link, like managed files.
      for (const p of [a.certificate, a.key]) {
        try {
          await resolveUnderRoot(deps.root, p, false);
        } catch (e) {
          if (!(e instanceof PathRefusedError)) throw e;
          refusals.push({ item: `action acme-certificate ${a.domain}`, reason: e.reason });
        }
      }
    }
    if (a.kind !== "syslog-logfile") continue;
    try {
      deps.accounts.uid(a.owner);
      deps.accounts.gid(a.group);
    } catch (e) {
      if (!(e instanceof UnknownAccountError)) throw e;
      refusals.push({ item: `action syslog-logfile ${a.path}`, reason: e.message });
    }
  }
  if (deps.hooks && refusals.length === 0 && unreadable.length === 0) {
    // pf.conf and vm.conf are checked by pfctl -nf and vmd -n before anything is written: a file they refuse
    // never reaches /etc (a reboot would load it) and the running rules and VMs stay as they are.
    for (const p of plans) {
      if (p.change !== "created" && p.change !== "content") continue;
      const why = await deps.hooks.check(p.entry, p.bytes);
      if (why) refusals.push({ item: `file ${p.entry.path}`, reason: why });
    }
  }
  if (refusals.length > 0) {
    logRefusal(deps, log, refusalKind(refusals), { refusals }, "desired state refused", "warn");
    return {
      ...emptyResult("refused", generation),
      refusals,
      files: desired.files.map((f) => ({ kind: "file", path: f.path, status: "refused" })),
    };
  }
  if (unreadable.length > 0) {
    // An I/O error while comparing (EACCES, EIO): write nothing rather than half a desired state.
    log.error({ files: unreadable.map((f) => f.path) }, "cannot compare files; nothing applied");
    return { ...emptyResult("failed", generation), files: unreadable };
  }

  let todo = new Map<string, PendingAction>();
  for (const p of plans) {
    // Only new bytes need the daemon to re-read the file; a mode or owner fix does not (and a daemon that
    // could not read it before is not running, so it gets started below anyway).
    if (p.change === "created" || p.change === "content") mergeInto(todo, notifyMap(p.entry));
  }
  // New flags reach a running daemon only through a restart: rc.subr saves the start-time flags in
  // /var/run/rc.d/NAME (docs/openbsd-rc.md section 2). Read now so a crash after `set` still restarts.
  // Read for a service whose flags are not managed too: what it prints says whether it is enabled (below)
  // and goes into the status snapshot, one rcctl call instead of `get NAME status` plus `get NAME flags`.
  const flagsSeen = new Map<string, string>();
  /** Restarts asked for by something else than a file of this apply: changed flags, an interrupted apply. */
  const notFromFiles = new Map<string, PendingAction>();
  for (const s of desired.services) {
    try {
      const cur = await deps.services.getFlags(s.name);
      flagsSeen.set(s.name, cur);
      if (s.flags !== null && !sameFlags(cur, s.flags)) {
        todo.set(s.name, "restart");
        notFromFiles.set(s.name, "restart");
      }
    } catch {
      // An unknown service is reported by the services step.
    }
  }
  const leftover = await readPendingSafe(deps, log);
  if (leftover) {
    mergeInto(todo, leftover.services);
    mergeInto(notFromFiles, leftover.services);
  }

  const fileChanges = plans.some((p) => p.change !== "unchanged");
  const firstTime = !(state && state.generation === generation && state.complete);
  const stateChanged = !state || state.generation !== generation || !sameJson(state.desired, desired);
  if (stateChanged || firstTime) {
    // Persisted before the first write: after a crash the agent converges forward to this generation.
    const previous =
      state && state.generation !== generation
        ? state.desired
          ? { generation: state.generation, desired: state.desired }
          : null
        : (state?.previous ?? null);
    await deps.state.save({ generation, desired, complete: false, previous });
  }
  // The pending mark (fsynced by the atomic write) is on disk before any file is touched: a crash between
  // a file write and its daemon's restart leaves a daemon running the old config with nothing on disk
  // that still differs; the mark is what makes start-up finish the restart.
  const pending: PendingMark = { generation, services: Object.fromEntries(todo) };
  const needMark = fileChanges || todo.size > 0;
  if (needMark) await deps.state.writePending(pending);

  const fileItems: FileItem[] = [];
  const observedFiles: Record<string, FileState> = {};
  // The file as the status reports it, once it is as desired (written, or found so).
  const observeFile = ({ entry: { path: managed, owner, group }, digest, mode }: FilePlan) => {
    observedFiles[managed] = { path: managed, sha256: digest, mode: modeText(mode), owner, group };
  };
  for (const p of plans) {
    if (p.change === "unchanged") {
      fileItems.push({ kind: "file", path: p.entry.path, status: "unchanged" });
      observeFile(p);
      await deps.files.removeTemps(p.entry.path).catch((e: unknown) => {
        log.warn({ path: p.entry.path, err: errText(e) }, "cannot remove stale temp files");
      });
      continue;
    }
    try {
      if (p.change === "created" || p.change === "content") await deps.hooks?.beforeWrite(p.entry);
      await deps.files.write(p, firstTime ? generation : null);
      fileItems.push({ kind: "file", path: p.entry.path, status: "written", change: p.change });
      observeFile(p);
      log.info({ path: p.entry.path, change: p.change }, "file written");
    } catch (e) {
      const refused = e instanceof PathRefusedError;
      fileItems.push({
        kind: "file",
        path: p.entry.path,
        status: refused ? "refused" : "failed",
        detail: errText(e),
      });
      log.error({ path: p.entry.path, err: errText(e) }, "file not written");
    }
  }
  if (fileItems.some((f) => f.status === "failed" || f.status === "refused")) {
    // A file that could not be written (ENOSPC on a full /etc, EIO) changed nothing its daemon reads: only
    // the files written ask for their restarts, so a daemon whose files all stayed as they were keeps running.
    const written = new Set(fileItems.filter((f) => f.status === "written").map((f) => f.path));
    const kept = new Map(notFromFiles);
    for (const p of plans)
      if ((p.change === "created" || p.change === "content") && written.has(p.entry.path))
        mergeInto(kept, notifyMap(p.entry));
    todo = kept;
  }

  const ordered = [...desired.services].sort((a, b) => a.order - b.order);
  const observed = new Map<string, ObservedService>();
  const observe = (name: string, o: ObservedService) => observed.set(name, { ...observed.get(name), ...o });
  const serviceItems = new Map<string, ServiceItem>();
  const item = (name: string) => {
    let it = serviceItems.get(name);
    if (!it) {
      it = { kind: "service", name, status: "unchanged", steps: [] };
      serviceItems.set(name, it);
    }
    return it;
  };

  // enable before set: `rcctl set X flags` refuses a disabled service. Never disable to change anything:
  // `disable` deletes every X_* variable of a package daemon (rcctl(8); docs/openbsd-rc.md section 1).
  for (const s of ordered) {
    const it = item(s.name);
    try {
      // `rcctl get NAME flags` prints NO exactly when NAME is disabled (rcctl refuses `set NAME flags NO`;
      // docs/openbsd-rc.md section 1), so the flags read while planning also say whether to enable.
      const seen = flagsSeen.get(s.name);
      const enabled = seen !== undefined ? seen !== "NO" : await deps.services.isEnabled(s.name);
      if (!enabled) {
        await deps.services.enable(s.name);
        it.steps.push("enabled");
        flagsSeen.delete(s.name); // enabling changes what `get flags` prints ("NO" before)
      }
      // The agent is the only writer of rc.conf.local (its rcctl calls are serialized), so the value read
      // while planning still holds unless `enable` ran; one rcctl call less per service and apply.
      if (s.flags === null) {
        const cur = flagsSeen.get(s.name);
        if (cur !== undefined) observe(s.name, { flags: cur });
        continue;
      }
      const cur = flagsSeen.get(s.name) ?? (await deps.services.getFlags(s.name));
      if (!sameFlags(cur, s.flags)) {
        await deps.services.setFlags(s.name, s.flags);
        it.steps.push("flags-set");
        todo.set(s.name, "restart");
        observed.delete(s.name); // what `get flags` prints now is rcctl's business (quoting): ask again
      } else observe(s.name, { flags: cur });
    } catch (e) {
      fail(it, e);
    }
  }

  // Setup actions that do not need a running daemon, after the files and before the (re)starts.
  const actionItems: (ActionItem | HookItem)[] = [];
  for (const a of desired.actions) {
    if (a.kind !== "syslog-logfile") continue;
    await actionStep(actionItems, a.kind, a.path, async () => {
      const r = await ensureLogfile(a, deps.root, deps.accounts);
      // One reload for all new log files and a changed syslog.conf together: syslogd re-reads its config
      // and opens the files on SIGHUP, which rc.d's reload sends.
      if (r.created && !todo.has("syslogd")) todo.set("syslogd", "reload");
      return r.item;
    });
  }

  // nginx cannot start without its certificate: a placeholder until acme-client has written the real one.
  const acmeActions = desired.actions.filter((a): a is AcmeAction => a.kind === "acme-certificate");
  for (const a of acmeActions)
    await actionStep(actionItems, a.kind, a.domain, () => deps.acme.ensurePlaceholder(a));

  const prosodyActions = desired.actions.filter(
    (a) => a.kind === "prosody-user" || a.kind === "prosody-roster-subscribe",
  );
  let prosodyDone = prosodyActions.length === 0;
  const runProsody = async (prosodyRunning: boolean) => {
    prosodyDone = true;
    actionItems.push(...(await runProsodyActions(prosodyActions, prosodyRunning, deps)));
  };
  let acmeDone = acmeActions.length === 0;
  const runAcme = async (nginxRunning: boolean) => {
    acmeDone = true;
    for (const a of acmeActions)
      await actionStep(actionItems, a.kind, a.domain, () =>
        deps.acme.ensureCertificate(a, nginxRunning, deps.services),
      );
  };

  // Services only notified (syslogd for syslog.conf, a base daemon, pf), first: they serve the others.
  const ctx: HookContext = { generation, desired };
  const managed = new Set(ordered.map((s) => s.name));
  for (const [name, act] of [...todo]
    .filter(([n]) => !managed.has(n))
    // A plain code-unit order (service names are ASCII): localeCompare would load ICU's collation into the
    // agent's resident memory (bench/README.md, "Idle RSS").
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    await bounce(name, act, item(name), deps, log, false, ctx, observe);
  }
  for (const s of ordered) {
    const it = item(s.name);
    if (it.status !== "failed") await bounce(s.name, todo.get(s.name), it, deps, log, true, ctx, observe);
    // prosodyctl register and mod_roster_command need prosody up (the paper: rcctl start prosody first).
    if (s.name === "prosody" && !prosodyDone) await runProsody(it.status !== "failed");
    // acme-client's http-01 challenge is answered by nginx on port 80.
    if (s.name === "nginx" && !acmeDone) await runAcme(it.status !== "failed");
  }
  if (!prosodyDone) await runProsody(true);
  if (!acmeDone) await runAcme(true);
  if (deps.hooks) {
    try {
      actionItems.push(...(await deps.hooks.finish(desired, ctx)));
    } catch (e) {
      log.error({ err: errText(e) }, "host steps failed");
      actionItems.push({
        kind: "action",
        action: "vm-start",
        target: "*",
        status: "failed",
        detail: errText(e),
      });
    }
  }

  if (needMark || leftover) await deps.state.clearPending();
  if (stateChanged || firstTime) {
    await deps.state.markComplete(generation);
    await deps.files.pruneBackups(deps.keepBackups ?? DEFAULT_KEEP_BACKUPS);
  }

  const services = [...serviceItems.values()];
  const failed =
    fileItems.some((f) => f.status !== "written" && f.status !== "unchanged") ||
    services.some((s) => s.status === "failed") ||
    actionItems.some((a) => a.status === "failed" || a.status === "refused");
  const changed =
    fileItems.some((f) => f.status === "written") ||
    services.some((s) => s.steps.length > 0) ||
    actionItems.some((a) => a.status === "done");
  const result: ApplyResult = {
    outcome: failed ? "failed" : "applied",
    generation,
    changed,
    files: fileItems,
    services,
    actions: actionItems,
    refusals: [],
    observed: Object.fromEntries(observed),
    observedFiles,
  };
  log.info({ outcome: result.outcome, changed }, "apply finished");
  return result;
}

/** A corrupt state file (it cannot be torn: it is written atomically) is logged and treated as absent. */
async function loadState(deps: ApplyDeps, log: Logger) {
  try {
    return await deps.state.load();
  } catch (e) {
    if (!(e instanceof StateCorruptError)) throw e;
    log.error({ err: e.message }, "state unreadable, ignored");
    return null;
  }
}

async function readPendingSafe(deps: ApplyDeps, log: Logger): Promise<PendingMark | null> {
  try {
    return await deps.state.readPending();
  } catch (e) {
    if (!(e instanceof StateCorruptError)) throw e;
    log.error({ err: e.message }, "pending mark unreadable, removed");
    await deps.state.clearPending();
    return null;
  }
}

/**
 * One setup action's step: its item (none when it had nothing to do) is added; an exception becomes the
 * action's failed item, and the other actions still run.
 */
async function actionStep(
  items: (ActionItem | HookItem)[],
  action: ActionItem["action"],
  target: string,
  step: () => Promise<ActionItem | null>,
): Promise<void> {
  try {
    const it = await step();
    if (it) items.push(it);
  } catch (e) {
    items.push({ kind: "action", action, target, status: "failed", detail: errText(e) });
  }
}

function fail(it: ServiceItem, e: unknown) {
  it.status = "failed";
  it.detail = errText(e);
}

/**
 * Brings one service to running, restarting or reloading it at most once. `startIfStopped`: managed
 * services are started when not running; a merely notified one (syslogd) only gets its action.
 * Every start/restart/reload is followed by `rcctl check`, because rcctl prints "(ok)" even when the
 * process pattern never matched (rc_bg=YES waits daemon_timeout and still says ok; section 2).
 */
async function bounce(
  name: string,
  act: PendingAction | undefined,
  it: ServiceItem,
  deps: ApplyDeps,
  log: Logger,
  startIfStopped: boolean,
  ctx: HookContext,
  observe: (name: string, o: ObservedService) => void = () => {},
): Promise<void> {
  try {
    const hooked = act !== undefined ? deps.hooks?.notify(name, act, ctx) : null;
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
    const running = await deps.services.check(name);
    let step: ServiceStep | null = null;
    let r: Awaited<ReturnType<ServiceManager["start"]>> | null = null;
    if (!running && startIfStopped) {
      r = await deps.services.start(name);
      step = "started";
    } else if (act === "restart" || (act === "reload" && !running)) {
      r = await deps.services.restart(name);
      step = running ? "restarted" : "started";
    } else if (act === "reload") {
      r = (await deps.hooks?.reload(name)) ?? (await deps.services.reload(name));
      step = "reloaded";
      if (r.outcome === "unsupported") {
        // rc_reload=NO (jicofo, jvb): the only way to make them re-read their config is a restart.
        r = await deps.services.restart(name);
        step = "restarted";
      }
    }
    if (!step || !r) {
      observe(name, { running });
      return;
    }
    // After a failed action nothing is known of the process: the snapshot asks rcctl again.
    if (!r.ok) {
      it.status = "failed";
      it.detail =
        `rcctl ${step === "started" ? "start" : step === "restarted" ? "restart" : "reload"}: ${r.outcome} ${r.output.trim()}`.trim();
      log.error({ service: name, outcome: r.outcome }, "service action failed");
      return;
    }
    it.steps.push(step);
    const after = await deps.services.check(name);
    observe(name, { running: after });
    if (!after) {
      it.status = "failed";
      it.detail = `${step}, but rcctl check finds no process (it exited, or its pexp never matches)`;
      log.error({ service: name, step }, "service not running after action");
      return;
    }
    log.info({ service: name, step }, "service");
  } catch (e) {
    fail(it, e);
  } finally {
    if (it.status !== "failed" && it.steps.length > 0) it.status = "changed";
  }
}

async function runProsodyActions(
  actions: SetupAction[],
  prosodyRunning: boolean,
  deps: ApplyDeps,
): Promise<ActionItem[]> {
  const items: ActionItem[] = [];
  if (!prosodyRunning) {
    return actions.map((a) => ({
      kind: "action",
      action: a.kind,
      target: actionTarget(a),
      status: "failed",
      detail: "prosody is not running",
    }));
  }
  const st = await deps.state.readActions();
  const before = JSON.stringify(st);
  const salt = await deps.state.salt();
  // Users before roster subscriptions: a subscription is redone when its user's account was re-created.
  const sorted = [...actions].sort((a, b) => rank(a) - rank(b));
  for (const a of sorted) {
    try {
      if (a.kind === "prosody-user") items.push(await deps.prosody.ensureUser(a, st, salt));
      else if (a.kind === "prosody-roster-subscribe") items.push(await deps.prosody.ensureRoster(a, st));
    } catch (e) {
      const detail = a.kind === "prosody-user" ? errText(e).split(a.password).join("<redacted>") : errText(e);
      items.push({ kind: "action", action: a.kind, target: actionTarget(a), status: "failed", detail });
    }
  }
  if (JSON.stringify(st) !== before) await deps.state.writeActions(st);
  return items;
}

const rank = (a: SetupAction) => (a.kind === "prosody-user" ? 0 : 1);

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Restores the files the apply of `generation` replaced (or removes the ones it created) and restarts or
 * reloads the services their notify lists named. The persisted state goes back to the desired state
 * enforced before that generation; the generation number stays (the coordinator sends a newer one next).
 */
export async function rollback(generation: number, deps: ApplyDeps): Promise<RollbackResult> {
  const log = deps.log.child({ rollback: generation });
  const backups = await deps.files.backups(generation);
  if (backups.length === 0) return { outcome: "nothing", generation, files: [], services: [] };
  const todo = new Map<string, PendingAction>();
  for (const b of backups) mergeInto(todo, b.services);
  const state = await loadState(deps, log);
  const undoesCurrent = state !== null && state.generation >= generation;
  const target = undoesCurrent ? (state.previous?.desired ?? null) : null;
  // The state first, then the pending mark, then the files: a crash in between makes start-up converge
  // to the rolled-back state and finish the restarts, instead of re-applying what is being undone.
  if (undoesCurrent) {
    await deps.state.save({ generation: state.generation, desired: target, complete: true, previous: null });
  }
  await deps.state.writePending({ generation, services: Object.fromEntries(todo) });
  const files: FileItem[] = [];
  for (const b of backups) {
    try {
      await deps.files.restore(b);
      files.push({
        kind: "file",
        path: b.path,
        status: "written",
        change: b.existed ? "content" : "created",
      });
    } catch (e) {
      files.push({ kind: "file", path: b.path, status: "failed", detail: errText(e) });
    }
  }
  const desiredServices: ServiceEntry[] = target?.services ?? state?.desired?.services ?? [];
  const orderOf = new Map(desiredServices.map((s) => [s.name, s.order]));
  const names = [...todo.keys()].sort((a, b) => (orderOf.get(a) ?? -1) - (orderOf.get(b) ?? -1));
  const services: ServiceItem[] = [];
  for (const name of names) {
    const it: ServiceItem = { kind: "service", name, status: "unchanged", steps: [] };
    await bounce(name, todo.get(name), it, deps, log, orderOf.has(name), {
      generation: state?.generation ?? generation,
      desired: target,
    });
    services.push(it);
  }
  await deps.state.clearPending();
  const failed = files.some((f) => f.status === "failed") || services.some((s) => s.status === "failed");
  log.info({ failed }, "rollback finished");
  return { outcome: failed ? "failed" : "rolled-back", generation, files, services };
}

/** Finishes an interrupted job when there is no desired state to re-apply: the pending restarts only. */
export async function finishPending(deps: ApplyDeps): Promise<ServiceItem[]> {
  const pending = await readPendingSafe(deps, deps.log);
  if (!pending) return [];
  const items: ServiceItem[] = [];
  for (const [name, act] of Object.entries(pending.services)) {
    const it: ServiceItem = { kind: "service", name, status: "unchanged", steps: [] };
    await bounce(name, act, it, deps, deps.log, false, { generation: pending.generation, desired: null });
    items.push(it);
  }
  await deps.state.clearPending();
  return items;
}
