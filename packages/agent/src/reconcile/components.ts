// What a component needs besides its files and its rc.d daemon, as data the generic apply loop runs: a
// step per kind of setup action, with the moment it belongs to (before the services (re)start, or right
// after one named service was brought up). The loop in apply.ts names no component.
import type { SetupAction } from "@vmmeet/shared";
import { ensureLogfile } from "../actions/syslog.js";
import { type ActionItem, actionTarget } from "../actions/types.js";
import type { PendingAction } from "../state/store.js";
import { UnknownAccountError } from "./accounts.js";
import { PathRefusedError, resolveUnderRoot } from "./paths.js";
import { type ApplyDeps, errText, type HookItem, type Refusal } from "./types.js";

type Kind = SetupAction["kind"];
type Of<K extends Kind> = Extract<SetupAction, { kind: K }>;

export interface StepContext {
  deps: ApplyDeps;
  items: (ActionItem | HookItem)[];
  /** Asks a service action of this apply (a reload of syslogd), unless one is asked for already. */
  notify(service: string, action: PendingAction): void;
}

export interface ComponentSteps<K extends Kind = Kind> {
  kinds: readonly K[];
  /** While planning, read only: a problem that refuses the whole desired state before anything is written. */
  refuse?(a: Of<K>, deps: ApplyDeps): Promise<Refusal[]>;
  /** After the files and rc.conf.local, before any service (re)starts: what the services need to start. */
  prepare?(actions: Of<K>[], ctx: StepContext): Promise<void>;
  /** The service that must run first: `ready` runs right after it was brought up. */
  after?: string;
  /**
   * Once `after` was brought up (`running`: whether it runs), or after all services when the node has
   * no such service.
   */
  ready?(actions: Of<K>[], running: boolean, ctx: StepContext): Promise<void>;
}

/** Types one component's steps; the table below holds them side by side. */
function steps<K extends Kind>(s: ComponentSteps<K>): ComponentSteps {
  return s as unknown as ComponentSteps;
}

/**
 * One setup action's step: its item (none when it had nothing to do) is added; an exception becomes the
 * action's failed item, and the other actions still run.
 */
export async function actionStep(
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

const syslog = steps({
  kinds: ["syslog-logfile"],
  async refuse(a, deps) {
    try {
      deps.accounts.uid(a.owner);
      deps.accounts.gid(a.group);
      return [];
    } catch (e) {
      if (!(e instanceof UnknownAccountError)) throw e;
      return [{ item: `action syslog-logfile ${a.path}`, reason: e.message }];
    }
  },
  async prepare(actions, ctx) {
    for (const a of actions) {
      await actionStep(ctx.items, a.kind, a.path, async () => {
        const r = await ensureLogfile(a, ctx.deps.root, ctx.deps.accounts);
        // One reload for all new log files and a changed syslog.conf together: syslogd re-reads its config
        // and opens the files on SIGHUP, which rc.d's reload sends.
        if (r.created) ctx.notify("syslogd", "reload");
        return r.item;
      });
    }
  },
});

const acme = steps({
  kinds: ["acme-certificate"],
  async refuse(a, deps) {
    // Its files must not lead out of the root through a link, like managed files.
    const out: Refusal[] = [];
    for (const p of [a.certificate, a.key]) {
      try {
        await resolveUnderRoot(deps.root, p, false);
      } catch (e) {
        if (!(e instanceof PathRefusedError)) throw e;
        out.push({ item: `action acme-certificate ${a.domain}`, reason: e.reason });
      }
    }
    return out;
  },
  // nginx cannot start without its certificate: a placeholder until acme-client has written the real one.
  async prepare(actions, ctx) {
    for (const a of actions)
      await actionStep(ctx.items, a.kind, a.domain, () => ctx.deps.acme.ensurePlaceholder(a));
  },
  // acme-client's http-01 challenge is answered by nginx on port 80; a new certificate reloads nginx.
  after: "nginx",
  async ready(actions, running, ctx) {
    for (const a of actions)
      await actionStep(ctx.items, a.kind, a.domain, () =>
        ctx.deps.acme.ensureCertificate(a, running, ctx.deps.services),
      );
  },
});

const prosody = steps({
  kinds: ["prosody-user", "prosody-roster-subscribe"],
  // prosodyctl register and mod_roster_command need prosody up (the paper: rcctl start prosody first).
  after: "prosody",
  async ready(actions, running, ctx) {
    ctx.items.push(...(await prosodyAccounts(actions, running, ctx.deps)));
  },
});

/** Every component's steps, in the order their `prepare` runs. */
export const COMPONENT_STEPS: readonly ComponentSteps[] = [syslog, acme, prosody];

/** The actions of the desired state a component's steps handle. */
export function actionsOf(c: ComponentSteps, actions: readonly SetupAction[]): SetupAction[] {
  return actions.filter((a) => c.kinds.includes(a.kind));
}

async function prosodyAccounts(
  actions: Of<"prosody-user" | "prosody-roster-subscribe">[],
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
  const rank = (a: SetupAction) => (a.kind === "prosody-user" ? 0 : 1);
  const sorted = [...actions].sort((a, b) => rank(a) - rank(b));
  for (const a of sorted) {
    try {
      if (a.kind === "prosody-user") items.push(await deps.prosody.ensureUser(a, st, salt));
      else items.push(await deps.prosody.ensureRoster(a, st));
    } catch (e) {
      const detail = a.kind === "prosody-user" ? errText(e).split(a.password).join("<redacted>") : errText(e);
      items.push({ kind: "action", action: a.kind, target: actionTarget(a), status: "failed", detail });
    }
  }
  if (JSON.stringify(st) !== before) await deps.state.writeActions(st);
  return items;
}
