// The sandbox's agents: one `vmmeet-agent` process per node, run on its VM root with the doubles.
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { SimRole } from "../simulators/index.js";
import { repoRoot } from "../validators/paths.js";
import { pipeLines } from "./processes.js";

export const AGENT = path.join(repoRoot(), "packages/agent/dist/vmmeet-agent.mjs");

export interface NodeAgentSettings {
  args?: string[];
  env?: Record<string, string>;
  coordinator?: string;
}

export interface NodeSandbox {
  name: string;
  role: SimRole | "host" | "turn";
  root: string;
  state: string;
  rcctl: string;
  address: string | null;
  agent: ChildProcess | null;
  output: string[];
  /** The agent's arguments besides the common ones (kept to restart it). */
  args: string[];
  /** DeploymentOptions.perNode's settings for this node. */
  own?: NodeAgentSettings;
}

export interface AgentLaunch {
  /** The coordinator's agents URL, unless the node's own settings name another. */
  coordinatorUrl: string;
  /** Arguments after the common ones: the join token (first start) and the node's tools. */
  args: string[];
  /** DeploymentOptions.agentArgs: every agent's extra arguments. */
  agentArgs?: string[];
  onOutput?: (line: string) => void;
}

/** Starts the node's agent (as n.agent), its output lines into n.output. */
export function startAgent(n: NodeSandbox, launch: AgentLaunch): void {
  const proc = spawn(
    process.execPath,
    [
      AGENT,
      "--node",
      n.name,
      "--coordinator",
      n.own?.coordinator ?? launch.coordinatorUrl,
      "--state-dir",
      n.state,
      "--root",
      n.root,
      "--rcctl",
      n.rcctl,
      "--lenient-accounts",
      ...launch.args,
      ...(launch.agentArgs ?? []),
      ...(n.own?.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"], ...(n.own?.env ? { env: { ...process.env, ...n.own.env } } : {}) },
  );
  n.agent = proc;
  pipeLines(proc, n.name, n.output, launch.onOutput);
}
