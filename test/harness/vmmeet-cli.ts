// The sandbox's `vmmeet` command and the spec it writes: running the built CLI in a sandbox directory,
// `vmmeet init` with the site certificate as files, join tokens, and the spec's nodes.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../validators/paths.js";

const run = promisify(execFile);
export const VMMEET = path.join(repoRoot(), "packages/coordinator/dist/cli/main.js");

export interface VmmeetResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `vmmeet ARGS` run in `dir`; a failure is a result with its exit code, not an exception. */
export function runVmmeet(dir: string, args: string[]): Promise<VmmeetResult> {
  return run(process.execPath, [VMMEET, ...args], { cwd: dir, maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

/**
 * `vmmeet init` in `dir` (the paper's topology), the site certificate given as files (no acme-client here:
 * the web VM gets placeholders or a throw-away pair), `edit` applied, and the result validated.
 */
export async function initSpec(dir: string, edit?: (spec: string) => string): Promise<void> {
  const init = await runVmmeet(dir, ["init", "--dir", dir]);
  if (init.code !== 0) throw new Error(`vmmeet init failed: ${init.stderr}`);
  const specFile = path.join(dir, "vmmeet.yaml");
  let spec = (await readFile(specFile, "utf8")).replace(
    /^tls:\n {2}mode: acme\n/m,
    "tls:\n  mode: files\n  certificate: /etc/ssl/jitsi.fullchain.pem\n  key: /etc/ssl/private/jitsi.key\n",
  );
  if (edit) spec = edit(spec);
  await writeFile(specFile, spec);
  const valid = await runVmmeet(dir, ["validate"]);
  if (valid.code !== 0) throw new Error(`the spec is invalid:\n${valid.stderr}`);
}

/** A fresh join token for `name`: the agent arguments that enroll it. */
export async function joinArgs(dir: string, name: string): Promise<string[]> {
  const token = await runVmmeet(dir, ["agents", "token", name, "--json"]);
  if (token.code !== 0) throw new Error(`vmmeet agents token ${name}: ${token.stderr}`);
  const t = JSON.parse(token.stdout) as { token: string; caHash: string };
  return ["--join", t.token, "--ca-hash", t.caHash];
}

export interface SpecNode<R extends string = string> {
  name: string;
  role: R;
  /** null for the host. */
  address: string | null;
}

/** The spec's domain and its nodes: the host first, then the VMs in spec order. */
export async function readSpecNodes<R extends string = string>(
  specFile: string,
): Promise<{ domain: string; nodes: SpecNode<R>[] }> {
  const { parse } = await import("yaml");
  const spec = parse(await readFile(specFile, "utf8")) as {
    domain: string;
    host?: { name?: string };
    nodes: { name: string; role: string; address: string }[];
  };
  return {
    domain: spec.domain,
    nodes: [
      { name: spec.host?.name ?? "vmm", role: "host" as R, address: null },
      ...spec.nodes.map((n) => ({ name: n.name, role: n.role as R, address: n.address })),
    ],
  };
}
