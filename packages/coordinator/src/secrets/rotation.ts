// Secret rotation with a way back. New values are written to secrets.json only after the values in force
// (secrets.json and the truststore built with the truststore password) were copied aside in the state
// directory; the push of the new values either succeeds (commit: the copies go) or fails (revert: the copies
// come back, byte for byte, so the next render matches the generation the rollback restored).
// (docker-jitsi-meet#239: changing the passwords by hand broke jicofo and jvb until the volumes were wiped.)
import { rm } from "node:fs/promises";
import path from "node:path";
import {
  ensureStateDir,
  readStateFile,
  StateDirError,
  withStateLock,
  writePrivateJson,
  writePrivateStateFile,
} from "./files.js";
import {
  generatePassword,
  type MaterialOptions,
  SECRET_NAMES,
  type SecretName,
  STATE_FILES,
} from "./store.js";

/** The files a rotation changes, and where their previous content is kept until the push ends. */
const KEPT = [STATE_FILES.secrets, STATE_FILES.truststore] as const;
export const PREVIOUS_SUFFIX = ".previous";

/** The command line's names for the secrets. */
export const ROTATE_NAMES: Readonly<Record<string, SecretName>> = {
  focus: "focusPassword",
  jvb: "jvbPassword",
  truststore: "truststorePassword",
  turn: "turnSecret",
};

/** Whether an earlier rotation kept previous values that were neither committed nor reverted. */
export async function rotationPending(stateDir: string): Promise<boolean> {
  for (const f of KEPT) if ((await readStateFile(stateDir, f + PREVIOUS_SUFFIX)) !== undefined) return true;
  return false;
}

/**
 * Keeps the values in force, then gives each named secret a new random value. Refuses while an earlier
 * rotation is pending (its previous values would be lost).
 */
export async function beginRotation(
  stateDir: string,
  names: readonly SecretName[],
  opts: MaterialOptions = {},
): Promise<void> {
  for (const n of names) if (!SECRET_NAMES.includes(n)) throw new Error(`unknown secret "${String(n)}"`);
  await ensureStateDir(stateDir);
  await withStateLock(
    stateDir,
    async () => {
      if (await rotationPending(stateDir))
        throw new StateDirError(
          `${stateDir} holds the values of an unfinished rotation (${KEPT.map((f) => f + PREVIOUS_SUFFIX).join(", ")}): ` +
            "the coordinator stopped during that push. If it succeeded (vmmeet events), remove those files; " +
            "if not, move them back over the current ones; then rotate again.",
        );
      const raw = await readStateFile(stateDir, STATE_FILES.secrets, "secrets file");
      if (raw === undefined)
        throw new StateDirError(`${stateDir} has no ${STATE_FILES.secrets} yet (vmmeet init)`);
      for (const f of KEPT) {
        const content = await readStateFile(stateDir, f, "state file");
        if (content !== undefined) await writePrivateStateFile(stateDir, f + PREVIOUS_SUFFIX, content);
      }
      const next = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
      for (const n of names) next[n] = generatePassword();
      await writePrivateJson(stateDir, STATE_FILES.secrets, next);
      // Names only: the values never reach a log.
      opts.logger?.info({ stateDir, secrets: names }, "rotating secrets");
    },
    opts,
  );
}

/** The push of the new values succeeded: the previous values go. */
export async function commitRotation(stateDir: string, opts: MaterialOptions = {}): Promise<void> {
  await withStateLock(
    stateDir,
    async () => {
      for (const f of KEPT) await rm(path.join(stateDir, f + PREVIOUS_SUFFIX), { force: true });
    },
    opts,
  );
}

/** The push failed: the previous values come back (and their copies go). */
export async function revertRotation(stateDir: string, opts: MaterialOptions = {}): Promise<void> {
  await withStateLock(
    stateDir,
    async () => {
      for (const f of KEPT) {
        const kept = await readStateFile(stateDir, f + PREVIOUS_SUFFIX, "state file");
        if (kept !== undefined) await writePrivateStateFile(stateDir, f, kept);
        await rm(path.join(stateDir, f + PREVIOUS_SUFFIX), { force: true });
      }
      opts.logger?.info({ stateDir }, "rotation reverted: the previous secrets are in force again");
    },
    opts,
  );
}
