// The program a test gives the agent in place of an OpenBSD tool: a shell script at the tool's path in a
// fake root that names the root to the double and execs the double's .mjs with node.
import { realpathSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

const shQuote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * Writes ROOT/AT (e.g. "sbin/pfctl") running `script` with NAME_DOUBLE_ROOT=ROOT (realpath), NAME being the
 * program's name (pfctl -> PFCTL_DOUBLE_ROOT); returns its path.
 */
export async function writeDoubleWrapper(root: string, at: string, script: string): Promise<string> {
  const file = join(root, at);
  const name = basename(at);
  const envVar = `${name.toUpperCase()}_DOUBLE_ROOT`;
  await mkdir(dirname(file), { recursive: true });
  await writeFile(
    file,
    [
      "#!/bin/sh",
      `# ${name} TEST DOUBLE wrapper (test/doubles/${name}), not OpenBSD's ${name}(8)`,
      `${envVar}=${shQuote(realpathSync(root))}`,
      `export ${envVar}`,
      `exec ${shQuote(process.execPath)} ${shQuote(script)} "$@"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  await chmod(file, 0o755);
  return file;
}
