// What the jicofo and jvb renderers share: both are Java daemons of the OpenBSD ports that log through
// syslog under their own program name, which the paper sends to /var/log/NAME with a syslog.conf block
// `!NAME` / `*.* /var/log/NAME` (sections X.B and XI.B); lines logged before that block exists (or by the
// rc script) land in /var/log/daemon with the program's tag. Both answer /about/health on a local port.
import { sh } from "./quote.js";
import type { ComponentRender } from "./types.js";

export function javaDaemonLogsAndProbe(
  name: "jicofo" | "jvb",
  healthPort: number,
): Pick<ComponentRender, "programLogs" | "logs" | "probes"> {
  const path = `/var/log/${name}`;
  return {
    programLogs: [
      { program: name, path, owner: "root", group: "wheel", mode: "0640", keep: 7, sizeKb: 1024 },
    ],
    logs: [
      { component: name, path },
      { component: name, path: "/var/log/daemon", tag: name },
    ],
    probes: [
      {
        component: name,
        service: name,
        http: `http://127.0.0.1:${healthPort}/about/health`,
        ports: [healthPort],
      },
    ],
  };
}

/**
 * The launcher variables jicofo.in.sh and jvb.in.sh (sourced by the ports' /usr/local/bin/jicofo and
 * /usr/local/bin/jvb) both read under their own prefix: config file, logging.properties, truststore and
 * its password, heap size and DH key size.
 */
export function javaLauncherVars(
  prefix: "JICOFO" | "JVB",
  v: { conf: string; logConfig: string; truststore: string; truststorePassword: string; maxMemory: string },
): string[] {
  return [
    `${prefix}_CONF=${sh(v.conf)}`,
    `${prefix}_LOG_CONFIG=${sh(v.logConfig)}`,
    `${prefix}_TRUSTSTORE=${sh(v.truststore)}`,
    `${prefix}_TRUSTSTORE_PASSWORD=${sh(v.truststorePassword)}`,
    `${prefix}_MAXMEM=${sh(v.maxMemory)}`,
    `${prefix}_DHKEYSIZE=2048`,
  ];
}

/**
 * The launchers' last line. No javax.net.ssl.trustStoreType: the truststore is PKCS#12, the default
 * keystore type since Java 9 (JEP 229), and the ports run Java 11 (MODJAVA_VER=11).
 */
export const NO_JAVA_SYS_PROPS = 'JAVA_SYS_PROPS=""';
