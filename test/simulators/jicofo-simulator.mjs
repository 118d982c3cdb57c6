#!/usr/bin/env node
// jicofo SIMULATOR: a test double of jicofo (release 5765 and later: an XMPP client focus@auth.DOMAIN), NOT
// jicofo (no conferences, no XMPP: it speaks the simulators' line protocol of xmpp-stand-in.mjs). It reads
// the rendered jicofo.in.sh (JICOFO_CONF, JICOFO_TRUSTSTORE, JICOFO_TRUSTSTORE_PASSWORD) and jicofo.conf, logs
// in to prosody, joins the brewery room, prints "Added brewery instance: ROOM/NICK" for every bridge
// that joins it and "Removed brewery instance: ROOM/NICK" for every one that leaves, and serves
// GET /about/health: 200 with at least one bridge, 500 without (as jicofo does). Log lines use Jitsi's
// layout ("Jicofo 2022-09-16 14:45:24.260 INFO: [35] ...") on stdout, which rc.subr's daemon_logger
// sends to syslog.
import path from "node:path";
import { healthServer } from "./health-endpoint.mjs";
import { getPath } from "./hocon.mjs";
import { jicofoBrewery } from "./jicofo-brewery.mjs";
import { loadJitsiConfig, loadJitsiTruststore } from "./jitsi-startup.mjs";
import { jitsiLogger } from "./log-lines.mjs";
import { simulatorArgs } from "./process-lifecycle.mjs";
import { simRandom } from "./random.mjs";
import { keepLoggedIn, RECONNECT } from "./reconnect.mjs";
import { ownAddresses, resolveHost } from "./simulated-network.mjs";
import { xmppLogin } from "./xmpp-stand-in.mjs";

const HELP = `jicofo-simulator: a test double of jicofo (not jicofo, does not speak XMPP)
usage: jicofo-simulator.mjs --root DIR --net DIR [--http-port N] [--time-scale F] [--address A]... --host=HOST
  --root            the simulated VM's root (/etc/jicofo/jicofo.in.sh, jicofo.conf and the truststore under it)
  --net             the simulated network directory (see simulated-network.mjs)
  --http-port       loopback port of /about/health (default 0: any free port; published in NETDIR as
                    <address>/<jicofo.rest.port, default 8888>)
  --time-scale      real seconds per simulated second of jicofo's reconnect timing (default 1; tests 0.1)
  --host=HOST       required, like the OpenBSD port's launcher (rcctl set jicofo flags --host=DOMAIN)
`;

const args = simulatorArgs(HELP);
// The port's jicofo.sh exits with a usage text without --host (docs/openbsd-rc.md section 3).
if (!args.host || args.host === "true") {
  process.stdout.write("usage: jicofo --host=HOST (must match virtualhost) [jicofo-simulator]\n");
  process.exit(1);
}
let randomDraw;
try {
  randomDraw = simRandom("jicofo");
} catch (e) {
  process.stderr.write(`jicofo-simulator: ${e.message}\n`);
  process.exit(2);
}
const ROOT = path.resolve(args.root);
const NET = path.resolve(args.net);
const log = jitsiLogger("Jicofo");

log.info(
  1,
  "JicofoKt.main#52",
  `Starting Jicofo 1.0-9646 (jicofo-simulator: a test double) for ${args.host}`,
);

const { env, conf } = loadJitsiConfig(ROOT, log, {
  inSh: "/etc/jicofo/jicofo.in.sh",
  prefix: "JICOFO",
  defaultConf: "/etc/jicofo/jicofo.conf",
  where: "JicofoKt.main#60",
});

const cas = await loadJitsiTruststore(ROOT, log, env, { prefix: "JICOFO", where: "JicofoKt.main#70" });

const client = getPath(conf, "jicofo.xmpp.client") ?? {};
const jb = jicofoBrewery(log, conf);
const brewery = jb.brewery;
const restPort = getPath(conf, "jicofo.rest.port") ?? 8888;

const health = await healthServer({
  port: Number(args["http-port"] ?? 0),
  healthy: jb.healthy,
  onRequest: jb.onHealthRequest,
  publishAs: restPort,
  netDir: NET,
  addresses: ownAddresses(ROOT, args.address),
});
log.info(
  33,
  "io.ktor.server.engine.EmbeddedServer$start$3.invokeSuspend",
  `Responding at http://0.0.0.0:${restPort}`,
);

const hostname = String(client.hostname ?? "localhost");
const port = Number(client.port ?? 5222);
const username = String(client.username ?? "focus");
const ctx = "[xmpp_connection=client]";
// What smack's exception says for each way a login fails (the message jicofo puts after its text).
const failure = (e) => {
  const addr = resolveHost(ROOT, hostname) ?? hostname;
  switch (e.kind) {
    case "unknown-host":
      return `java.net.UnknownHostException: ${hostname}`;
    case "refused":
      return `The following addresses failed: '${hostname}:${port}' failed because: ${hostname}/${addr} exception: java.net.ConnectException: Connection refused`;
    case "pkix":
      return "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target";
    case "sasl":
      return `SASLError using SCRAM-SHA-1: ${e.detail}`;
    case "host-unknown":
      return "org.jivesoftware.smack.XMPPException$StreamErrorException: host-unknown";
    default:
      return `java.io.EOFException: ${e.detail ?? "connection closed"}`;
  }
};
// jicofo 9646's own lines (jicofo-common/.../xmpp/XmppProvider.kt at stable/jitsi-meet_9646).
const failed = (text) =>
  log.severe(27, "XmppProvider.doConnect#181", `Failed to connect/login: ${text}`, ctx);
const scale = Number(args["time-scale"] ?? 1);
let loggedInBefore = false;

const session =
  client.enabled === false
    ? undefined
    : keepLoggedIn({
        retry: {
          // smack's randomBase, drawn once for the connection (VMMEET_SIM_SEED: reproducible, random.mjs).
          ...RECONNECT.jicofo(scale, randomDraw),
          onCountdown: (n) =>
            log.info(
              59,
              "XmppProvider$reconnectionListener$1.reconnectingIn#87",
              `XMPP reconnecting in: ${n} seconds.`,
              ctx,
            ),
          onReconnectFailed: (e) =>
            log.severe(
              59,
              "XmppProvider$reconnectionListener$1.reconnectionFailed#91",
              `XMPP reconnection failed: ${failure(e)}`,
              ctx,
            ),
        },
        login: () =>
          xmppLogin({
            root: ROOT,
            netDir: NET,
            hostname,
            port,
            domain: String(client.domain ?? hostname),
            username,
            password: String(client.password ?? ""),
            cas,
            disableVerification: client["disable-certificate-verification"] === true,
          }),
        onFailure: (e) => failed(failure(e)),
        onSession: async (s) => {
          // The first login goes through XmppProvider.doConnect, a reconnect through smack's manager.
          if (!loggedInBefore) log.info(27, "XmppProvider.doConnect#168", `Connected, JID=${s.jid}`, ctx);
          loggedInBefore = true;
          log.info(25, "XmppProvider$connectionListener$1.authenticated#98", "Registered.", ctx);
          const xmppDomain = client["xmpp-domain"];
          if (xmppDomain)
            log.info(
              25,
              "XmppProvider$connectionListener$1.authenticated#100",
              `Will discover components for ${xmppDomain}`,
              ctx,
            );
          else
            log.info(
              25,
              "XmppProvider$connectionListener$1.authenticated#103",
              "No xmpp-domain configured, will not discover components.",
              ctx,
            );
          s.on("presence", (room, nick, available) => {
            if (nick !== username) jb.presence(room, nick, available);
          });
          if (brewery === "") return;
          jb.joined(await s.join(brewery, username));
        },
        onClosed: (streamError) => jb.closed(ctx, streamError),
      });

for (const s of ["SIGTERM", "SIGINT"]) {
  process.on(s, () => {
    session?.stop();
    health.close();
    process.exit(0);
  });
}
