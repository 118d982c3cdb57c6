// pf(4) on every node, commit-confirmed: a bad rule on a VM cuts that VM off, and on the VMM host it cuts
// off every VM at once, so a new pf.conf must prove that the node is still reachable before it is kept.
//
//   check    `pfctl -nf CANDIDATE` on the new bytes before pf.conf is written: a refused file never reaches
//            /etc (a reboot would load it), and the running rules stay (pfctl(8): -n parses, loads nothing)
//   load     `pfctl -f /etc/pf.conf` (the whole ruleset is replaced atomically, or not at all)
//   confirm  the coordinator sends a confirm frame after it received the apply result of the generation
//            over the same live link: proof that the new rules still let it reach the node and back
//   revert   no confirm within the window: the pf.conf of before is put back and loaded, and an event says why
//
// What counts as "the rules of before" (`good`): the pf.conf on disk when the first unconfirmed change began
// (a second change inside the window keeps the first one's `good`: the middle one was never confirmed).
// Content that was confirmed once (or is `good`) is loaded again without a window: the healer restoring a
// confirmed pf.conf after a hand edit must not be reverted to the hand edit for want of a confirmation no
// coordinator would send (it confirms only apply results).
//
// Without a coordinator configured (offline enforcement) nobody can confirm: a load that passed `-nf` is
// kept, and its event says so. Reverting instead would undo every pf change made while offline, including
// the one restoring the last applied state after a reboot.
//
// The pending confirmation and `good` survive an agent restart (STATE/pf/state.json): a crash inside the
// window resumes the timer on start, and an expired window reverts at once. The timer is owned by
// start()/stop() (STYLE.md 7).
import { EventEmitter } from "node:events";
import { constants } from "node:fs";
import { mkdir, open, readFile, rm, unlink } from "node:fs/promises";
import path from "node:path";
import { type Clock, liveClock, sha256, writeFileAtomic, writeJsonAtomic } from "@vmmeet/node";
import type { AgentEvent, HealthLabel } from "@vmmeet/shared";
import type { Logger } from "pino";
import { type CommandRunner, execRunner } from "../actions/runner.js";
import { resolveUnderRoot } from "../reconcile/paths.js";
import { Serial } from "../services/serial.js";
import { isNotFound } from "../state/store.js";

/** pf.conf(5)'s place; the only file that notifies "pf" (shared/allowlist.ts). */
export const PF_CONF = "/etc/pf.conf";
export const DEFAULT_PFCTL = "/sbin/pfctl";
/** The window when the desired state names none (the spec's default operations.pfConfirmSeconds). */
export const DEFAULT_CONFIRM_SECONDS = 60;

export interface PfManagerOptions {
  /** pfctl(8); a test double in tests. */
  pfctl?: string;
  /** Prefix of managed paths ("/" on a node). */
  root: string;
  /** The agent's state directory; the manager keeps STATE/pf/. */
  stateDir: string;
  log: Logger;
  /** Whether a coordinator is configured that can confirm; false keeps every load that passed -nf. */
  confirmable: boolean;
  runner?: CommandRunner;
  clock?: Clock;
}

/** What pf tells its owner. */
export interface PfEvents {
  /** Loaded, confirmed, reverted: worth an audit line at the coordinator. */
  event: [event: AgentEvent];
  /**
   * The window ran out. A listener runs the revert (ApplyEngine.revertPf -> revertIfExpired) in its
   * exclusive section, so a revert never interleaves with an apply writing pf.conf; without one, the
   * manager reverts by itself.
   */
  expired: [];
}

interface Snapshot {
  existed: boolean;
  /** base64 */
  content?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  sha: string | null;
}

interface Pending {
  generation: number;
  /** ms since the epoch */
  deadline: number;
  seconds: number;
  sha: string;
}

interface PfState {
  good: Snapshot | null;
  confirmedSha: string | null;
  pending: Pending | null;
}

export type PfLoadResult =
  | { ok: true; window: number | null; detail: string }
  | { ok: false; detail: string };

export interface PfRevert {
  /** The managed path put back. */
  path: string;
  /** What pf.conf holds now; null when it did not exist before (it was removed and the rules flushed). */
  content: Buffer | null;
  mode: number | null;
  ok: boolean;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class PfManager extends EventEmitter<PfEvents> {
  readonly pfctl: string;
  readonly #dir: string;
  readonly #runner: CommandRunner;
  readonly #clock: Clock;
  readonly #serial = new Serial();
  #state: PfState | null = null;
  #timer: unknown = null;
  #started = false;
  #stopped = false;

  constructor(private readonly options: PfManagerOptions) {
    super();
    this.pfctl = options.pfctl ?? DEFAULT_PFCTL;
    this.#dir = path.join(options.stateDir, "pf");
    this.#runner = options.runner ?? execRunner(options.log);
    this.#clock = options.clock ?? liveClock;
  }

  /** Loads the persisted window (if an agent restart interrupted one) and arms its timer. Idempotent. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    const st = await this.#load();
    if (st.pending) {
      const left = Math.max(0, st.pending.deadline - this.#clock.now());
      this.options.log.warn(
        { generation: st.pending.generation, leftMs: left },
        "an unconfirmed pf.conf is loaded: waiting for the rest of its confirm window",
      );
      this.#arm(left);
    }
  }

  /** Clears the timer; a pending window stays on disk and resumes at the next start. Idempotent. */
  stop(): void {
    this.#stopped = true;
    this.#started = false;
    this.#disarm();
  }

  /** The generation whose pf.conf awaits a confirmation, or null. */
  async pending(): Promise<{ generation: number; deadline: number } | null> {
    const p = (await this.#load()).pending;
    return p ? { generation: p.generation, deadline: p.deadline } : null;
  }

  /**
   * `pfctl -nf` on the new bytes, written to STATE/pf/candidate.conf (0600: a pf.conf may name the admin
   * networks; nothing secret, but it is the node's map). Null when pfctl accepts it, else pfctl's complaint.
   */
  async check(bytes: Buffer): Promise<string | null> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    const candidate = path.join(this.#dir, "candidate.conf");
    await writeFileAtomic(candidate, bytes, { mode: 0o600 });
    try {
      const r = await this.#runner.run(this.pfctl, ["-nf", candidate]);
      if (r.code === 0) return null;
      const said = `${r.stderr}${r.stdout}`.split(candidate).join(PF_CONF).trim();
      return `pfctl -nf refused it (exit ${r.code}): ${said || "no message"}`.slice(0, 1900);
    } catch (e) {
      return `pfctl -nf could not run: ${errText(e)}`;
    } finally {
      await rm(candidate, { force: true });
    }
  }

  /**
   * pf.conf is about to be replaced: remember it as the rules to go back to, unless an unconfirmed change
   * is already loaded (then the file of before that change stays the one to go back to).
   */
  beforeWrite(): Promise<void> {
    return this.#serial.run(async () => {
      const st = await this.#load();
      if (st.pending) return;
      st.good = await this.#snapshot();
      await this.#save(st);
    });
  }

  /**
   * Loads the pf.conf now on disk with `pfctl -f`. A new ruleset then waits for a confirmation of
   * `generation` for `seconds`; content confirmed before (or the one to go back to) is kept at once.
   * When pfctl refuses the load, the file of before is put back and loaded (pfctl replaces a ruleset
   * atomically, so the old rules are still running).
   */
  load(generation: number, seconds: number = DEFAULT_CONFIRM_SECONDS): Promise<PfLoadResult> {
    return this.#serial.run(async () => {
      const st = await this.#load();
      const { target } = await resolveUnderRoot(this.options.root, PF_CONF, false);
      let bytes: Buffer;
      try {
        bytes = await readFile(target);
      } catch (e) {
        return { ok: false, detail: `cannot read ${PF_CONF}: ${errText(e)}` };
      }
      const sha = sha256(bytes);
      const r = await this.#pfctl(["-f", target]);
      if (!r.ok) {
        const back = st.good ? await this.#restore(st.good) : "nothing to go back to";
        this.options.log.error({ generation, pfctl: r.detail, back }, "pfctl -f refused pf.conf");
        return { ok: false, detail: `pfctl -f: ${r.detail}; ${back}` };
      }
      if (!this.options.confirmable) {
        st.good = await this.#snapshot();
        st.confirmedSha = sha;
        st.pending = null;
        this.#disarm();
        await this.#save(st);
        this.#event(
          "pf-loaded",
          "info",
          `loaded ${PF_CONF} of generation ${generation} and kept it: no coordinator is configured, so nobody can confirm it (offline enforcement)`,
        );
        return { ok: true, window: null, detail: "loaded; kept without confirmation (no coordinator)" };
      }
      if (sha === st.confirmedSha || sha === st.good?.sha) {
        // Known to work: the rules of before, or a confirmed ruleset put back (healer, rollback).
        if (st.pending)
          this.options.log.info({ generation }, "pf.conf is back to known rules: no confirmation needed");
        st.pending = null;
        st.good = await this.#snapshot();
        this.#disarm();
        await this.#save(st);
        return { ok: true, window: null, detail: "loaded known rules" };
      }
      st.pending = { generation, deadline: this.#clock.now() + seconds * 1000, seconds, sha };
      await this.#save(st);
      this.#arm(seconds * 1000);
      this.#event(
        "pf-loaded",
        "info",
        `loaded ${PF_CONF} of generation ${generation}; it is reverted in ${seconds} s unless the coordinator confirms it`,
      );
      return { ok: true, window: seconds, detail: `loaded; confirm within ${seconds} s` };
    });
  }

  /**
   * The coordinator confirms `generation` (it received that generation's apply result over a live link).
   * True when it confirmed the pending load; a confirm for another generation or after the deadline is
   * ignored (a late confirm proves nothing about the rules now: the revert may be under way).
   */
  confirm(generation: number): Promise<boolean> {
    return this.#serial.run(async () => {
      const st = await this.#load();
      const p = st.pending;
      if (!p || p.generation !== generation || this.#clock.now() > p.deadline) {
        this.options.log.debug(
          { generation, pending: p?.generation ?? null },
          "confirm without a matching window",
        );
        return false;
      }
      st.pending = null;
      st.confirmedSha = p.sha;
      st.good = await this.#snapshot();
      this.#disarm();
      await this.#save(st);
      this.#event(
        "pf-confirmed",
        "healthy",
        `the coordinator confirmed ${PF_CONF} of generation ${generation} within its ${p.seconds} s window: the new rules stay`,
      );
      return true;
    });
  }

  /**
   * Puts the rules of before back and loads them when the window has run out (null otherwise: confirmed
   * meanwhile, or nothing pending). The caller keeps them in its desired state (ApplyEngine.revertPf).
   * `why`: what the caller knows of why no confirmation came (the daemon: how its coordinator link looks,
   * "down since ..."), said in the event.
   */
  revertIfExpired(why?: string): Promise<PfRevert | null> {
    return this.#serial.run(async () => {
      const st = await this.#load();
      const p = st.pending;
      if (!p || this.#clock.now() < p.deadline) return null;
      const good = st.good ?? { existed: false, sha: null };
      const back = await this.#restore(good);
      st.pending = null;
      await this.#save(st);
      this.#disarm();
      const ok = !back.startsWith("could not");
      this.#event(
        "pf-reverted",
        ok ? "degraded" : "failed",
        `no confirmation from the coordinator within ${p.seconds} s of loading ${PF_CONF} of generation ${p.generation}${why ? ` (${why})` : ""}: the new rules may cut this node off, so ${back}`,
      );
      this.options.log.warn({ generation: p.generation, back }, "pf.conf reverted: no confirmation in time");
      return {
        path: PF_CONF,
        content: good.existed ? Buffer.from(good.content ?? "", "base64") : null,
        mode: good.existed ? (good.mode ?? 0o600) : null,
        ok,
      };
    });
  }

  #arm(ms: number): void {
    this.#disarm();
    if (this.#stopped) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      if (this.listenerCount("expired") > 0) this.emit("expired");
      else
        void this.revertIfExpired().catch((e: unknown) =>
          this.options.log.error({ err: errText(e) }, "pf revert failed"),
        );
    }, ms);
  }

  #disarm(): void {
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #event(kind: string, label: HealthLabel, message: string): void {
    this.emit("event", {
      at: new Date(this.#clock.now()).toISOString(),
      kind,
      label,
      message,
      target: PF_CONF,
    });
  }

  /** Writes a snapshot back to pf.conf and loads it; says what it did (for the event). */
  async #restore(s: Snapshot): Promise<string> {
    const { target } = await resolveUnderRoot(this.options.root, PF_CONF, true);
    try {
      if (!s.existed) {
        // There was no pf.conf before the agent's (never on a real node: base ships one). pf without a
        // ruleset filters nothing, which is the state before, and certain not to lock anyone out.
        await unlink(target).catch((e: unknown) => {
          if (!isNotFound(e)) throw e;
        });
        const r = await this.#pfctl(["-F", "rules"]);
        return r.ok
          ? `removed ${PF_CONF} (there was none before) and flushed the rules`
          : `could not flush the rules: ${r.detail}`;
      }
      await writeFileAtomic(target, Buffer.from(s.content ?? "", "base64"), {
        mode: s.mode ?? 0o600,
        ...(s.uid !== undefined && s.gid !== undefined ? { uid: s.uid, gid: s.gid } : {}),
      });
      const r = await this.#pfctl(["-f", target]);
      return r.ok
        ? `restored and loaded the previous ${PF_CONF}`
        : `could not load the previous ${PF_CONF} again: ${r.detail}`;
    } catch (e) {
      return `could not restore the previous ${PF_CONF}: ${errText(e)}`;
    }
  }

  async #pfctl(args: string[]): Promise<{ ok: true } | { ok: false; detail: string }> {
    try {
      const r = await this.#runner.run(this.pfctl, args);
      if (r.code === 0) return { ok: true };
      return { ok: false, detail: `exit ${r.code}: ${`${r.stderr}${r.stdout}`.trim()}`.slice(0, 1500) };
    } catch (e) {
      return { ok: false, detail: errText(e) };
    }
  }

  async #snapshot(): Promise<Snapshot> {
    const { target } = await resolveUnderRoot(this.options.root, PF_CONF, false);
    let fd: Awaited<ReturnType<typeof open>>;
    try {
      fd = await open(target, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      if (isNotFound(e)) return { existed: false, sha: null };
      throw e;
    }
    try {
      const st = await fd.stat();
      const content = await fd.readFile();
      return {
        existed: true,
        content: content.toString("base64"),
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        sha: sha256(content),
      };
    } finally {
      await fd.close();
    }
  }

  async #load(): Promise<PfState> {
    if (this.#state) return this.#state;
    let st: PfState = { good: null, confirmedSha: null, pending: null };
    try {
      const raw = JSON.parse(await readFile(path.join(this.#dir, "state.json"), "utf8")) as Partial<PfState>;
      st = { good: raw.good ?? null, confirmedSha: raw.confirmedSha ?? null, pending: raw.pending ?? null };
    } catch (e) {
      // Absent: nothing loaded yet. Unreadable: written atomically, so only a hand edit; start afresh.
      if (!isNotFound(e))
        this.options.log.error({ err: errText(e) }, "STATE/pf/state.json unreadable; ignored");
    }
    this.#state = st;
    return st;
  }

  async #save(st: PfState): Promise<void> {
    this.#state = st;
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeJsonAtomic(path.join(this.#dir, "state.json"), st);
  }
}
