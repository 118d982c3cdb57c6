// coturn's turnserver.conf: `name=value` or `name` lines (a leading `--` allowed, as on the command line),
// `#` comments; a name can repeat (denied-peer-ip, listening-ip).
import { GrammarError, type ReadOptions } from "./text.js";

/** Every option's values in file order; a flag without a value has [""]. */
export function parseTurnserverConf(text: string, opts: ReadOptions = {}): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  text.split("\n").forEach((raw, n) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const m = /^(?:--)?([A-Za-z0-9-]+)\s*(?:=\s*(.*))?$/.exec(line);
    if (!m)
      throw new GrammarError(`not an option line: ${JSON.stringify(line.split("=")[0])}`, n + 1, opts.file);
    const values = out[m[1]!] ?? [];
    values.push(m[2]?.trim() ?? "");
    out[m[1]!] = values;
  });
  return out;
}
