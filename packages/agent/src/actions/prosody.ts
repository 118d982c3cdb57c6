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
import { createHash } from "node:crypto";
import { lstat } from "node:fs/promises";
import path from "node:path";
import type { SetupAction } from "@vmmeet/shared";
import { resolveUnderRoot } from "../reconcile/paths.js";
import { type ActionsState, isNotFound } from "../state/store.js";
import { type CommandRunner, lastLines, redact } from "./runner.js";
import type { ActionItem } from "./types.js";

type UserAction = Extract<SetupAction, { kind: "prosody-user" }>;
type RosterAction = Extract<SetupAction, { kind: "prosody-roster-subscribe" }>;

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
  /** prosodyctl executable. */
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
    this.prosodyctl = opts.prosodyctl ?? "/usr/local/bin/prosodyctl";
    this.dataDir = opts.dataDir ?? "/var/prosody";
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
    const secrets = [a.password];
    const r = await this.runner.run(this.prosodyctl, ["register", a.user, a.host, a.password], {
      secrets,
      timeoutMs: this.timeoutMs,
    });
    if (r.code !== 0) {
      return {
        ...item,
        status: "failed",
        detail: redact(
          `prosodyctl register exited ${r.code}: ${lastLines(`${r.stdout}${r.stderr}`)}`,
          secrets,
        ),
      };
    }
    if (!(await this.accountExists(a.host, a.user))) {
      return {
        ...item,
        status: "failed",
        detail: `prosodyctl register succeeded but ${accountFile(this.dataDir, a.host, a.user)} does not exist (storage not "internal", or another data_path?)`,
      };
    }
    // A missing account file means prosody lost the account (or never had it): its roster went with it,
    // so a new epoch makes the roster subscriptions of this jid run again.
    const epoch = existed ? (rec?.epoch ?? 1) : (rec?.epoch ?? 0) + 1;
    state.users[jid] = { hash, epoch };
    return { ...item, status: "done", detail: existed ? "password reset" : "registered" };
  }

  /** `mod_roster_command subscribe PROXY JID`, once per (proxy, jid) and account epoch. */
  async ensureRoster(a: RosterAction, state: ActionsState): Promise<ActionItem> {
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
}
