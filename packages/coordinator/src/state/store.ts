// The coordinator's state directory (0700):
//   generations/NNNNNNNN.json  one accepted generation each: the spec, the rendered desired state per node,
//                              who pushed it; never rewritten (history)
//   current.json               the generation in force and the last one that rolled out completely
//   nodes.json                 what each node last reported (status snapshot, last seen)
//   audit.log                  append-only JSON lines: pushes, rollbacks, repairs, enrollments, refusals
//   rollout.json               the push in flight (fleet/journal.ts), from its acceptance until it has ended;
//                              found at start-up, it is an interrupted push to finish or roll back
// Generations are written before current.json points at them, so a kill -9 at any moment loses no accepted
// generation and never leaves current.json pointing at a missing one.
//
// A push is accepted only once all its records are on disk (acceptGeneration): the generation, the rollout
// journal, the pointer, the audit line. When the state directory's file system is full (ENOSPC, EDQUOT) or fails
// otherwise, what was written is taken back, the push is refused with a StateWriteError naming the cause,
// and the generation in force stays what it was, on disk and in memory.
import { readdir, readFile, unlink } from "node:fs/promises";
import path from "node:path";
import { appendLine, fsyncDir, writeFileAtomicIn } from "@vmmeet/node";
import type { NodeDesired, NodeStatus, Spec } from "@vmmeet/shared";
import type { AuditEntry } from "../admin/methods.js";
import { parseJournal, type RolloutJournal } from "../fleet/journal.js";

/** Every file of the state directory: private to the coordinator's user. */
const PRIVATE = { mode: 0o600 };

export interface GenerationRecord {
  generation: number;
  createdAt: string;
  /** The host user who pushed it (SO_PEERCRED of the admin socket, or the process user). */
  by: string;
  specText: string;
  spec: Spec;
  nodes: Record<string, NodeDesired>;
}

export interface CurrentPointer {
  /** The generation the coordinator wants everywhere. */
  desired: number;
  /** The last generation that rolled out and passed every gate (rollback target). */
  good: number;
}

export interface NodeRecord {
  lastSeen: string | null;
  status: NodeStatus | null;
  agentVersion?: string;
}

export type { AuditEntry } from "../admin/methods.js";

/** Why a state write failed, for an admin: "no space left on device (ENOSPC)" rather than a stack. */
export function describeWriteError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case "ENOSPC":
      return "no space left on device (ENOSPC)";
    case "EDQUOT":
      return "disk quota exceeded (EDQUOT)";
    case "EROFS":
      return "read-only file system (EROFS)";
    case "EIO":
      return "I/O error (EIO)";
    default:
      return e?.message ?? String(err);
  }
}

/** A generation could not be stored: the push is refused, the generation in force is unchanged. */
export class StateWriteError extends Error {
  constructor(
    readonly generation: number,
    readonly dir: string,
    readonly code: string | undefined,
    cause: string,
    inForce: number,
  ) {
    super(
      `cannot store generation ${generation} in ${dir}: ${cause}; the push is refused and ${inForce > 0 ? `generation ${inForce} stays in force` : "nothing was in force"} (free space there and push again)`,
    );
  }
}

export class StateStore {
  constructor(readonly dir: string) {}

  private genFile(n: number): string {
    return path.join(this.dir, "generations", `${String(n).padStart(8, "0")}.json`);
  }

  async current(): Promise<CurrentPointer> {
    const text = await readFile(path.join(this.dir, "current.json"), "utf8").catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code === "ENOENT") return null;
        throw err;
      },
    );
    if (text === null) return { desired: 0, good: 0 };
    try {
      const parsed = JSON.parse(text) as CurrentPointer;
      if (typeof parsed.desired !== "number" || typeof parsed.good !== "number")
        throw new Error("missing fields");
      return parsed;
    } catch (err) {
      throw new Error(
        `${path.join(this.dir, "current.json")} is damaged (${(err as Error).message}); the generations are in ${path.join(this.dir, "generations")}`,
      );
    }
  }

  async setCurrent(p: CurrentPointer): Promise<void> {
    await writeFileAtomicIn(path.join(this.dir, "current.json"), `${JSON.stringify(p)}\n`, PRIVATE);
  }

  async generations(): Promise<number[]> {
    const names = await readdir(path.join(this.dir, "generations")).catch(() => [] as string[]);
    return names
      .filter((n) => /^\d{8}\.json$/.test(n))
      .map((n) => Number(n.slice(0, 8)))
      .sort((a, b) => a - b);
  }

  async nextGeneration(): Promise<number> {
    const all = await this.generations();
    return (all.at(-1) ?? 0) + 1;
  }

  async saveGeneration(rec: GenerationRecord): Promise<void> {
    await writeFileAtomicIn(this.genFile(rec.generation), JSON.stringify(rec), PRIVATE);
  }

  /**
   * Stores a pushed generation and makes it the desired one, with its audit line: all of it or (throwing
   * StateWriteError) none of it. `pointer` is current.json as it was before.
   */
  async acceptGeneration(
    rec: GenerationRecord,
    pointer: CurrentPointer,
    entry: Omit<AuditEntry, "at" | "generation">,
    journal?: RolloutJournal,
  ): Promise<void> {
    let step: "generation" | "journal" | "pointer" | "audit" = "generation";
    try {
      await this.saveGeneration(rec);
      // Before the pointer: a journal whose generation current.json does not name is a push never accepted.
      step = "journal";
      if (journal) await this.writeJournal(journal);
      step = "pointer";
      await this.setCurrent({ desired: rec.generation, good: pointer.good });
      step = "audit";
      await this.audit({ ...entry, generation: rec.generation });
    } catch (err) {
      // The generation first: removing it frees the space the pointer's rewrite needs. A torn audit line is
      // skipped by readAudit.
      if (step !== "generation") await unlink(this.genFile(rec.generation)).catch(() => undefined);
      if (step === "audit") await this.setCurrent(pointer).catch(() => undefined);
      if (journal && step !== "generation") await this.clearJournal().catch(() => undefined);
      throw new StateWriteError(
        rec.generation,
        this.dir,
        (err as NodeJS.ErrnoException).code,
        describeWriteError(err),
        pointer.desired,
      );
    }
  }

  async loadGeneration(n: number): Promise<GenerationRecord | null> {
    if (n <= 0) return null;
    try {
      return JSON.parse(await readFile(this.genFile(n), "utf8")) as GenerationRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw new Error(`${this.genFile(n)}: ${(err as Error).message}`);
    }
  }

  /** The journal of an interrupted push (rollout.json), or null when no push was in flight. */
  async readJournal(): Promise<RolloutJournal | null> {
    const file = path.join(this.dir, "rollout.json");
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    try {
      return parseJournal(JSON.parse(text));
    } catch (err) {
      throw new Error(
        `${file} is damaged (${(err as Error).message}); it holds the push that was running when the coordinator stopped: read it, then remove it to start`,
      );
    }
  }

  async writeJournal(j: RolloutJournal): Promise<void> {
    await writeFileAtomicIn(path.join(this.dir, "rollout.json"), JSON.stringify(j), PRIVATE);
  }

  /** The push has ended: its journal goes (and the removal is durable, as the writes are). */
  async clearJournal(): Promise<void> {
    try {
      await unlink(path.join(this.dir, "rollout.json"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
      throw err;
    }
    await fsyncDir(this.dir);
  }

  async loadNodes(): Promise<Record<string, NodeRecord>> {
    try {
      return JSON.parse(await readFile(path.join(this.dir, "nodes.json"), "utf8")) as Record<
        string,
        NodeRecord
      >;
    } catch {
      return {};
    }
  }

  async saveNodes(nodes: Record<string, NodeRecord>): Promise<void> {
    await writeFileAtomicIn(path.join(this.dir, "nodes.json"), JSON.stringify(nodes), PRIVATE);
  }

  async audit(entry: Omit<AuditEntry, "at"> & { at?: string }): Promise<void> {
    await appendLine(
      path.join(this.dir, "audit.log"),
      JSON.stringify({ at: entry.at ?? new Date().toISOString(), ...entry }),
    );
  }

  async readAudit(limit = 200): Promise<AuditEntry[]> {
    const text = await readFile(path.join(this.dir, "audit.log"), "utf8").catch(() => "");
    const lines = text.split("\n").filter(Boolean);
    const out: AuditEntry[] = [];
    for (const line of lines.slice(-limit)) {
      try {
        out.push(JSON.parse(line) as AuditEntry);
      } catch {
        // A torn last line after a crash mid-append: skip it, the entries before it are intact.
      }
    }
    return out;
  }
}
