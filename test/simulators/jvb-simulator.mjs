#!/usr/bin/env node
// jvb SIMULATOR: a test double of jitsi-videobridge 2.x for simulated VMs, NOT jitsi-videobridge (no
// media, no XMPP: it speaks the simulators' line protocol of xmpp-stand-in.mjs). It reads the rendered
// jvb.in.sh (JVB_CONF, JVB_TRUSTSTORE, JVB_TRUSTSTORE_PASSWORD) and jvb.conf, checks prosody's certificate
// against the CA certificates in the real PKCS#12 truststore, logs in to each COMPLETE
// videobridge.apis.xmpp-client.configs entry, joins its muc_jids as muc_nickname, logs in again with
// backoff when prosody goes away, and serves GET /about/health. It prints jvb's own log layout
// ("JVB 2024-10-29 00:56:00.450 INFO: [1] ...") to stdout, which rc.subr's daemon_logger sends to syslog.
import fs from "node:fs";
import path from "node:path";
import { healthServer } from "./health-endpoint.mjs";
import { getPath } from "./hocon.mjs";
import { loadJitsiConfig, loadJitsiTruststore } from "./jitsi-startup.mjs";
import { jitsiLogger } from "./log-lines.mjs";
import { simulatorArgs } from "./process-lifecycle.mjs";
import { keepLoggedIn, RECONNECT } from "./reconnect.mjs";
import { ownAddresses, resolveHost } from "./simulated-network.mjs";
import { inRoot, readIfExists } from "./vm.mjs";
import { closedError, xmppLogin } from "./xmpp-stand-in.mjs";

const HELP = `jvb-simulator: a test double of jitsi-videobridge (not jitsi-videobridge, does not speak XMPP)
usage: jvb-simulator.mjs --root DIR --net DIR [--http-port N] [--time-scale F] [--address A]...
  --root            the simulated VM's root (/etc/jvb/jvb.in.sh, jvb.conf and the truststore under it)
  --net             the simulated network directory (see simulated-network.mjs)
  --http-port       loopback port of /about/health (default 0: any free port; published in NETDIR as
                    <address>/<videobridge.http-servers.private.port, default 8080>)
  --time-scale      real seconds per simulated second of jvb's reconnect timing (default 1; tests 0.1)
`;

const args = simulatorArgs(HELP);
const ROOT = path.resolve(args.root);
const NET = path.resolve(args.net);
const log = jitsiLogger("JVB");

log.info(1, "MainKt.main#75", "Starting jitsi-videobridge version 2.0.9646 (jvb-simulator: a test double)");

const { env, conf } = loadJitsiConfig(ROOT, log, {
  inSh: "/etc/jvb/jvb.in.sh",
  prefix: "JVB",
  defaultConf: "/etc/jvb/jvb.conf",
  where: "MainKt.main#80",
});

if (env.JVB_SC_HOME_LOCATION && env.JVB_SC_HOME_NAME) {
  const props = path.posix.join(
    env.JVB_SC_HOME_LOCATION,
    env.JVB_SC_HOME_NAME,
    "sip-communicator.properties",
  );
  if (readIfExists(inRoot(ROOT, props)) !== undefined)
    log.info(
      1,
      "JitsiConfig.<clinit>#68",
      "Initialized legacyConfig: sip communicator props (no description provided)",
    );
} else {
  log.info(
    1,
    "ReadOnlyConfigurationService.reloadConfiguration#40",
    "net.java.sip.communicator.SC_HOME_DIR_LOCATION not set",
  );
}

// The JVM loads javax.net.ssl.trustStore once at start (jvb.sh passes JVB_TRUSTSTORE).
const cas = await loadJitsiTruststore(ROOT, log, env, { prefix: "JVB", where: "MainKt.main#90" });

const addresses = ownAddresses(ROOT, args.address);
const local = addresses[0] ?? "127.0.0.1";
const udpPort = getPath(conf, "videobridge.ice.udp.port") ?? 10000;
log.info(
  28,
  "SinglePortUdpHarvester.<init>#87",
  `Initialized SinglePortUdpHarvester with address ${local}:${udpPort}/udp`,
);
for (const m of getPath(conf, "ice4j.harvest.mapping.static-mappings") ?? []) {
  if (m && typeof m === "object" && m["local-address"] && m["public-address"]) {
    log.info(
      16,
      "org.ice4j.ice.harvest.MappingCandidateHarvesters.initialize",
      `Using org.ice4j.ice.harvest.StaticMappingCandidateHarvester(face=${m["local-address"]}:9/udp, mask=${m["public-address"]}:9/udp)`,
    );
  }
}
log.info(
  16,
  "org.ice4j.ice.harvest.MappingCandidateHarvesters.initialize",
  "Initialized mapping harvesters (delay=2ms).  stunDiscoveryFailed=false",
);

const privatePort = getPath(conf, "videobridge.http-servers.private.port") ?? 8080;
const health = await healthServer({
  port: Number(args["http-port"] ?? 0),
  healthy: () => ({ ok: true }),
  publishAs: privatePort,
  netDir: NET,
  addresses,
});
log.info(1, "MainKt.main#147", "Starting private http server");
log.info(
  1,
  "org.eclipse.jetty.server.AbstractConnector.doStart",
  `Started ServerConnector@51e0301d{HTTP/1.1, (http/1.1)}{127.0.0.1:${privatePort}}`,
);

// A config missing hostname, username, password, muc_jids or muc_nickname is dropped without a word
// (XmppClientConnectionConfig.kt filters on isComplete; docs/jitsi-config-notes.md section 6).
const configs = Object.entries(getPath(conf, "videobridge.apis.xmpp-client.configs") ?? {}).filter(
  ([, c]) =>
    c &&
    typeof c === "object" &&
    ["hostname", "username", "password", "muc_jids", "muc_nickname"].every(
      (k) => c[k] !== undefined && c[k] !== "",
    ),
);

const scale = Number(args["time-scale"] ?? 1);
let srtpLogged = false;
const clients = configs.map(([id, c]) => {
  const hostname = String(c.hostname);
  const port = Number(c.port ?? 5222);
  const ctx = `[hostname=${hostname} id=${id}]`;
  const mucs = (Array.isArray(c.muc_jids) ? c.muc_jids : String(c.muc_jids).split(","))
    .map((s) => String(s).trim())
    .filter(Boolean);
  const nick = String(c.muc_nickname);
  // jicoco 1.1-141-g30ec741's MucClient (jvb 9646): its connect-and-login task logs "Error connecting:"
  // when the connection fails and "Failed to login. ..." when the login does (the TLS handshake, and so a
  // PKIX failure, is part of connecting), each with smack's exception on the next line.
  const task = "MucClient.lambda$getConnectAndLoginCallable$7";
  const errorConnecting = (exception) => log.warn(20, `${task}#640`, "Error connecting:", ctx, [exception]);
  log.info(1, "MucClient.initializeConnectAndJoin#350", "Dispatching a thread to connect and login.", ctx);
  return keepLoggedIn({
    retry: RECONNECT.jvb(scale),
    login: () =>
      xmppLogin({
        root: ROOT,
        netDir: NET,
        hostname,
        port,
        domain: String(c.domain ?? hostname),
        username: String(c.username),
        password: String(c.password),
        cas,
        disableVerification: c.disable_certificate_verification === true,
      }),
    onFailure: (e) => {
      const addr = resolveHost(ROOT, hostname) ?? hostname;
      switch (e.kind) {
        case "unknown-host":
          return errorConnecting(`java.net.UnknownHostException: ${hostname}`);
        case "refused":
          return errorConnecting(
            `org.jivesoftware.smack.SmackException$ConnectionException: The following addresses failed: '${hostname}:${port}' failed because: ${hostname}/${addr} exception: java.net.ConnectException: Connection refused`,
          );
        case "pkix":
          return errorConnecting(
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
          );
        case "sasl":
          log.info(20, "MucClient$2.connected#321", "Connected.", ctx);
          log.info(20, `${task}#646`, "Logging in.", ctx);
          return log.warn(20, `${task}#660`, "Failed to login. Disconnecting to trigger a re-connect.", ctx, [
            `org.jivesoftware.smack.sasl.SASLErrorException: SASLError using SCRAM-SHA-1: ${e.detail}`,
          ]);
        case "host-unknown":
          return errorConnecting(
            "org.jivesoftware.smack.XMPPException$StreamErrorException: host-unknown You can read more about the meaning of this stream error at http://xmpp.org/rfcs/rfc6120.html#streams-error-conditions",
          );
        default:
          return errorConnecting(`java.io.EOFException: ${e.detail ?? "connection closed"}`);
      }
    },
    onSession: async (session) => {
      log.info(20, "MucClient$2.connected#321", "Connected.", ctx);
      log.info(20, `${task}#646`, "Logging in.", ctx);
      log.info(20, "MucClient$2.authenticated#327", "Authenticated, b=false", ctx);
      for (const room of mucs) {
        const r = await session.join(room, nick);
        if (r.ok) {
          log.info(35, "MucClient$MucWrapper.join#771", `Joined MUC: ${room.toLowerCase()}`, ctx);
        } else {
          log.warn(20, `${task}#671`, "Failed to join the MUCs.", ctx, [
            `org.jivesoftware.smack.XMPPException$XMPPErrorException: XMPP error reply received from ${room.toLowerCase()}: XMPPError: ${r.condition} - cancel`,
          ]);
        }
        // Real jvb prints this when the first conference gets media (paper, section XVII); the simulator
        // has no media and prints it once after its first join so the line's format is exercised.
        if (r.ok && !srtpLogged) {
          srtpLogged = true;
          log.info(71, "JitsiOpenSslProvider.<clinit>#52", "jitsisrtp successfully loaded for OpenSSL 3.0");
        }
      }
    },
    onClosed: (streamError) =>
      log.warn(21, "MucClient$2.connectionClosedOnError#341", "Closed on error:", ctx, [
        closedError(streamError).exception,
      ]),
  });
});

// Not a jvb feature: a status file for tests, which cannot wait for a log line that never comes.
{
  const file = inRoot(ROOT, "/var/run/jvb-simulator.json");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify({ pid: process.pid, xmppClients: configs.map(([id]) => id) })}\n`);
}

const stop = () => {
  for (const c of clients) c.stop();
  health.close();
};
for (const s of ["SIGTERM", "SIGINT"]) {
  process.on(s, () => {
    stop();
    process.exit(0);
  });
}
