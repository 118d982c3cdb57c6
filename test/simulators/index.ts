// Simulated jitsi VMs for tests: install the SIMULATORS of this folder (prosody, prosodyctl, jicofo, jvb,
// nginx: test doubles, not the real programs) as rc.d services of an rcctl test double root, so the agent
// or a test starts them with `rcctl start` and reads their logs where OpenBSD would put them.
//
// The simulated network (simulated-network.mjs explains it): every simulated listener publishes
// NETDIR/<vm address>/<port> -> the loopback port it really listens on; clients resolve names through
// their own ROOT/etc/hosts and connect there. simulatedPort() does that lookup for tests and probes.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { entryBytes } from "@vmmeet/node";
import { type NodeDesired, PROSODY } from "@vmmeet/shared";
import { makeRcctl, runRcctl, writeRcScript } from "../doubles/rcctl/index.js";

export const SIMULATORS_DIR = path.dirname(fileURLToPath(import.meta.url));
export const SIMULATOR = {
  prosody: path.join(SIMULATORS_DIR, "prosody-simulator.mjs"),
  prosodyctl: path.join(SIMULATORS_DIR, "prosodyctl-simulator.mjs"),
  jicofo: path.join(SIMULATORS_DIR, "jicofo-simulator.mjs"),
  jvb: path.join(SIMULATORS_DIR, "jvb-simulator.mjs"),
  nginx: path.join(SIMULATORS_DIR, "nginx-simulator.mjs"),
} as const;

export type SimRole = "web" | "xmpp" | "jicofo" | "jvb";

export interface SimulatedVmOptions {
  /** The simulated network directory shared by every VM of the deployment. */
  netDir: string;
  /** An rcctl wrapper from makeRcctl(root); made here when absent. */
  rcctl?: string;
  /**
   * How long the jicofo/jvb simulators' 5 s retry period takes here (default 1000 ms): their whole reconnect
   * timing (reconnect.mjs RECONNECT: smack's delays for jicofo, jicoco's retry task for jvb) runs at that scale.
   */
  backoffMaxMs?: number;
  /** Loopback port of jicofo's/jvb's /about/health (default 0: any free port, found with simulatedPort). */
  httpPort?: number;
  /** The VM's addresses; default: ROOT/etc/myname looked up in ROOT/etc/hosts (rendered files). */
  addresses?: string[];
  /**
   * web: write placeholder files for nginx.conf's ssl_certificate/ssl_certificate_key when they are
   * missing (acme-client makes the real ones); without them the nginx simulator refuses to start, as nginx
   * does. Default true.
   */
  placeholderTls?: boolean;
}

export interface SimulatedVm {
  root: string;
  role: SimRole;
  rcctl: string;
  /** The service this VM runs (rc.d script name). */
  service: "nginx" | "prosody" | "jicofo" | "jvb";
  /** xmpp only: the prosodyctl simulator wrapper (give it to the agent as its prosodyctl). */
  prosodyctl?: string;
}

const SERVICE: Record<SimRole, SimulatedVm["service"]> = {
  web: "nginx",
  xmpp: "prosody",
  jicofo: "jicofo",
  jvb: "jvb",
};

function checkWord(what: string, s: string): string {
  // rc.subr's pexp is the daemon line matched as an ERE: keep paths free of blanks and ERE specials.
  if (!/^[A-Za-z0-9_./@%+=:,-]+$/.test(s))
    throw new Error(`${what} ${JSON.stringify(s)}: use a path without blanks or shell/regex specials`);
  return s;
}

/**
 * Write ROOT/etc/rc.d/<service> running the role's simulator with --root ROOT --net NETDIR (and for
 * xmpp ROOT/usr/local/sbin/prosodyctl, where net/prosody installs it, running the prosodyctl simulator). The rendered files must be under
 * ROOT already (writeRenderedFiles) or be written by an agent before the service starts.
 */
export async function installSimulatedVm(
  root: string,
  role: SimRole,
  options: SimulatedVmOptions,
): Promise<SimulatedVm> {
  const rcctl = options.rcctl ?? (await makeRcctl(root));
  const node = checkWord("node", process.execPath);
  const base = [node, "SIM", "--root", checkWord("root", root), "--net", checkWord("netDir", options.netDir)];
  for (const a of options.addresses ?? []) base.push("--address", checkWord("address", a));
  const daemon = (sim: string, extra: string[] = []) =>
    [...base.map((w) => (w === "SIM" ? checkWord("simulator", sim) : w)), ...extra].join(" ");
  const service = SERVICE[role];
  const vm: SimulatedVm = { root, role, rcctl, service };
  const jvm = [
    ...(options.httpPort === undefined ? [] : ["--http-port", String(options.httpPort)]),
    "--time-scale",
    String((options.backoffMaxMs ?? 1000) / 5000),
  ];
  switch (role) {
    case "xmpp": {
      // The port's prosody self-daemonizes and logs to its own files (prosody.cfg.lua `log`): no logger.
      await writeRcScript(root, "prosody", {
        daemon: daemon(SIMULATOR.prosody),
        user: "_prosody",
        timeout: 10,
      });
      const wrapper = path.join(root, PROSODY.prosodyctl.value);
      await mkdir(path.dirname(wrapper), { recursive: true });
      await writeFile(
        wrapper,
        `#!/bin/sh\n# prosodyctl SIMULATOR wrapper (test/simulators), not prosody's prosodyctl\nexec '${node}' '${SIMULATOR.prosodyctl}' --root '${root}' "$@"\n`,
        { mode: 0o755 },
      );
      await chmod(wrapper, 0o755);
      vm.prosodyctl = wrapper;
      break;
    }
    case "jicofo":
    case "jvb":
      // As net/jitsi's rc.d scripts: daemon_logger=daemon.info, rc_bg=YES, rc_reload=NO.
      await writeRcScript(root, service, {
        daemon: daemon(role === "jicofo" ? SIMULATOR.jicofo : SIMULATOR.jvb, jvm),
        logger: "daemon.info",
        reload: false,
        user: `_${service}`,
        timeout: 10,
      });
      break;
    case "web": {
      if (options.placeholderTls ?? true) await placeholderTls(root);
      await writeRcScript(root, "nginx", {
        daemon: daemon(SIMULATOR.nginx),
        stopSignal: "QUIT",
        user: "root",
        timeout: 10,
      });
      break;
    }
  }
  return vm;
}

async function placeholderTls(root: string): Promise<void> {
  let conf: string;
  try {
    conf = await readFile(path.join(root, "etc/nginx/nginx.conf"), "utf8");
  } catch {
    return;
  }
  for (const m of conf.matchAll(/^\s*ssl_certificate(?:_key)?\s+(\/\S+);/gm)) {
    const file = path.join(root, m[1] as string);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, "placeholder written by test/simulators (the nginx simulator does no TLS)\n", {
      flag: "wx",
    }).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  }
}

/**
 * Write a node's rendered files under ROOT (what the agent would do, without owners) and create the log
 * files of its syslog-logfile actions (syslogd does not create them).
 */
export async function writeRenderedFiles(
  root: string,
  node: Pick<NodeDesired, "files" | "actions">,
): Promise<void> {
  for (const f of node.files) {
    const file = path.join(root, f.path);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, entryBytes(f), {
      mode: Number.parseInt(f.mode, 8),
    });
  }
  for (const a of node.actions) {
    if (a.kind !== "syslog-logfile") continue;
    const file = path.join(root, a.path);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, "", { flag: "a" });
  }
}

/** rcctl enable, set flags (when given) and start, as the agent does; throws when rcctl fails. */
export async function startService(vm: SimulatedVm, flags?: string | null): Promise<void> {
  const run = async (args: string[]) => {
    const r = await runRcctl(vm.rcctl, args);
    if (r.code !== 0) throw new Error(`rcctl ${args.join(" ")} exited ${r.code}: ${r.stdout}${r.stderr}`);
  };
  await run(["enable", vm.service]);
  if (flags) await run(["set", vm.service, "flags", flags]);
  await run(["start", vm.service]);
}

/** The loopback port serving ADDRESS:PORT of the simulated network, or undefined (nothing listens). */
export async function simulatedPort(
  netDir: string,
  address: string,
  port: number,
): Promise<number | undefined> {
  try {
    const n = Number((await readFile(path.join(netDir, address, String(port)), "utf8")).trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
