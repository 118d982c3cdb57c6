// What a CLI command may touch besides its arguments: output streams and the working directory. Commands
// return an exit code instead of calling process.exit, so tests run them in-process.
export interface Io {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  usage: string;
  run(argv: string[], io: Io): Promise<number>;
}

/** Exit codes of every vmmeet command (documented in --help and README). */
export const EXIT = {
  ok: 0,
  /** Invalid spec, failed operation, unreachable coordinator. */
  error: 1,
  /** `vmmeet plan`: something would change (terraform's -detailed-exitcode convention). */
  changes: 2,
  /** Bad command line. */
  usage: 64,
} as const;

export class UsageError extends Error {}
