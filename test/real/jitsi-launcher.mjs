#!/usr/bin/env node
// Launcher of the jicofo/jvb STAND-INS (jitsi-client.mjs), in the role of net/jitsi's jicofo.sh/jvb.sh: those
// read /etc/jicofo/jicofo.in.sh (or jvb.in.sh) and start the JVM with -Djavax.net.ssl.trustStore=<the
// rendered PKCS#12 truststore> and its password, so the JVM trusts the deployment CA and nothing else. Here
// the truststore is decoded with node-forge (readTruststore, an implementation independent of the
// coordinator's writer), its CA certificates written to one PEM file, and the stand-in started with
// `node --use-openssl-ca` and SSL_CERT_FILE/SSL_CERT_DIR pointing at that PEM and an empty directory, the
// Node equivalent (see xmpp-session.mjs). The launcher stays in the foreground as the process rc.d tracks
// (its command line is the rc.d script's daemon line) and passes rcctl's signals on.
//
// usage: jitsi-launcher.mjs --role jicofo|jvb --root DIR [stand-in flags, e.g. --host=DOMAIN]
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inRoot, parseArgs, parseKshEnv, readIfExists, readTruststore } from "../simulators/lib.mjs";

const args = parseArgs(process.argv.slice(2));
const role = args.role;
if ((role !== "jicofo" && role !== "jvb") || !args.root) {
  process.stderr.write("usage: jitsi-launcher.mjs --role jicofo|jvb --root DIR [flags]\n");
  process.exit(64);
}
const ROOT = path.resolve(args.root);
const PREFIX = role === "jicofo" ? "JICOFO" : "JVB";
const env = parseKshEnv(readIfExists(inRoot(ROOT, `/etc/${role}/${role}.in.sh`)) ?? "");
const storePath = env[`${PREFIX}_TRUSTSTORE`] || "/etc/ssl/jitsi.store";

const runDir = inRoot(ROOT, `/var/run/${role}-trust`);
fs.mkdirSync(path.join(runDir, "empty"), { recursive: true, mode: 0o700 });
const pemFile = path.join(runDir, "cas.pem");
let storeError = "";
let pems = [];
try {
  pems = await readTruststore(inRoot(ROOT, storePath), env[`${PREFIX}_TRUSTSTORE_PASSWORD`] ?? "");
} catch (e) {
  // As the JVM: a truststore that cannot be read leaves no CA trusted; the stand-in logs why.
  storeError =
    e.code === "ENOENT"
      ? `java.io.FileNotFoundException: ${storePath} (No such file or directory)`
      : e.code === "BADPASS"
        ? "java.io.IOException: keystore password was incorrect"
        : `java.io.IOException: ${e.message}`;
}
fs.writeFileSync(pemFile, pems.join(""), { mode: 0o600 });

const client = path.join(path.dirname(fileURLToPath(import.meta.url)), "jitsi-client.mjs");
const child = spawn(process.execPath, ["--use-openssl-ca", client, ...process.argv.slice(2)], {
  stdio: "inherit",
  env: {
    ...process.env,
    SSL_CERT_FILE: pemFile,
    SSL_CERT_DIR: path.join(runDir, "empty"),
    VMMEET_TRUSTSTORE: storePath,
    VMMEET_TRUSTSTORE_ERROR: storeError,
  },
});
for (const s of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(s, () => child.kill(s));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 : 1)));
