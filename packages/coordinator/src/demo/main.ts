// `npm run demo`: the main job on an embedded default. For now it writes the paper's spec into a temporary
// directory, generates its secrets and CA, and renders every node's files, then prints where they are.
import { mkdtemp } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "../cli/run.js";

const io = {
  out: (t: string) => process.stdout.write(t),
  err: (t: string) => process.stderr.write(t),
  cwd: process.cwd(),
  env: process.env,
};

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-demo-"));
  const run = async (...args: string[]) => {
    io.out(`\n$ vmmeet ${args.join(" ")}\n`);
    return runCli(args, { ...io, cwd: dir });
  };
  for (const args of [["init"], ["validate"], ["render", "--out", "rendered"]]) {
    const code = await run(...args);
    if (code !== 0) return code;
  }
  io.out(
    `\nThe paper's deployment is in ${dir}:\n  vmmeet.yaml      the spec\n  .vmmeet/         secrets and CA (0700)\n  rendered/NODE/   every node's files, e.g. rendered/xmpp/etc/prosody/prosody.cfg.lua\n`,
  );
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`demo: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
