// The agent's state directory (0700, root only): the last desired state it was given and its generation,
// the "restart pending" mark, what the setup actions have done, and file backups for rollback. It is
// what lets the agent keep enforcing a node's configuration while the coordinator is gone, and finish an
// apply that a crash interrupted.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, rm, stat } from "node:fs/promises";
import path from "node:path";
import { fsyncDir, writeFileAtomic, writeJsonAtomic } from "@vmmeet/node";
import { NodeDesired } from "@vmmeet/shared";

export type PendingAction = "restart" | "reload";

/** Written (and fsynced) before an apply touches any file; removed after its services step. */
export interface PendingMark {
  generation: number;
  /** Services to restart or reload once the files are in place (restart wins over reload). */
  services: Record<string, PendingAction>;
}

export interface AppliedState {
  /** Highest generation accepted; older ones are refused as stale. */
  generation: number;
  /** The desired state to enforce (null after rolling back the very first generation). */
  desired: NodeDesired | null;
  /** False while the apply of `generation` has not finished yet (backups are taken only then). */
  complete: boolean;
  /** The state enforced before `generation`, restored by a rollback. */
  previous: { generation: number; desired: NodeDesired } | null;
}

export interface ActionsState {
  /** "user@host" -> salted hash of the last password applied and how many times the account was (re)created. */
  users: Record<string, { hash: string; epoch: number }>;
  /** "proxy jid" -> the epoch of the jid's account when the subscription was made. */
  roster: Record<string, { userEpoch: number }>;
}

export class StateCorruptError extends Error {
  override readonly name = "StateCorruptError";
}

export type GenerationCheck = { ok: true } | { ok: false; reason: "stale"; current: number };

export class StateStore {
  readonly dir: string;
  readonly backupDir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.backupDir = path.join(this.dir, "backup");
  }

  private file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Creates the directory 0700 (and tightens it if someone loosened it: it holds secrets' backups). */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const st = await stat(this.dir);
    if ((st.mode & 0o777) !== 0o700) await chmod(this.dir, 0o700);
    await mkdir(this.backupDir, { recursive: true, mode: 0o700 });
  }

  async load(): Promise<AppliedState | null> {
    const raw = await readJson(this.file("state.json"));
    if (raw === undefined) return null;
    if (typeof raw !== "object" || raw === null) throw new StateCorruptError("state.json is not an object");
    const r = raw as Record<string, unknown>;
    const generation = r["generation"];
    if (typeof generation !== "number" || !Number.isInteger(generation)) {
      throw new StateCorruptError("state.json: generation is not an integer");
    }
    const desired = r["desired"] === null ? null : parseDesired(r["desired"], "desired");
    const prev = r["previous"] as Record<string, unknown> | null | undefined;
    const previous =
      prev && typeof prev["generation"] === "number"
        ? { generation: prev["generation"], desired: parseDesired(prev["desired"], "previous.desired") }
        : null;
    const applied = (await readJson(this.file("applied.json"))) as { generation?: unknown } | undefined;
    return { generation, desired, complete: applied?.generation === generation, previous };
  }

  /**
   * state.json holds the desired states (large: file contents); whether the generation's apply finished is
   * a separate small file, so marking it complete does not rewrite them.
   */
  async save(state: AppliedState): Promise<void> {
    const { complete, ...rest } = state;
    await writeJsonAtomic(this.file("state.json"), rest);
    if (complete) await this.markComplete(state.generation);
  }

  async markComplete(generation: number): Promise<void> {
    await writeJsonAtomic(this.file("applied.json"), { generation });
  }

  /** An apply of `generation` is allowed unless a newer one has been accepted already. */
  async checkGeneration(generation: number): Promise<GenerationCheck> {
    const cur = await this.load();
    if (cur && generation < cur.generation) return { ok: false, reason: "stale", current: cur.generation };
    return { ok: true };
  }

  async readPending(): Promise<PendingMark | null> {
    const raw = (await readJson(this.file("pending.json"))) as PendingMark | undefined;
    if (raw === undefined) return null;
    if (typeof raw.generation !== "number" || typeof raw.services !== "object" || raw.services === null) {
      throw new StateCorruptError("pending.json is malformed");
    }
    return raw;
  }

  async writePending(mark: PendingMark): Promise<void> {
    await writeJsonAtomic(this.file("pending.json"), mark);
  }

  async clearPending(): Promise<void> {
    await rm(this.file("pending.json"), { force: true });
    await fsyncDir(this.dir);
  }

  async readActions(): Promise<ActionsState> {
    const raw = (await readJson(this.file("actions.json"))) as Partial<ActionsState> | undefined;
    return { users: raw?.users ?? {}, roster: raw?.roster ?? {} };
  }

  async writeActions(state: ActionsState): Promise<void> {
    await writeJsonAtomic(this.file("actions.json"), state);
  }

  /** Per-node random salt for the password hashes (so equal passwords on two nodes hash differently). */
  async salt(): Promise<Buffer> {
    const p = this.file("salt");
    try {
      const s = await readFile(p);
      if (s.length >= 16) return s;
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    const s = randomBytes(32);
    await writeFileAtomic(p, s, { mode: 0o600 });
    return s;
  }
}

function parseDesired(v: unknown, where: string): NodeDesired {
  const r = NodeDesired.safeParse(v);
  if (!r.success) throw new StateCorruptError(`state.json: ${where} is not a valid desired state`);
  return r.data;
}

/** A JSON file's value; undefined when it does not exist; StateCorruptError when it is not JSON. */
export async function readJson(p: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(p, "utf8");
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new StateCorruptError(`${path.basename(p)} is not valid JSON`);
  }
}

export function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === "ENOENT";
}
