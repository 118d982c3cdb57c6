// A fake VM root for one real agent process: a temp directory with ROOT (the VM's "/"), STATE (the agent's
// state dir), the rcctl test double, and services that are sleepers (processes rc.subr semantics can find,
// named NAME-sleeper on their command line). Cleanup kills what the double started and removes it all.
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { doubleProcesses, killDoubleProcesses, makeRcctl, writeRcScript } from "../doubles/rcctl/index.js";
import type { Cleanups } from "./processes.js";

export interface AgentSandbox {
  dir: string;
  root: string;
  state: string;
  rcctl: string;
  /** A script that idles until killed; `${process.execPath} ${sleeper} NAME` runs it. */
  sleeper: string;
}

export async function agentSandbox(
  prefix: string,
  cleanups: Cleanups,
  sleepers: string[] = [],
): Promise<AgentSandbox> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  const root = path.join(dir, "root");
  await mkdir(path.join(root, "etc"), { recursive: true });
  cleanups.push(async () => {
    await killDoubleProcesses(root);
    await rm(dir, { recursive: true, force: true });
  });
  const rcctl = await makeRcctl(root);
  const sleeper = path.join(dir, "sleeper.mjs");
  await writeFile(sleeper, "setInterval(() => {}, 1000);\n");
  for (const name of sleepers) {
    await writeRcScript(root, name, {
      daemon: `${process.execPath} ${sleeper} ${name}-sleeper`,
      bg: true,
      timeout: 5,
    });
  }
  return { dir, root, state: path.join(dir, "state"), rcctl, sleeper };
}

/** The arguments every sandboxed agent takes: node, state, root, rcctl double, accounts of the test machine. */
export function sandboxAgentArgs(
  s: Pick<AgentSandbox, "root" | "state" | "rcctl">,
  node = "jicofo",
): string[] {
  return ["--node", node, "--state-dir", s.state, "--root", s.root, "--rcctl", s.rcctl, "--lenient-accounts"];
}

/** The pids of the sleeper standing in for service NAME (one while it runs; a restart changes it). */
export function sleeperPids(root: string, name: string): number[] {
  return doubleProcesses(root)
    .filter((p) => p.kind === "daemon" && p.cmdline.includes(`${name}-sleeper`))
    .map((p) => p.pid);
}
