// Drift of managed files: how a file on disk differs from its desired entry, and a watcher that says
// "look now" when one may have changed, so a hand edit is restored in well under the periodic interval.
//
// The watcher watches both each file and its directory, because fs.watch means different things per
// platform (Node's fs.watch "Caveats"): on OpenBSD it is kqueue, where a directory watch reports only
// entries added, removed or renamed (not a write into an existing file) and a file watch follows the vnode,
// so it goes silent once an editor or our own atomic write replaces the file by rename; on Linux it is
// inotify, which reports both on the directory. File watches are re-armed after every event and every pass.
// It never decides anything: every event only schedules a compare, and the periodic full compare catches
// whatever a watch misses (a directory that did not exist yet, a watch limit).
import { type FSWatcher, watch } from "node:fs";
import path from "node:path";
import { entryBytes, sha256 } from "@vmmeet/node";
import type { NodeDesired } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { AccountResolver } from "../reconcile/accounts.js";
import { fileStates } from "../status.js";

export interface Drift {
  path: string;
  /** What differs, for the event (never the content). */
  why: string;
}

/** Every managed file whose content, mode, owner or group differs from the desired entry. */
export async function driftOf(
  desired: NodeDesired | null,
  root: string,
  accounts: AccountResolver,
): Promise<Drift[]> {
  if (!desired || desired.files.length === 0) return [];
  const states = await fileStates(desired, root, accounts);
  const out: Drift[] = [];
  desired.files.forEach((f, i) => {
    const s = states[i];
    if (!s || s.sha256 === null) out.push({ path: f.path, why: "missing" });
    else if (s.sha256 !== sha256(entryBytes(f))) out.push({ path: f.path, why: "content changed" });
    else if (s.mode !== f.mode) out.push({ path: f.path, why: `mode ${s.mode}, desired ${f.mode}` });
    else if (s.owner !== f.owner || s.group !== f.group)
      out.push({ path: f.path, why: `owner ${s.owner}:${s.group}, desired ${f.owner}:${f.group}` });
  });
  return out;
}

export interface DriftWatcherOptions {
  root: string;
  /** Called with the managed path an event concerns (or null when the platform did not say). */
  onEvent: (managedPath: string | null) => void;
  log: Logger;
  /** fs.watch, injectable for tests of the re-arming. */
  watchImpl?: typeof watch;
}

export class DriftWatcher {
  readonly #dirs = new Map<string, FSWatcher>();
  readonly #files = new Map<string, FSWatcher>();
  /** directory on disk -> basename -> managed path */
  #byDir = new Map<string, Map<string, string>>();
  #closed = false;

  constructor(private readonly options: DriftWatcherOptions) {}

  /** Watches exactly these managed paths from now on (a new desired state may add or drop files). */
  watch(managed: readonly string[]): void {
    if (this.#closed) return;
    const byDir = new Map<string, Map<string, string>>();
    for (const m of managed) {
      const onDisk = path.join(this.options.root, m);
      const dir = path.dirname(onDisk);
      let names = byDir.get(dir);
      if (!names) {
        names = new Map();
        byDir.set(dir, names);
      }
      names.set(path.basename(onDisk), m);
    }
    this.#byDir = byDir;
    for (const [dir, w] of this.#dirs) {
      if (!byDir.has(dir)) {
        w.close();
        this.#dirs.delete(dir);
      }
    }
    const wanted = new Set(
      [...byDir].flatMap(([dir, names]) => [...names.keys()].map((n) => path.join(dir, n))),
    );
    for (const [file, w] of this.#files) {
      if (!wanted.has(file)) {
        w.close();
        this.#files.delete(file);
      }
    }
    this.rearm();
  }

  /** (Re)creates missing watches: a directory created since, a file replaced by rename. */
  rearm(): void {
    if (this.#closed) return;
    for (const [dir, names] of this.#byDir) {
      if (!this.#dirs.has(dir)) {
        const w = this.#open(dir, (name) => {
          if (name === null) return this.options.onEvent(null);
          const managed = names.get(name);
          if (managed !== undefined) {
            this.#rearmFile(path.join(dir, name));
            this.options.onEvent(managed);
          }
        });
        if (w) this.#dirs.set(dir, w);
      }
      for (const [name, managed] of names) {
        const file = path.join(dir, name);
        if (!this.#files.has(file)) this.#watchFile(file, managed);
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const w of [...this.#dirs.values(), ...this.#files.values()]) w.close();
    this.#dirs.clear();
    this.#files.clear();
  }

  /** Number of live watches (tests). */
  get watching(): { dirs: number; files: number } {
    return { dirs: this.#dirs.size, files: this.#files.size };
  }

  #watchFile(file: string, managed: string): void {
    const w = this.#open(file, () => {
      this.#rearmFile(file);
      this.options.onEvent(managed);
    });
    if (w) this.#files.set(file, w);
  }

  #rearmFile(file: string): void {
    const old = this.#files.get(file);
    if (old) {
      old.close();
      this.#files.delete(file);
    }
    const managed = this.#byDir.get(path.dirname(file))?.get(path.basename(file));
    if (managed !== undefined && !this.#closed) this.#watchFile(file, managed);
  }

  #open(target: string, onChange: (name: string | null) => void): FSWatcher | null {
    try {
      // persistent: false: watches alone never keep the agent alive (the healer's timer does).
      const w = (this.options.watchImpl ?? watch)(target, { persistent: false }, (_event, name) =>
        onChange(name === null || name === undefined ? null : String(name)),
      );
      w.on("error", () => {
        // The target went away (deleted file or directory): drop the watch; the next pass re-arms it.
        w.close();
        if (this.#dirs.get(target) === w) this.#dirs.delete(target);
        if (this.#files.get(target) === w) this.#files.delete(target);
        this.options.onEvent(null);
      });
      return w;
    } catch (err) {
      // ENOENT (not created yet) or a watch limit: the periodic compare covers it.
      this.options.log.debug({ path: target, err: (err as NodeJS.ErrnoException).code }, "cannot watch");
      return null;
    }
  }
}
