// Child process of test/agent-crash.test.ts: applies version A or B of a jicofo-like node with several
// large files. Prints "ready EPOCH_MS" just before the apply starts (the parent kills at a random moment
// after it) and a JSON line when it is done; the engine's pino log goes to stderr (synchronously), so the
// parent can learn from an uninterrupted run when the file writes end.
//
// usage: node --import tsx test/helpers/crash-apply.ts '{"root":..,"stateDir":..,"rcctl":..,"version":"A","generation":2}'
// (the test bundles it with esbuild first, to start in a tenth of the time)
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { NodeDesiredInput } from "@vmmeet/shared";
import pino from "pino";
import { lenientAccounts } from "../../packages/agent/src/reconcile/accounts.js";
import { ApplyEngine } from "../../packages/agent/src/reconcile/engine.js";
import { Rcctl } from "../../packages/agent/src/services/rcctl.js";

export type Version = "A" | "B";

interface CrashFile {
  path: string;
  bytes: number;
  binary: boolean;
  /** Mode per version: content and mode must change together (the mode is set before the rename). */
  mode: Record<Version, string>;
  notify: boolean;
}

export const CRASH_FILES: CrashFile[] = [
  {
    path: "/etc/jicofo/jicofo.conf",
    bytes: 600_000,
    binary: false,
    mode: { A: "0640", B: "0600" },
    notify: true,
  },
  {
    path: "/etc/jicofo/jicofo.in.sh",
    bytes: 300_000,
    binary: false,
    mode: { A: "0644", B: "0644" },
    notify: true,
  },
  {
    path: "/etc/ssl/jicofo-key.store",
    bytes: 400_000,
    binary: true,
    mode: { A: "0640", B: "0640" },
    notify: true,
  },
  { path: "/etc/hosts", bytes: 200_000, binary: false, mode: { A: "0644", B: "0644" }, notify: false },
];

export const JICOFO_FLAGS = "--host=xmpp.example.org";

/** Deterministic content of a file in a version: text lines, or pseudo-random bytes for the keystore. */
export function crashContent(f: CrashFile, v: Version): Buffer {
  if (!f.binary) {
    const line = `${v} ${f.path} ${v.repeat(40)}\n`;
    return Buffer.from(line.repeat(Math.ceil(f.bytes / line.length)).slice(0, f.bytes - 1) + "\n");
  }
  const b = Buffer.alloc(f.bytes);
  let x = v === "A" ? 0x1234567 : 0x7654321;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export function crashDesired(v: Version): NodeDesiredInput {
  return {
    node: "jicofo",
    role: "jicofo",
    files: CRASH_FILES.map((f) => ({
      path: f.path,
      content: f.binary ? crashContent(f, v).toString("base64") : crashContent(f, v).toString("utf8"),
      encoding: f.binary ? "base64" : "utf8",
      mode: f.mode[v],
      owner: "root",
      group: f.path.startsWith("/etc/jicofo/") ? "_jicofo" : "wheel",
      notify: f.notify ? [{ service: "jicofo", action: "restart" }] : [],
    })),
    services: [{ name: "jicofo", flags: JICOFO_FLAGS, order: 20 }],
    actions: [],
    health: { release: 9646 },
  };
}

export interface CrashArgs {
  root: string;
  stateDir: string;
  rcctl: string;
  version: Version;
  generation: number;
}

async function main(args: CrashArgs): Promise<void> {
  const engine = new ApplyEngine({
    root: args.root,
    stateDir: args.stateDir,
    services: new Rcctl({ path: args.rcctl, timeoutMs: 20_000 }),
    accounts: lenientAccounts(),
    log: pino({ level: "info" }, pino.destination({ fd: 2, sync: true })),
  });
  const desired = crashDesired(args.version);
  process.stdout.write(`ready ${Date.now()}\n`);
  const t0 = performance.now();
  const r = await engine.apply(desired, args.generation);
  process.stdout.write(
    `${JSON.stringify({ done: true, ms: Math.round(performance.now() - t0), outcome: r.outcome })}\n`,
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main(JSON.parse(process.argv[2] ?? "{}") as CrashArgs).catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
