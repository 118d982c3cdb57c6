// The sandbox's coordinator: `vmmeet serve` on loopback, and the agents' URL it prints once it listens.
import { type ChildProcess, spawn } from "node:child_process";
import { waitFor } from "../helpers/wait.js";
import { VMMEET } from "./vmmeet-cli.js";

export interface ServeOptions {
  /** The sandbox directory (the spec is DIR/vmmeet.yaml). */
  dir: string;
  stateDir: string;
  /** 0: any free port. */
  port: number;
  /** Extra `vmmeet serve` arguments. */
  serveArgs?: string[];
}

/** `vmmeet serve` on 127.0.0.1 with a 2 s heartbeat, its output on pipes. */
export function spawnCoordinator(options: ServeOptions): ChildProcess {
  return spawn(
    process.execPath,
    [
      VMMEET,
      "serve",
      "--state",
      options.stateDir,
      "--listen",
      `127.0.0.1:${options.port}`,
      "--heartbeat",
      "2",
      ...(options.serveArgs ?? []),
    ],
    {
      cwd: options.dir,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
}

/** The agents' URL once the coordinator says it listens (`output`: its lines so far); fails if it exits. */
export async function agentsUrl(proc: ChildProcess, output: readonly string[]): Promise<string> {
  const m = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`vmmeet serve exited: ${output.join("\n")}`);
      return /agents on (wss?):\/\/127\.0\.0\.1:(\d+)\/agent/.exec(output.join("\n"));
    },
    { what: "the coordinator listening", timeoutMs: 30_000 },
  );
  return `${m[1]}://127.0.0.1:${m[2]}/agent`;
}
