import { type ParseArgsConfig, parseArgs } from "node:util";

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

import { UsageError } from "./io.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/** node:util parseArgs with errors turned into UsageError (exit 64) and --help everywhere. */
export function parse(argv: string[], options: Options, maxPositionals = 1): Parsed {
  try {
    const res = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals: true,
      strict: true,
    });
    if (res.positionals.length > maxPositionals)
      throw new UsageError(`unexpected argument "${res.positionals[maxPositionals]}"`);
    return res;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/, ""));
  }
}

/** The kinds of option, for short option tables: `parse(argv, { state: STRING, json: BOOLEAN })`. */
export const STRING = { type: "string" } as const;
export const BOOLEAN = { type: "boolean" } as const;

/** A string option's value (parseArgs types every value as a union). */
export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
