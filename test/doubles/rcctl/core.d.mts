// Types for the parts of core.mjs that index.ts uses (core.mjs is plain JavaScript so that rcctl.mjs runs
// without a build step).
export declare const DAEMON_MARK: "RCCTL_DOUBLE_DAEMON";
export declare const LOGGER_MARK: "RCCTL_DOUBLE_LOGGER";
export declare const BASE_DAEMONS: ReadonlySet<string>;
export declare function resolveRoot(root: string | undefined): string;
export declare function inRoot(root: string, p: string): string;
export declare function ensureRoot(root: string): void;
export declare function findMarkedProcs(
  root: string,
  marks?: readonly string[],
): { pid: number; cmdline: string; mark: string }[];
export declare function pgrep(root: string, pexp: string): number[];
