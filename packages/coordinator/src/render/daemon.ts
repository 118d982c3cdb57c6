// What the jicofo and jvb renderers share: both are Java daemons of the OpenBSD ports that log through
// syslog under their own program name, which the paper sends to /var/log/NAME with a syslog.conf block
// `!NAME` / `*.* /var/log/NAME` (sections X.B and XI.B); lines logged before that block exists (or by the
// rc script) land in /var/log/daemon with the program's tag. Both answer /about/health on a local port.
import type { FileEntryInput } from "@vmmeet/shared";
import { sh } from "./quote.js";
import type { ComponentRender } from "./types.js";

/**
 * The files of a Java daemon's VM, in order: `files` (its config, launcher environment, ...), then the
 * truststore. All are root:GROUP 0640 and restart the service when they change: the ports' rc scripts say
 * rc_reload=NO (docs/openbsd-rc.md section 3). The truststore holds only the deployment CA's certificate,
 * public material; its password lives in the launcher environment.
 */
export function javaDaemonFiles(
  daemon: { group: string; service: string; truststore: string; truststoreP12Base64: string },
  files: readonly { path: string; content: string; secret: boolean }[],
): FileEntryInput[] {
  const owner = { owner: "root", group: daemon.group } as const;
  const notify = [{ service: daemon.service, action: "restart" as const }];
  return [
    ...files.map((f) => ({
      path: f.path,
      content: f.content,
      mode: "0640",
      ...owner,
      secret: f.secret,
      notify,
    })),
    {
      path: daemon.truststore,
      content: daemon.truststoreP12Base64,
      encoding: "base64" as const,
      mode: "0640",
      ...owner,
      secret: false,
      notify,
    },
  ];
}

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
