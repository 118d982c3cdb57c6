// Secret scanning for tests: every process a security test starts goes through an OutputRecorder, which
// keeps all it prints (stdout and stderr, i.e. every log line) and the output of in-process CLI runs; at the
// end the test collects every secret the deployment generated (secrets.json, private keys, join tokens)
// and fails when any of them appears anywhere. Also the small process harness those tests share: a
// live coordinator (`vmmeet serve`), live agents (`vmmeet-agent`), and the CLI.
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { runCli } from "@vmmeet/coordinator";
import { repoRoot } from "../validators/paths.js";
import { AGENT_MAIN, spawnNode } from "./processes.js";
import { waitFor } from "./wait.js";

export const COORDINATOR_CLI = path.join(repoRoot(), "packages/coordinator/dist/cli/main.js");
export const AGENT_CLI = AGENT_MAIN;

export interface Secret {
  /** What it is, e.g. "secrets.json focusPassword" or "agent.key line 3": never the value. */
  label: string;
  value: string;
}

export interface Output {
  label: string;
  text: () => string;
}

export interface CapturedProcess {
  child: ChildProcess;
  output: () => string;
  exited: () => boolean;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exit: Promise<number | string>;
  stop: () => Promise<void>;
}

/** Keeps the output of everything a test ran, for the final scan; `stopAll` ends the processes it started. */
export class OutputRecorder {
  readonly outputs: Output[] = [];
  readonly #procs: CapturedProcess[] = [];

  record(label: string, text: string): void {
    this.outputs.push({ label, text: () => text });
  }

  spawn(
    label: string,
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
  ): CapturedProcess {
    const child = spawnNode(args, opts);
    const p: CapturedProcess = {
      child,
      output: child.output,
      exited: child.exited,
      exit: child.exit,
      stop: child.stop,
    };
    this.outputs.push({ label, text: child.output });
    this.#procs.push(p);
    return p;
  }

  /** `vmmeet ARGS` in this process (runCli), its output recorded. */
  async cli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await runCli(args, {
      out: (s: string) => {
        out += s;
      },
      err: (s: string) => {
        err += s;
      },
      cwd,
      env: {},
    });
    this.record(`vmmeet ${args.join(" ")}`, out + err);
    return { code, out, err };
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.#procs.splice(0).map((p) => p.stop()));
  }
}

/** A live coordinator: `vmmeet serve` on 127.0.0.1, port 0; resolves once it listens. */
export async function startCoordinator(
  rec: OutputRecorder,
  o: { dir: string; state: string; args?: string[]; label?: string },
): Promise<CapturedProcess & { port: number; url: string }> {
  const p = rec.spawn(
    o.label ?? "vmmeet serve",
    [COORDINATOR_CLI, "serve", "--state", o.state, "--listen", "127.0.0.1:0", ...(o.args ?? [])],
    { cwd: o.dir },
  );
  const m = await waitFor(
    () => {
      if (p.exited()) throw new Error(`vmmeet serve exited: ${p.output()}`);
      return /agents on (wss?):\/\/127\.0\.0\.1:(\d+)\/agent/.exec(p.output());
    },
    { what: "the coordinator listening", timeoutMs: 20_000 },
  );
  const port = Number(m[2]);
  return Object.assign(p, { port, url: `${m[1]}://127.0.0.1:${port}/agent` });
}

/** Whether the built agent has --pfctl (it checks and loads pf.conf with pfctl(8) when it does). */
function agentHasPfctl(): boolean {
  try {
    return readFileSync(AGENT_CLI, "utf8").includes("--pfctl PATH");
  } catch {
    return false;
  }
}

/**
 * A live agent process (`vmmeet-agent`), lenient accounts, sandbox root; rcctl and pfctl are /bin/false
 * and /bin/true unless given (pf.conf then always parses and loads).
 */
export function startAgent(
  rec: OutputRecorder,
  o: {
    node: string;
    url: string | null;
    state: string;
    root: string;
    rcctl?: string;
    join?: { token: string; caHash: string };
    args?: string[];
    label?: string;
  },
): CapturedProcess {
  const args = [
    AGENT_CLI,
    "--node",
    o.node,
    "--state-dir",
    o.state,
    "--root",
    o.root,
    "--lenient-accounts",
    "--log-level",
    "debug",
    "--rcctl",
    o.rcctl ?? "/bin/false",
  ];
  if (agentHasPfctl()) args.push("--pfctl", "/bin/true");
  if (o.url) args.push("--coordinator", o.url);
  if (o.join) args.push("--join", o.join.token, "--ca-hash", o.join.caHash);
  args.push(...(o.args ?? []));
  return rec.spawn(o.label ?? `vmmeet-agent ${o.node}`, args);
}

/** Lines of a PEM body long enough to be unmistakable (a 64-character base64 line is one in 2^384). */
function pemLines(pem: string, label: string): Secret[] {
  return pem
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length >= 40 && !l.startsWith("-----"))
    .map((value, i) => ({ label: `${label} line ${i + 1}`, value }));
}

/**
 * Every secret a test deployment holds: the passwords of secrets.json, the lines of every private key of
 * the coordinator's state directory and of the agents' enrollment, and the given join tokens (their secret
 * half; the id before the dot is public).
 */
export async function collectSecrets(o: {
  coordinatorState?: string;
  agentStates?: string[];
  tokens?: string[];
}): Promise<Secret[]> {
  const out: Secret[] = [];
  const read = (f: string) => readFile(f, "utf8").catch(() => null);
  if (o.coordinatorState) {
    const json = await read(path.join(o.coordinatorState, "secrets.json"));
    if (json) {
      for (const [k, v] of Object.entries(JSON.parse(json) as Record<string, unknown>))
        if (typeof v === "string" && v.length >= 16) out.push({ label: `secrets.json ${k}`, value: v });
    }
    for (const f of ["ca.key", "auth.key", "coordinator.key"]) {
      const pem = await read(path.join(o.coordinatorState, f));
      if (pem) out.push(...pemLines(pem, f));
    }
  }
  for (const s of o.agentStates ?? []) {
    const pem = await read(path.join(s, "enroll", "agent.key"));
    if (pem) out.push(...pemLines(pem, `${s}/enroll/agent.key`));
  }
  for (const t of o.tokens ?? []) {
    const secretHalf = t.split(".")[1];
    if (secretHalf) out.push({ label: `join token ${t.split(".")[0]}`, value: secretHalf });
  }
  return out;
}

export interface Finding {
  output: string;
  secret: string;
  context: string;
}

/** Where secrets occur in the outputs; `allow(output, secret)` exempts a pair (the token command prints its token). */
export function scanOutputs(
  outputs: readonly Output[],
  secrets: readonly Secret[],
  allow: (outputLabel: string, secretLabel: string) => boolean = () => false,
): Finding[] {
  const findings: Finding[] = [];
  for (const o of outputs) {
    const text = o.text();
    for (const s of secrets) {
      const at = text.indexOf(s.value);
      if (at >= 0 && !allow(o.label, s.label)) {
        // The context shows where, with the secret itself masked.
        const context = text
          .slice(Math.max(0, at - 60), at + s.value.length + 20)
          .replace(s.value, "<SECRET>");
        findings.push({ output: o.label, secret: s.label, context });
      }
    }
  }
  return findings;
}
