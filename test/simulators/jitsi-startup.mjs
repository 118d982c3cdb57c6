// What jicofo and jvb read at start: their env file, the HOCON config it names and their truststore, with
// the JVM's words when one of them cannot be read.
import { parseHocon } from "./hocon.mjs";
import { parseKshEnv } from "./ksh-env.mjs";
import { readTruststore } from "./truststore.mjs";
import { inRoot, readIfExists } from "./vm.mjs";

/**
 * A Jitsi component's rendered env file (jicofo.in.sh, jvb.in.sh) and the HOCON config it names
 * (PREFIX_CONF, else `defaultConf`). A config that does not parse ends the process with the JVM's
 * ConfigException, logged from `where` (exit 1).
 */
export function loadJitsiConfig(root, log, { inSh, prefix, defaultConf, where }) {
  const env = parseKshEnv(readIfExists(inRoot(root, inSh)) ?? "");
  const confPath = env[`${prefix}_CONF`] || defaultConf;
  try {
    return { env, conf: parseHocon(readIfExists(inRoot(root, confPath)) ?? "") };
  } catch (e) {
    log.severe(1, where, "Failed to load the configuration:", undefined, [
      `com.typesafe.config.ConfigException$Parse: ${confPath}: ${e.message}`,
    ]);
    process.exit(1);
  }
}

/**
 * The CA certificates of the truststore the env file names (PREFIX_TRUSTSTORE, PREFIX_TRUSTSTORE_PASSWORD),
 * loaded once at start as the JVM does; one it cannot read is logged from `where` as Java words it and
 * leaves nothing trusted (every TLS login then fails).
 */
export async function loadJitsiTruststore(root, log, env, { prefix, where }) {
  const storePath = env[`${prefix}_TRUSTSTORE`] || "/etc/ssl/jitsi.store";
  try {
    return await readTruststore(inRoot(root, storePath), env[`${prefix}_TRUSTSTORE_PASSWORD`] ?? "");
  } catch (e) {
    const text =
      e.code === "ENOENT"
        ? `java.io.FileNotFoundException: ${storePath} (No such file or directory)`
        : e.code === "BADPASS"
          ? "java.io.IOException: keystore password was incorrect"
          : `java.io.IOException: ${e.message}`;
    log.severe(1, where, `Failed to load the truststore ${storePath}:`, undefined, [text]);
    return [];
  }
}
