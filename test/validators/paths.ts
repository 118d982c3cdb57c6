// Where the repository and the project's shared/ folder (reference notes, the paper's samples, the log
// corpus) are. shared/ sits beside the repository checkout, both here and in CI's fresh clone.
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (this file is test/validators/paths.ts). */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
}

/** Absolute path of shared/: `../shared` relative to the repository root. */
export function sharedDir(): string {
  return path.resolve(repoRoot(), "../shared");
}

/** The AsiaBSDCon "Jitsi on OpenBSD" paper's real config files (shared/samples/asiabsdcon-jts.fips.de). */
export function paperSampleDir(): string {
  return path.join(sharedDir(), "samples", "asiabsdcon-jts.fips.de");
}
