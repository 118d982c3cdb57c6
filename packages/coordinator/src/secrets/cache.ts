// The coordinator daemon loads the deployment's material for every push and plan. Loading re-reads and
// re-verifies every state file (the truststore's MAC check alone is a PBKDF run in JavaScript), about 25 ms
// of each push on this machine; the files change only when vmmeet itself creates, renews or rotates them.
import { stat } from "node:fs/promises";
import path from "node:path";
import type { Spec } from "@vmmeet/shared";
import { loadOrCreateMaterial, type Material, type MaterialOptions, STATE_FILES } from "./store.js";

export interface MaterialCacheOptions extends MaterialOptions {
  /**
   * A kept result is loaded again after this long even with its files unchanged, so a renewal that falls
   * due (auth certificate) and the CA expiry warning still happen. Default 60 s.
   */
  maxAgeMs?: number;
}

/** loadOrCreateMaterial, kept while the state files (by inode, size, mtime, ctime) and the domain are the same. */
export class MaterialCache {
  #kept: { key: string; at: number; material: Material } | null = null;

  constructor(
    private readonly stateDir: string,
    private readonly opts: MaterialCacheOptions = {},
  ) {}

  async get(spec: Pick<Spec, "domain">): Promise<Material> {
    const now = (this.opts.now ?? (() => new Date()))().getTime();
    const kept = this.#kept;
    if (kept && now - kept.at < (this.opts.maxAgeMs ?? 60_000)) {
      const key = await this.#key(spec.domain);
      // created/warnings describe one load: a kept result created nothing and has already warned.
      if (key !== null && key === kept.key) return { ...kept.material, created: [], warnings: [] };
    }
    const material = await loadOrCreateMaterial(this.stateDir, spec, this.opts);
    // Taken after the load: what it created or renewed is part of what is kept.
    const key = await this.#key(spec.domain);
    this.#kept = key === null ? null : { key, at: now, material };
    return material;
  }

  async #key(domain: string): Promise<string | null> {
    try {
      const parts = await Promise.all(
        Object.values(STATE_FILES).map(async (f) => {
          const s = await stat(path.join(this.stateDir, f), { bigint: true });
          return `${f}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
        }),
      );
      return JSON.stringify([domain, ...parts]);
    } catch {
      return null; // a file is missing: loading creates it, nothing is kept until it exists
    }
  }
}
