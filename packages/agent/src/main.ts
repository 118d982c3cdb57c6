#!/usr/bin/env node
// vmmeet-agent: the process. Parses the command line, makes the one pino root logger, starts the daemon
// and stops it on SIGTERM/SIGINT (rc.subr's stop) well inside daemon_timeout.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { offsetClock, systemClock } from "@vmmeet/node";
import { PROSODY } from "@vmmeet/shared";
import pino from "pino";
import { runClassify } from "./cli/classify.js";
import { AGENT_VERSION, AgentDaemon } from "./daemon.js";
import { secureStart } from "./enroll/startup.js";
import { HEAL_OPTIONS, HEAL_USAGE, healTuningFrom } from "./heal/flags.js";
import { HealthMonitor } from "./health/monitor.js";
import { exposedGc, HeapTrimmer } from "./heap.js";
import { MetricsCollector } from "./metrics/index.js";
import { lenientAccounts, systemAccounts } from "./reconcile/accounts.js";
import { ServiceLife } from "./services/life.js";
import { Rcctl } from "./services/rcctl.js";
import { agentEndpoint } from "./transport/endpoint.js";

const USAGE = `vmmeet-agent ${AGENT_VERSION}: applies this VM's part of a vmmeet deployment and reports its health

Usage:
  vmmeet-agent --node NAME --coordinator URL [options]
  vmmeet-agent classify --component prosody|jicofo|jvb|nginx [--release N] < LOG

Options:
  --node NAME           this node's name in the deployment spec (e.g. xmpp)
  --coordinator URL     the coordinator's agent endpoint, e.g. wss://100.64.2.2:7443/agent (a URL without
                        a path means /agent); without it the agent only enforces its last applied state.
                        ws:// (no TLS, no authentication) is accepted for a loopback coordinator only,
                        for tests
  --join TOKEN          enroll first: a one-time join token from 'vmmeet agents token NODE' on the VMM host
  --ca-hash sha256:HEX  with --join: the deployment CA's hash printed with the token; the agent trusts only
                        that CA, and keeps its client certificate in STATE/enroll/ (files 0600)
  --enroll-only         with --join: enroll, then exit (so the token never lands in rc.conf.local)
  --role ROLE           this node's role (web, xmpp, jicofo, jvb, turn, host); without it, the role given at
                        enrollment or the last applied one. Desired states for another role are refused
  --state-dir DIR       last applied state, backups, log offsets (default /var/db/vmmeet, created 0700)
  --root DIR            prefix of every managed path and of the programs' defaults below (default /; a
                        sandbox directory in tests, where test doubles stand at the programs' paths)
  --rcctl PATH          the rcctl(8) executable (default /usr/sbin/rcctl)
  --prosodyctl PATH     prosodyctl for the xmpp node's setup actions (default ${PROSODY.prosodyctl.value},
                        where net/prosody installs it)
  --openssl PATH        the web node with tls.mode acme: openssl(1) for the placeholder certificate nginx
                        starts with (default /usr/bin/openssl)
  --acme-client PATH    the web node with tls.mode acme: acme-client(1), which gets and renews the
                        Let's Encrypt certificate (default /usr/sbin/acme-client)
  --pfctl PATH          pfctl(8): pf.conf is checked (-nf), loaded (-f) and reverted unless the coordinator
                        confirms it in time (default /sbin/pfctl)
  --vmctl PATH          the VMM host: vmctl(8) (default /usr/sbin/vmctl)
  --vmd PATH            the VMM host: vmd(8), for its -n config test of vm.conf (default /usr/sbin/vmd)
  --sysctl PATH         the VMM host: sysctl(8), to set sysctl.conf's values (default /sbin/sysctl)
  --lenient-accounts    map OpenBSD accounts missing here (_prosody, _jicofo, ...) to the agent's own uid/gid;
                        for test sandboxes only, never on a VM
  --port-map-dir DIR    health probes of loopback port P go to the port named in DIR/P (simulated VMs that
                        share one machine's loopback); for test sandboxes only
  --clock-offset=SECS   read this VM's clock SECS seconds ahead (negative: behind) of the machine's, for what
                        the agent stamps and reports; simulated VMs with a clock that disagrees, for test
                        sandboxes only
${HEAL_USAGE}
  --log-level LEVEL     pino level (default info); logs are JSON lines on stdout, secrets redacted
  -h, --help            this text

Exit status: 0 after a clean stop, 1 on a fatal error, 64 bad command line.`;

export const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "classify") return runClassify(argv.slice(1), process.stdin, process.stdout);
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        node: { type: "string" },
        coordinator: { type: "string" },
        "state-dir": { type: "string" },
        root: { type: "string" },
        rcctl: { type: "string" },
        prosodyctl: { type: "string" },
        openssl: { type: "string" },
        "acme-client": { type: "string" },
        pfctl: { type: "string" },
        vmctl: { type: "string" },
        vmd: { type: "string" },
        sysctl: { type: "string" },
        "lenient-accounts": { type: "boolean" },
        "port-map-dir": { type: "string" },
        "clock-offset": { type: "string" },
        "log-level": { type: "string" },
        join: { type: "string" },
        "ca-hash": { type: "string" },
        "enroll-only": { type: "boolean" },
        role: { type: "string" },
        ...HEAL_OPTIONS,
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`vmmeet-agent: ${(err as Error).message}\n\n${USAGE}\n`);
    return 64;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const node = values.node;
  if (typeof node !== "string" || !/^[a-z][a-z0-9]{0,30}$/.test(node)) {
    process.stderr.write(
      `vmmeet-agent: --node NAME is required (a node name of the spec: lower-case letters and digits)\n`,
    );
    return 64;
  }
  const heal = healTuningFrom(values);
  if (!heal.ok) {
    process.stderr.write(`vmmeet-agent: ${heal.message}\n`);
    return 64;
  }
  const offsetText = typeof values["clock-offset"] === "string" ? values["clock-offset"] : "0";
  const clockOffsetMs = Math.round(Number(offsetText) * 1000);
  if (!/^-?\d+(\.\d+)?$/.test(offsetText) || !Number.isSafeInteger(clockOffsetMs)) {
    process.stderr.write(`vmmeet-agent: --clock-offset ${offsetText}: not a number of seconds\n`);
    return 64;
  }
  const clock = offsetClock(systemClock, clockOffsetMs);
  const given = typeof values.coordinator === "string" ? values.coordinator : null;
  if (given !== null && !/^wss?:\/\/[^/]/.test(given)) {
    process.stderr.write(`vmmeet-agent: --coordinator must be a ws:// or wss:// URL\n`);
    return 64;
  }
  let coordinator: string | null;
  try {
    coordinator = given === null ? null : agentEndpoint(given);
  } catch {
    process.stderr.write(`vmmeet-agent: --coordinator ${given}: not a URL\n`);
    return 64;
  }
  const logger = pino({
    level: typeof values["log-level"] === "string" ? values["log-level"] : "info",
    base: { svc: "vmmeet-agent", node },
    redact: {
      paths: ["password", "*.password", "*.content", "secret", "*.secret", "token", "*.token"],
      censor: "<redacted>",
    },
  });
  const secure = await secureStart({
    coordinator,
    node,
    stateDir: typeof values["state-dir"] === "string" ? values["state-dir"] : "/var/db/vmmeet",
    ...(typeof values.join === "string" ? { join: values.join } : {}),
    ...(typeof values["ca-hash"] === "string" ? { caHash: values["ca-hash"] } : {}),
    ...(typeof values.role === "string" ? { role: values.role } : {}),
    logger: logger.child({ part: "enroll" }),
  });
  if (!secure.ok) {
    process.stderr.write(`vmmeet-agent: ${secure.message}\n`);
    return secure.exit;
  }
  if (values["enroll-only"]) {
    if (typeof values.join !== "string") {
      process.stderr.write("vmmeet-agent: --enroll-only needs --join TOKEN --ca-hash sha256:HEX\n");
      return 64;
    }
    process.stderr.write(`vmmeet-agent: enrolled as ${node}; start the agent without --join now\n`);
    return 0;
  }
  const root = typeof values.root === "string" ? values.root : "/";
  const accounts = values["lenient-accounts"]
    ? lenientAccounts()
    : systemAccounts(root === "/" ? "/etc" : `${root}/etc`);
  const stateDir = typeof values["state-dir"] === "string" ? values["state-dir"] : "/var/db/vmmeet";
  // A program's flag, or its OpenBSD path under --root: on a VM the root is /, in a sandbox the test
  // doubles stand at the real paths.
  const program = (flag: string, openbsd: string): string => {
    const given = values[flag];
    return typeof given === "string" ? given : path.join(root, openbsd);
  };
  // One owner of the services' life for the daemon and the health monitor: the monitor hears of every
  // (re)start, and rcctl is not asked again what it said moments ago.
  // Its start times are on the VM's clock, the healer's (--clock-offset).
  const services = new ServiceLife(
    new Rcctl({ path: program("rcctl", "/usr/sbin/rcctl"), log: logger.child({ part: "rcctl" }) }),
    { now: () => clock.now() },
  );
  const daemon = new AgentDaemon({
    node,
    coordinator,
    stateDir,
    root,
    services,
    accounts,
    logger,
    ...(secure.tls ? { tls: secure.tls } : {}),
    ...(secure.role ? { role: secure.role } : {}),
    heal: heal.tuning,
    ...(clockOffsetMs !== 0 ? { now: () => clock.now() } : {}),
    health: new HealthMonitor({
      root,
      stateDir,
      services,
      // The VM's clock (--clock-offset) times its probes and stamps its signals.
      clock,
      logger: logger.child({ part: "health" }),
      ...(typeof values["port-map-dir"] === "string"
        ? { probe: { mapPort: portMap(values["port-map-dir"]) } }
        : {}),
    }),
    metrics: new MetricsCollector({
      clock,
      onError: (err) => logger.warn({ err: (err as Error).message }, "host metrics sample failed"),
    }),
    prosodyctl: program("prosodyctl", PROSODY.prosodyctl.value),
    openssl: program("openssl", "/usr/bin/openssl"),
    acmeClient: program("acme-client", "/usr/sbin/acme-client"),
    pfctl: program("pfctl", "/sbin/pfctl"),
    vmctl: program("vmctl", "/usr/sbin/vmctl"),
    vmd: program("vmd", "/usr/sbin/vmd"),
    sysctl: program("sysctl", "/sbin/sysctl"),
  });
  await daemon.start();
  // rc.d/vmmeet_agent runs node with --expose-gc for this (heap.ts says why).
  const gc = exposedGc();
  const trimmer =
    gc === undefined
      ? undefined
      : new HeapTrimmer({
          gc,
          onTrim: (before, after) =>
            logger.debug({ oldGenerationBytes: { before, after } }, "quiet after a burst: garbage collected"),
        });
  trimmer?.start();
  logger.info({ version: AGENT_VERSION, coordinator, root }, "agent started");
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      logger.info({ signal }, "stopping");
      // rc.subr sends SIGKILL after daemon_timeout (30 s in rc.d/vmmeet_agent); give up well before that.
      setTimeout(() => {
        logger.error("shutdown took too long; exiting");
        process.exit(1);
      }, SHUTDOWN_DEADLINE_MS).unref();
      trimmer?.stop();
      daemon.stop().then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`vmmeet-agent: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);

/** --port-map-dir: DIR/P holds the loopback port that stands for port P (the simulators' NETDIR/<address>). */
function portMap(dir: string): (port: number) => Promise<number | undefined> {
  return async (port) => {
    const text = await readFile(path.join(dir, String(port)), "utf8").catch(() => "");
    const n = Number(text.trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  };
}
