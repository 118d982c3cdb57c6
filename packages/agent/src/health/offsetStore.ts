import { readFile } from "node:fs/promises";
import { writeFileAtomicIn } from "@vmmeet/node";

/** Where a tailer stands in one file: enough to resume without reading a line twice or missing one. */
export interface TailState {
  /** Inode of the file the offset belongs to. */
  ino: number;
  /** Byte offset just past the last complete line delivered (or skipped). */
  offset: number;
  /** How many leading bytes fpHash covers (up to the tailer's fingerprintBytes). */
  fpLen: number;
  /** sha256 (hex) of the first fpLen bytes: tells a file replaced under the same inode apart. */
  fpHash: string;
  /** The offset is inside an over-long line whose head was already delivered. */
  skipping: boolean;
}

/**
 * jicofo's brewery as the log lines read so far established it: bridge MUC JID -> when jicofo was seen
 * adding it (ms), and when the set last changed. It is kept beside the offsets, in the same file and the
 * same atomic writes: a tailer that resumes at its offset does not read the "Added brewery instance" lines
 * before it again, so the set those lines built must come back with it.
 */
export interface BreweryState {
  bridges: Record<string, number>;
  at?: number;
}

function isBreweryState(v: unknown): v is BreweryState {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  const bridges = s["bridges"];
  return (
    typeof bridges === "object" &&
    bridges !== null &&
    Object.values(bridges).every((t) => Number.isSafeInteger(t)) &&
    (s["at"] === undefined || Number.isSafeInteger(s["at"]))
  );
}

export interface OffsetStore {
  load(file: string): Promise<TailState | undefined>;
  save(file: string, state: TailState): Promise<void>;
}

function isTailState(v: unknown): v is TailState {
  if (typeof v !== "object" || v === null) return false;
  const s = v as Record<string, unknown>;
  return (
    Number.isSafeInteger(s["ino"]) &&
    Number.isSafeInteger(s["offset"]) &&
    (s["offset"] as number) >= 0 &&
    Number.isSafeInteger(s["fpLen"]) &&
    (s["fpLen"] as number) >= 0 &&
    typeof s["fpHash"] === "string" &&
    /^[0-9a-f]{64}$/.test(s["fpHash"] as string) &&
    typeof s["skipping"] === "boolean"
  );
}

export class MemoryOffsetStore implements OffsetStore {
  private readonly states = new Map<string, TailState>();

  async load(file: string): Promise<TailState | undefined> {
    const s = this.states.get(file);
    return s === undefined ? undefined : { ...s };
  }

  async save(file: string, state: TailState): Promise<void> {
    this.states.set(file, { ...state });
  }
}

/**
 * Offsets of every tailed file in one small JSON file, written atomically (@vmmeet/node's
 * writeFileAtomic) so a crash leaves either the old or the new state. Share one
 * instance between the tailers of a process: writes are serialized here.
 */
export class JsonFileOffsetStore implements OffsetStore {
  private states: Map<string, TailState> | undefined;
  private brewery: BreweryState | undefined;
  private loading: Promise<Map<string, TailState>> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly stateFile: string) {}

  async load(file: string): Promise<TailState | undefined> {
    const s = (await this.all()).get(file);
    return s === undefined ? undefined : { ...s };
  }

  async save(file: string, state: TailState): Promise<void> {
    const states = await this.all();
    states.set(file, { ...state });
    return this.write(states);
  }

  /** The brewery saved last (undefined: none saved, or not in a form this version reads). */
  async loadBrewery(): Promise<BreweryState | undefined> {
    await this.all();
    return this.brewery === undefined ? undefined : { ...this.brewery, bridges: { ...this.brewery.bridges } };
  }

  /** Keeps `state` with the offsets: written now, and with every later offset. */
  async saveBrewery(state: BreweryState): Promise<void> {
    const states = await this.all();
    this.brewery = { ...state, bridges: { ...state.bridges } };
    return this.write(states);
  }

  /** Resolves once every write asked for so far has ended (the agent's stop waits for it). */
  settled(): Promise<void> {
    return this.writing;
  }

  private write(states: Map<string, TailState>): Promise<void> {
    const doc = `${JSON.stringify(
      {
        version: 1,
        files: Object.fromEntries(states),
        ...(this.brewery === undefined ? {} : { brewery: this.brewery }),
      },
      null,
      2,
    )}\n`;
    const next = this.writing.then(() => this.writeAtomically(doc));
    // A failed write must not wedge later ones; the caller still sees its own failure.
    this.writing = next.catch(() => undefined);
    return next;
  }

  private all(): Promise<Map<string, TailState>> {
    if (this.states !== undefined) return Promise.resolve(this.states);
    this.loading ??= this.read().then((m) => {
      this.states = m;
      return m;
    });
    return this.loading;
  }

  private async read(): Promise<Map<string, TailState>> {
    let text: string;
    try {
      text = await readFile(this.stateFile, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw err;
    }
    const m = new Map<string, TailState>();
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      // A damaged state file (it is written atomically, so only by hand) means "no state".
      return m;
    }
    const files = (doc as { files?: unknown } | null)?.files;
    if (typeof files === "object" && files !== null) {
      for (const [k, v] of Object.entries(files)) if (isTailState(v)) m.set(k, v);
    }
    const brewery = (doc as { brewery?: unknown } | null)?.brewery;
    if (this.brewery === undefined && isBreweryState(brewery)) this.brewery = brewery;
    return m;
  }

  private async writeAtomically(doc: string): Promise<void> {
    await writeFileAtomicIn(this.stateFile, doc, { mode: 0o600 });
  }
}
