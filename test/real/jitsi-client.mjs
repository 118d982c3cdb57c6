#!/usr/bin/env node
// STAND-INS for jicofo and jitsi-videobridge against Debian's REAL prosody: NOT jicofo or jvb (no
// conferences, no media, no Java), but REAL XMPP clients (xmpp-session.mjs). Each reads the rendered
// jicofo.conf / jvb.conf like the simulators of test/simulators do, logs in over STARTTLS with the rendered
// credentials, trusting only the rendered truststore's CAs (jitsi-launcher.mjs starts it that way), joins
// the brewery room, and logs in Jitsi's layout the lines the real programs print at those moments (the
// same lines as the simulators, so the agent's rules read them: "Registered as ...", "Added brewery
// instance: ROOM/NICK", "Failed to connect/login: SASLError using SCRAM-SHA-1: not-authorized", "Joined MUC:
// ..."). It serves /about/health on the VM's loopback (jicofo: 200 with a bridge in the brewery, 500
// without; jvb: 200). Started by jitsi-launcher.mjs, never directly.
//
// usage: jitsi-client.mjs --role jicofo|jvb --root DIR [--backoff-max-ms N] [--host=DOMAIN (jicofo)]
import path from "node:path";
import {
  getPath,
  healthServer,
  inRoot,
  jicofoBrewery,
  jitsiLogger,
  keepLoggedIn,
  parseArgs,
  parseHocon,
  parseKshEnv,
  readIfExists,
  resolveHost,
} from "../simulators/lib.mjs";
import { realXmppLogin } from "./xmpp-session.mjs";

const args = parseArgs(process.argv.slice(2));
const role = args.role;
if ((role !== "jicofo" && role !== "jvb") || !args.root) {
  process.stderr.write("usage: jitsi-client.mjs --role jicofo|jvb --root DIR [flags]\n");
  process.exit(64);
}
// The port's jicofo.sh exits with a usage text without --host (docs/openbsd-rc.md section 3).
if (role === "jicofo" && (!args.host || args.host === "true")) {
  process.stdout.write("usage: jicofo --host=HOST (must match virtualhost) [jitsi-client stand-in]\n");
  process.exit(1);
}
const ROOT = path.resolve(args.root);
const PREFIX = role === "jicofo" ? "JICOFO" : "JVB";
const log = jitsiLogger(role === "jicofo" ? "Jicofo" : "JVB");
const backoffMaxMs = Number(args["backoff-max-ms"] ?? 1000);

log.info(
  1,
  role === "jicofo" ? "JicofoKt.main#52" : "MainKt.main#75",
  role === "jicofo"
    ? `Starting Jicofo (jitsi-client: a real XMPP client standing in for jicofo) for ${args.host}`
    : "Starting jitsi-videobridge version 2.0.9646 (jitsi-client: a real XMPP client standing in for jvb)",
);

const env = parseKshEnv(readIfExists(inRoot(ROOT, `/etc/${role}/${role}.in.sh`)) ?? "");
const confPath = env[`${PREFIX}_CONF`] || `/etc/${role}/${role}.conf`;
let conf;
try {
  conf = parseHocon(readIfExists(inRoot(ROOT, confPath)) ?? "");
} catch (e) {
  log.severe(1, "main", "Failed to load the configuration:", undefined, [
    `com.typesafe.config.ConfigException$Parse: ${confPath}: ${e.message}`,
  ]);
  process.exit(1);
}
if (process.env.VMMEET_TRUSTSTORE_ERROR) {
  log.severe(1, "main", `Failed to load the truststore ${process.env.VMMEET_TRUSTSTORE}:`, undefined, [
    process.env.VMMEET_TRUSTSTORE_ERROR,
  ]);
}

/** One login kept up: resolve through the VM's /etc/hosts, log in, report failures as smack words them. */
function keepClient({ hostname, port, domain, username, password, failed, onSession, onClosed }) {
  return keepLoggedIn({
    backoffMaxMs,
    login: () => {
      const address = resolveHost(ROOT, hostname);
      if (address === undefined) return Promise.reject(Object.assign(new Error(), { kind: "unknown-host" }));
      return realXmppLogin({ address, port, domain, username, password });
    },
    onFailure: (e) => {
      const addr = resolveHost(ROOT, hostname) ?? hostname;
      switch (e.kind) {
        case "unknown-host":
          return failed(`java.net.UnknownHostException: ${hostname}`);
        case "refused":
          return failed(
            `org.jivesoftware.smack.SmackException$ConnectionException: The following addresses failed: '${hostname}:${port}' failed because: ${hostname}/${addr} exception: java.net.ConnectException: Connection refused`,
          );
        case "pkix":
          return failed(
            "javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target",
          );
        case "sasl":
          return failed(
            `org.jivesoftware.smack.sasl.SASLErrorException: SASLError using SCRAM-SHA-1: ${e.detail}`,
          );
        case "host-unknown":
          return failed("org.jivesoftware.smack.XMPPException$StreamErrorException: host-unknown");
        default:
          return failed(`java.io.EOFException: ${e.detail ?? "connection closed"}`);
      }
    },
    onSession,
    onClosed,
  });
}

const stops = [];

if (role === "jicofo") {
  const client = getPath(conf, "jicofo.xmpp.client") ?? {};
  const jb = jicofoBrewery(log, conf);
  const brewery = jb.brewery;
  const restPort = Number(getPath(conf, "jicofo.rest.port") ?? 8888);
  const username = String(client.username ?? "focus");
  const ctx = "[xmpp_connection=client]";
  const health = await healthServer({
    port: restPort,
    healthy: jb.healthy,
    onRequest: jb.onHealthRequest,
    publishAs: restPort,
    netDir: ROOT,
    addresses: [],
  });
  stops.push(() => health.close());
  log.info(
    33,
    "io.ktor.server.engine.EmbeddedServer$start$3.invokeSuspend",
    `Responding at http://0.0.0.0:${restPort}`,
  );
  if (client.enabled !== false) {
    const session = keepClient({
      hostname: String(client.hostname ?? "localhost"),
      port: Number(client.port ?? 5222),
      domain: String(client.domain ?? client.hostname),
      username,
      password: String(client.password ?? ""),
      failed: (text) => log.severe(27, "XmppProvider.doConnect#245", `Failed to connect/login: ${text}`, ctx),
      onSession: async (s) => {
        log.info(25, "XmppProvider$connectionListener$1.authenticated#140", `Registered as ${s.jid}`, ctx);
        s.on("presence", (room, nick, available) => {
          if (nick !== username) jb.presence(room, nick, available);
        });
        if (brewery === "") return;
        jb.joined(await s.join(brewery, username));
      },
      onClosed: () => jb.closed(ctx),
    });
    stops.push(() => session.stop());
  }
} else {
  const privatePort = Number(getPath(conf, "videobridge.http-servers.private.port") ?? 8080);
  const health = await healthServer({
    port: privatePort,
    healthy: () => ({ ok: true }),
    publishAs: privatePort,
    netDir: ROOT,
    addresses: [],
  });
  stops.push(() => health.close());
  log.info(1, "MainKt.main#147", "Starting private http server");
  log.info(
    1,
    "org.eclipse.jetty.server.AbstractConnector.doStart",
    `Started ServerConnector@51e0301d{HTTP/1.1, (http/1.1)}{127.0.0.1:${privatePort}}`,
  );
  // A config missing one of these is dropped without a word (XmppClientConnectionConfig.kt's isComplete).
  const configs = Object.entries(getPath(conf, "videobridge.apis.xmpp-client.configs") ?? {}).filter(
    ([, c]) =>
      c &&
      typeof c === "object" &&
      ["hostname", "username", "password", "muc_jids", "muc_nickname"].every(
        (k) => c[k] !== undefined && c[k] !== "",
      ),
  );
  for (const [id, c] of configs) {
    const hostname = String(c.hostname);
    const ctx = `[hostname=${hostname} id=${id}]`;
    const mucs = (Array.isArray(c.muc_jids) ? c.muc_jids : String(c.muc_jids).split(","))
      .map((s) => String(s).trim())
      .filter(Boolean);
    const where = "MucClient.lambda$getConnectAndLoginCallable$7#673";
    const session = keepClient({
      hostname,
      port: Number(c.port ?? 5222),
      domain: String(c.domain ?? hostname),
      username: String(c.username),
      password: String(c.password),
      failed: (exception) =>
        log.warn(20, where, `[MucClient id=${id} hostname=${hostname}] error connecting`, ctx, [exception]),
      onSession: async (s) => {
        log.info(
          20,
          "MucClient.initializeConnectAndJoin#400",
          `[MucClient id=${id} hostname=${hostname}] Logged in as ${s.jid}`,
          ctx,
        );
        for (const room of mucs) {
          const r = await s.join(room, String(c.muc_nickname));
          if (r.ok) log.info(35, "MucClient$MucWrapper.join#825", `Joined MUC: ${room.toLowerCase()}`, ctx);
          else
            log.severe(
              35,
              "MucClient$MucWrapper.join#830",
              `Failed to join MUC ${room.toLowerCase()}:`,
              ctx,
              [
                `org.jivesoftware.smack.XMPPException$XMPPErrorException: XMPP error reply received from ${room.toLowerCase()}: XMPPError: ${r.condition} - cancel`,
              ],
            );
        }
      },
      onClosed: () =>
        log.warn(
          21,
          "MucClient$2.connectionClosedOnError#293",
          `[MucClient id=${id} hostname=${hostname}] Closed on error:`,
          ctx,
          ["java.net.SocketException: Connection reset"],
        ),
    });
    stops.push(() => session.stop());
  }
}

// rc.subr's stop: close the XMPP streams (prosody then logs a normal disconnect of a logged-in session) and
// the health port, and exit when nothing is left; a stream that does not close in time is cut.
for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(s, () => {
    for (const stop of stops) stop();
    setTimeout(() => process.exit(0), 3000).unref();
  });
}
