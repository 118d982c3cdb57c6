// The apply engine: makes a node match a desired state, and can undo one apply.
//
// One apply, step by step (each a function below, its reason in its comment):
//   validate (allow-list, schema; validate.ts) -> stale check -> plan (read only: compare files, the
//   components' own refusals, the hooks' checks) -> what each service needs (flags read, an interrupted
//   apply's restarts) -> persist the desired state and the pending mark -> files -> enable/flags ->
//   the components' steps before the services (log files, the ACME placeholder certificate) ->
//   start/restart/reload once per service through the service owner (converge.ts), each component's step
//   right after the service it needs (components.ts: prosody's accounts after prosody, acme-client after
//   nginx) -> the hooks' last steps (sysctl, VMs) -> clear the pending mark -> mark the generation complete.
import type { NodeDesired, ServiceEntry } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { ActionItem } from "../actions/types.js";
import type { PendingAction, PendingMark } from "../state/store.js";
import { UnknownAccountError } from "./accounts.js";
import { actionsOf, COMPONENT_STEPS, type StepContext } from "./components.js";
import { converge } from "./converge.js";
import { type FilePlan, notifyMap } from "./files.js";
import { PathRefusedError } from "./paths.js";
import { loadState, mergeInto, readPendingSafe } from "./persisted.js";
import {
  type ApplyDeps,
  type ApplyResult,
  errText,
  type FileItem,
  type FileState,
  type HookContext,
  type HookItem,
  modeText,
  type Refusal,
  type ServiceItem,
} from "./types.js";
import { logRefusal, refusalKind, validateDesired } from "./validate.js";

export type {
  ApplyDeps,
  ApplyHooks,
  ApplyResult,
  FileItem,
  FileState,
  HookContext,
  HookItem,
  Refusal,
  RollbackResult,
  ServiceItem,
  ServiceStep,
} from "./types.js";
export { modeText } from "./types.js";
export { validateDesired } from "./validate.js";

const DEFAULT_KEEP_BACKUPS = 5;

function emptyResult(outcome: ApplyResult["outcome"], generation: number): ApplyResult {
  return { outcome, generation, changed: false, files: [], services: [], actions: [], refusals: [] };
}

const sameFlags = (a: string, b: string) => a.trim() === b.trim();

/** Only new bytes need the daemon to re-read the file; a mode or owner fix does not. */
const newBytes = (p: FilePlan) => p.change === "created" || p.change === "content";

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
    const kind = refusalKind(v.refusals);
    logRefusal(deps.refusalLog, log, kind, { refusals: v.refusals }, "desired state refused", "warn");
    return { ...emptyResult("refused", generation), refusals: v.refusals };
  }
  const desired = v.desired;

  const state = await loadState(deps, log);
  if (state && generation < state.generation) {
    const fields = { current: state.generation };
    logRefusal(deps.refusalLog, log, "stale", fields, "stale generation ignored", "info");
    return { ...emptyResult("stale", generation), current: state.generation };
  }

  const planned = await plan(desired, deps);
  if (planned.refusals.length > 0) {
    const { refusals } = planned;
    logRefusal(deps.refusalLog, log, refusalKind(refusals), { refusals }, "desired state refused", "warn");
    return {
      ...emptyResult("refused", generation),
      refusals,
      files: desired.files.map((f) => ({ kind: "file", path: f.path, status: "refused" })),
    };
  }
  if (planned.unreadable.length > 0) {
    // An I/O error while comparing (EACCES, EIO): write nothing rather than half a desired state.
    log.error({ files: planned.unreadable.map((f) => f.path) }, "cannot compare files; nothing applied");
    return { ...emptyResult("failed", generation), files: planned.unreadable };
  }
  const { plans } = planned;

  const needs = await serviceNeeds(desired, plans, deps, log);
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
  const needMark = plans.some((p) => p.change !== "unchanged") || needs.todo.size > 0;
  if (needMark) await deps.state.writePending({ generation, services: Object.fromEntries(needs.todo) });

  const { fileItems, observedFiles } = await writeFiles(plans, deps, log, firstTime ? generation : null);
  let todo = needs.todo;
  if (fileItems.some((f) => f.status === "failed" || f.status === "refused")) {
    // A file that could not be written (ENOSPC on a full /etc, EIO) changed nothing its daemon reads: only
    // the files written ask for their restarts, so a daemon whose files all stayed as they were keeps running.
    const written = new Set(fileItems.filter((f) => f.status === "written").map((f) => f.path));
    todo = new Map(needs.notFromFiles);
    for (const p of plans) if (newBytes(p) && written.has(p.entry.path)) mergeInto(todo, notifyMap(p.entry));
  }

  // Their grace periods, before any of them (re)starts.
  deps.services.configure(desired.services);
  const ordered = [...desired.services].sort((a, b) => a.order - b.order);
  const items = new ServiceItems();
  await enableAndSetFlags(ordered, needs.flagsSeen, todo, items, deps);
  const actionItems = await runServices(desired, ordered, todo, items, deps, log, { generation, desired });

  if (needMark || needs.leftover) await deps.state.clearPending();
  if (stateChanged || firstTime) {
    await deps.state.markComplete(generation);
    await deps.files.pruneBackups(deps.keepBackups ?? DEFAULT_KEEP_BACKUPS);
  }

  const services = items.all();
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
    observedFiles,
  };
  log.info({ outcome: result.outcome, changed }, "apply finished");
  return result;
}

/**
 * Read only. A path that escapes the root through a link, an account that does not exist, or a file its
 * program refuses is found here, so the whole desired state is refused before anything is written.
 */
async function plan(
  desired: NodeDesired,
  deps: ApplyDeps,
): Promise<{ plans: FilePlan[]; refusals: Refusal[]; unreadable: FileItem[] }> {
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
    const c = COMPONENT_STEPS.find((x) => x.kinds.includes(a.kind));
    if (c?.refuse) refusals.push(...(await c.refuse(a, deps)));
  }
  if (deps.hooks && refusals.length === 0 && unreadable.length === 0) {
    // pf.conf and vm.conf are checked by pfctl -nf and vmd -n before anything is written: a file they refuse
    // never reaches /etc (a reboot would load it) and the running rules and VMs stay as they are.
    for (const p of plans) {
      if (!newBytes(p)) continue;
      const why = await deps.hooks.check(p.entry, p.bytes);
      if (why) refusals.push({ item: `file ${p.entry.path}`, reason: why });
    }
  }
  return { plans, refusals, unreadable };
}

interface ServiceNeeds {
  /** Per service, the restart or reload this apply owes it. */
  todo: Map<string, PendingAction>;
  /** Restarts asked for by something else than a file of this apply: changed flags, an interrupted apply. */
  notFromFiles: Map<string, PendingAction>;
  /** What `rcctl get NAME flags` printed while planning. */
  flagsSeen: Map<string, string>;
  /** The pending mark an interrupted apply left. */
  leftover: PendingMark | null;
}

/** What each service needs from this apply: the changed files' notify lists, changed flags, leftovers. */
async function serviceNeeds(
  desired: NodeDesired,
  plans: readonly FilePlan[],
  deps: ApplyDeps,
  log: Logger,
): Promise<ServiceNeeds> {
  const todo = new Map<string, PendingAction>();
  // A daemon that could not read a file before is not running, so it gets started anyway.
  for (const p of plans) if (newBytes(p)) mergeInto(todo, notifyMap(p.entry));
  // New flags reach a running daemon only through a restart: rc.subr saves the start-time flags in
  // /var/run/rc.d/NAME (docs/openbsd-rc.md section 2). Read now so a crash after `set` still restarts.
  // Read for a service whose flags are not managed too: what it prints says whether it is enabled, one
  // rcctl call instead of `get NAME status` plus `get NAME flags` (the service owner keeps the answer).
  const flagsSeen = new Map<string, string>();
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
  return { todo, notFromFiles, flagsSeen, leftover };
}

/** Writes what differs; every file as desired (written or found so) as the status would report it. */
async function writeFiles(
  plans: readonly FilePlan[],
  deps: ApplyDeps,
  log: Logger,
  backupGeneration: number | null,
): Promise<{ fileItems: FileItem[]; observedFiles: Record<string, FileState> }> {
  const fileItems: FileItem[] = [];
  const observedFiles: Record<string, FileState> = {};
  const observe = ({ entry: { path: managed, owner, group }, digest, mode }: FilePlan) => {
    observedFiles[managed] = { path: managed, sha256: digest, mode: modeText(mode), owner, group };
  };
  for (const p of plans) {
    if (p.change === "unchanged") {
      fileItems.push({ kind: "file", path: p.entry.path, status: "unchanged" });
      observe(p);
      await deps.files.removeTemps(p.entry.path).catch((e: unknown) => {
        log.warn({ path: p.entry.path, err: errText(e) }, "cannot remove stale temp files");
      });
      continue;
    }
    try {
      if (newBytes(p)) await deps.hooks?.beforeWrite(p.entry);
      await deps.files.write(p, backupGeneration);
      fileItems.push({ kind: "file", path: p.entry.path, status: "written", change: p.change });
      observe(p);
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
  return { fileItems, observedFiles };
}

/** The apply's service items by name, in the order they were first touched. */
class ServiceItems {
  readonly #items = new Map<string, ServiceItem>();

  get(name: string): ServiceItem {
    let it = this.#items.get(name);
    if (!it) {
      it = { kind: "service", name, status: "unchanged", steps: [] };
      this.#items.set(name, it);
    }
    return it;
  }

  all(): ServiceItem[] {
    return [...this.#items.values()];
  }
}

/**
 * enable before set: `rcctl set X flags` refuses a disabled service. Never disable to change anything:
 * `disable` deletes every X_* variable of a package daemon (rcctl(8); docs/openbsd-rc.md section 1).
 */
async function enableAndSetFlags(
  ordered: readonly ServiceEntry[],
  flagsSeen: Map<string, string>,
  todo: Map<string, PendingAction>,
  items: ServiceItems,
  deps: ApplyDeps,
): Promise<void> {
  for (const s of ordered) {
    const it = items.get(s.name);
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
      if (s.flags === null) continue;
      // The agent is the only writer of rc.conf.local (its rcctl calls are serialized), so the value read
      // while planning still holds unless `enable` ran; one rcctl call less per service and apply.
      const cur = flagsSeen.get(s.name) ?? (await deps.services.getFlags(s.name));
      if (!sameFlags(cur, s.flags)) {
        await deps.services.setFlags(s.name, s.flags);
        it.steps.push("flags-set");
        todo.set(s.name, "restart");
      }
    } catch (e) {
      it.status = "failed";
      it.detail = errText(e);
    }
  }
}

/**
 * The components' steps before the services, the services (notified-only ones first: syslogd, a base
 * daemon and pf serve the others), each component's step right after the service it needs, then the
 * hooks' last steps. Returns the setup actions' items.
 */
async function runServices(
  desired: NodeDesired,
  ordered: readonly ServiceEntry[],
  todo: Map<string, PendingAction>,
  items: ServiceItems,
  deps: ApplyDeps,
  log: Logger,
  ctx: HookContext,
): Promise<(ActionItem | HookItem)[]> {
  const actionItems: (ActionItem | HookItem)[] = [];
  const stepCtx: StepContext = {
    deps,
    items: actionItems,
    notify: (service, action) => {
      if (!todo.has(service)) todo.set(service, action);
    },
  };
  const components = COMPONENT_STEPS.map((c) => ({ c, actions: actionsOf(c, desired.actions) })).filter(
    (x) => x.actions.length > 0,
  );
  for (const { c, actions } of components) await c.prepare?.(actions, stepCtx);

  const managed = new Set(ordered.map((s) => s.name));
  for (const [name, action] of [...todo]
    .filter(([n]) => !managed.has(n))
    // A plain code-unit order (service names are ASCII): localeCompare would load ICU's collation into the
    // agent's resident memory (bench/README.md, "Idle RSS").
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    await converge(name, items.get(name), deps, log, { action, startIfStopped: false, ctx });
  }
  const waiting = components.filter(({ c }) => c.ready);
  for (const s of ordered) {
    const it = items.get(s.name);
    if (it.status !== "failed")
      await converge(s.name, it, deps, log, { action: todo.get(s.name), startIfStopped: true, ctx });
    for (const w of waiting.filter(({ c }) => c.after === s.name)) {
      waiting.splice(waiting.indexOf(w), 1);
      await w.c.ready?.(w.actions, it.status !== "failed", stepCtx);
    }
  }
  for (const w of waiting) await w.c.ready?.(w.actions, true, stepCtx);

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
  return actionItems;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
