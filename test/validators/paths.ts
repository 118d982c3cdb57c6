// Where the repository and its test fixtures are. Nothing a test reads lies outside the repository: what
// the tests take from the paper is in test/fixtures/paper (see its README.md for the source).
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute path of the repository root (this file is test/validators/paths.ts). */
export function repoRoot(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
}

/** The AsiaBSDCon "Jitsi on OpenBSD" paper's real config files (test/fixtures/paper). */
export function paperSampleDir(): string {
  return path.join(repoRoot(), "test", "fixtures", "paper");
}
