// prosody users and roster subscriptions (the paper, section VIII.A "Users": `prosodyctl register focus
// auth.DOMAIN PASSWORD`, `prosodyctl mod_roster_command subscribe focus.DOMAIN focus@auth.DOMAIN`).
//
// Existence check without the password: prosody's internal storage keeps an account in
// DATA/<host>/accounts/<user>.dat, each name encoded by util/datamanager's encode() (every
// non-alphanumeric byte -> "%xx", so auth.example.org -> auth%2eexample%2eorg). The agent looks for that
// file (DATA is /var/prosody with the OpenBSD package) instead of running `prosodyctl` commands that would
// need the password or print account data. This assumes storage "internal" (the default, and the paper's);
// a register that does not produce the file is reported as failed so that misconfiguration shows.
//
// Register vs passwd: `prosodyctl passwd` reads the password from a terminal (not scriptable without a
// pty); `prosodyctl register USER HOST PASSWORD` calls the auth provider's create_user, which for
// internal_hashed overwrites an existing account's credentials, so it both creates and resets. It is used
// for both, only when the account file is missing or the password differs from the last one applied (a
// salted sha256 in STATE tells that without reading prosody's data). The password is in prosodyctl's argv
// for the duration of the call (visible to local `ps` on the single-purpose xmpp VM); it never reaches a
// log, a result or an error (the runner redacts it).
//
// prosody 13 (an action with `prosody: "13"`) does it its own way, as jitsi-meet's setup does for it
// (docker-jitsi-meet eab4bff7): through the running server's admin shell (mod_admin_shell, which the
// rendered config loads), `prosodyctl shell user create JID PASSWORD` for a new account and `prosodyctl
// shell user password JID PASSWORD` for a changed password; the roster subscription with `prosodyctl shell
// roster subscribe_both JID PROXY`, then `prosodyctl shell module reload client_proxy PROXY` so that the
// proxy sees its new roster (mod_roster_command is a community module built for the 0.x server API).
import { createHash } from "node:crypto";
import { lstat } from "node:fs/promises";
import path from "node:path";
import { PROSODY, type SetupAction } from "@vmmeet/shared";
import { resolveUnderRoot } from "../reconcile/paths.js";
import { type ActionsState, isNotFound } from "../state/store.js";
import { type CommandRunner, lastLines, redact } from "./runner.js";
import type { ActionItem } from "./types.js";

type UserAction = Extract<SetupAction, { kind: "prosody-user" }>;
type RosterAction = Extract<SetupAction, { kind: "prosody-roster-subscribe" }>;

/** What setting an account's password ran, and what its item says. */
interface UserSet {
  command: string;
  /** The item's detail when the account existed, and when it was created. */
  existed: string;
  created: string;
  /** Why it failed (secrets redacted). */
  failed?: string;
}

/** prosody util/datamanager.lua encode(): every byte matching Lua's %W (not a letter or digit) -> %xx. */
export function prosodyEncode(s: string): string {
  return Array.from(Buffer.from(s, "utf8"))
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9]/.test(c) ? c : `%${b.toString(16).padStart(2, "0")}`;
    })
    .join("");
}

/** Managed path of an account's file in prosody's internal storage. */
export function accountFile(dataDir: string, host: string, user: string): string {
  return path.posix.join(dataDir, prosodyEncode(host), "accounts", `${prosodyEncode(user)}.dat`);
}

export function passwordHash(salt: Uint8Array, jid: string, password: string): string {
  return createHash("sha256").update(salt).update(jid).update("\0").update(password).digest("hex");
}

export interface ProsodyOptions {
  /** prosodyctl executable (default net/prosody's /usr/local/sbin/prosodyctl). */
  prosodyctl?: string;
  /** prosody's data_path as a managed path (under root). */
  dataDir?: string;
  root: string;
  runner: CommandRunner;
  timeoutMs?: number;
}

export class ProsodyActions {
  readonly prosodyctl: string;
  readonly dataDir: string;
  private readonly root: string;
  private readonly runner: CommandRunner;
  private readonly timeoutMs: number;

  constructor(opts: ProsodyOptions) {
    this.prosodyctl = opts.prosodyctl ?? PROSODY.prosodyctl.value;
    this.dataDir = opts.dataDir ?? PROSODY.dataDir.value;
    this.root = opts.root;
    this.runner = opts.runner;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
  }

  private async accountExists(host: string, user: string): Promise<boolean> {
    const { target } = await resolveUnderRoot(this.root, accountFile(this.dataDir, host, user), false);
    try {
      return (await lstat(target)).isFile();
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** Creates the account, or resets its password when it changed; `state` is updated in place. */
  async ensureUser(a: UserAction, state: ActionsState, salt: Uint8Array): Promise<ActionItem> {
    const jid = `${a.user}@${a.host}`;
    const item = { kind: "action", action: a.kind, target: jid } as const;
    const hash = passwordHash(salt, jid, a.password);
    const rec = state.users[jid];
    const existed = await this.accountExists(a.host, a.user);
    if (existed && rec?.hash === hash) return { ...item, status: "skipped" };
    const set = a.prosody === "13" ? await this.setUser13(a, jid, existed) : await this.register(a);
    if (set.failed) return { ...item, status: "failed", detail: set.failed };
    if (!(await this.accountExists(a.host, a.user))) {
      return {
        ...item,
        status: "failed",
        detail: `${set.command} succeeded but ${accountFile(this.dataDir, a.host, a.user)} does not exist (storage not "internal", or another data_path?)`,
      };
    }
    // A missing account file means prosody lost the account (or never had it): its roster went with it,
    // so a new epoch makes the roster subscriptions of this jid run again.
    const epoch = existed ? (rec?.epoch ?? 1) : (rec?.epoch ?? 0) + 1;
    state.users[jid] = { hash, epoch };
    return { ...item, status: "done", detail: existed ? set.existed : set.created };
  }

  /** `prosodyctl register USER HOST PASSWORD`: creates the account, or resets its password. */
  private async register(a: UserAction): Promise<UserSet> {
    const secrets = [a.password];
    const r = await this.runner.run(this.prosodyctl, ["register", a.user, a.host, a.password], {
      secrets,
      timeoutMs: this.timeoutMs,
    });
    return {
      command: "prosodyctl register",
      existed: "password reset",
      created: "registered",
      ...(r.code !== 0
        ? {
            failed: redact(
              `prosodyctl register exited ${r.code}: ${lastLines(`${r.stdout}${r.stderr}`)}`,
              secrets,
            ),
          }
        : {}),
    };
  }

  /** `mod_roster_command subscribe PROXY JID`, once per (proxy, jid) and account epoch. */
  async ensureRoster(a: RosterAction, state: ActionsState): Promise<ActionItem> {
    if (a.prosody === "13") return this.ensureRoster13(a, state);
    const key = `${a.proxy} ${a.jid}`;
    const item = { kind: "action", action: a.kind, target: key } as const;
    const userEpoch = state.users[a.jid]?.epoch ?? 0;
    if (state.roster[key]?.userEpoch === userEpoch) return { ...item, status: "skipped" };
    const r = await this.runner.run(this.prosodyctl, ["mod_roster_command", "subscribe", a.proxy, a.jid], {
      timeoutMs: this.timeoutMs,
    });
    if (r.code !== 0) {
      return {
        ...item,
        status: "failed",
        detail: `prosodyctl mod_roster_command exited ${r.code}: ${lastLines(`${r.stdout}${r.stderr}`)}`,
      };
    }
    state.roster[key] = { userEpoch };
    return { ...item, status: "done" };
  }

  /** prosody 13: `prosodyctl shell user create` (new account) or `user password` (changed password). */
  private async setUser13(a: UserAction, jid: string, existed: boolean): Promise<UserSet> {
    const verb = existed ? "password" : "create";
    const failed = await this.shell(["user", verb, jid, a.password], [a.password]);
    return {
      command: `prosodyctl shell user ${verb}`,
      existed: "password changed",
      created: "created",
      ...(failed ? { failed } : {}),
    };
  }

  /** prosody 13: `shell roster subscribe_both JID PROXY`, then the proxy reloads its roster. */
  private async ensureRoster13(a: RosterAction, state: ActionsState): Promise<ActionItem> {
    const key = `${a.proxy} ${a.jid}`;
    const item = { kind: "action", action: a.kind, target: key } as const;
    const userEpoch = state.users[a.jid]?.epoch ?? 0;
    if (state.roster[key]?.userEpoch === userEpoch) return { ...item, status: "skipped" };
    const failed =
      (await this.shell(["roster", "subscribe_both", a.jid, a.proxy], [])) ??
      (await this.shell(["module", "reload", "client_proxy", a.proxy], []));
    if (failed) return { ...item, status: "failed", detail: failed };
    state.roster[key] = { userEpoch };
    return { ...item, status: "done" };
  }

  /** `prosodyctl shell ARGS`: undefined when it succeeded, else what went wrong, secrets redacted. */
  private async shell(args: string[], secrets: string[]): Promise<string | undefined> {
    const r = await this.runner.run(this.prosodyctl, ["shell", ...args], {
      secrets,
      timeoutMs: this.timeoutMs,
    });
    if (r.code === 0) return undefined;
    const what = `prosodyctl shell ${args.slice(0, 2).join(" ")}`;
    return redact(`${what} exited ${r.code}: ${lastLines(`${r.stdout}${r.stderr}`)}`, secrets);
  }
}
