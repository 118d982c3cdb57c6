// What the jicofo and jvb renderers share: both are Java daemons of the OpenBSD ports that log through
// syslog under their own program name, which the paper sends to /var/log/NAME with a syslog.conf block
// `!NAME` / `*.* /var/log/NAME` (sections X.B and XI.B); lines logged before that block exists (or by the
// rc script) land in /var/log/daemon with the program's tag. Both answer /about/health on a local port.
import type { FileEntryInput } from "@vmmeet/shared";
import { HEADER } from "./header.js";
import { sh } from "./quote.js";
import type { ComponentRender, Secrets } from "./types.js";

/** A Java daemon of the ports (jicofo, jvb) as its files name it. */
export interface JavaDaemon {
  /** The prefix of its launcher variables (JICOFO_CONF, JVB_MAXMEM...). */
  prefix: "JICOFO" | "JVB";
  /** Its HOCON config file, the truststore it loads, the group of its files and its rc.d service. */
  conf: string;
  truststore: string;
  group: string;
  service: string;
}

/** A daemon from its port's facts (config file, group, service) and the truststore path it is given. */
export function javaDaemon(
  prefix: JavaDaemon["prefix"],
  port: { config: { value: string }; group: { value: string }; service: { value: string } },
  truststore: string,
): JavaDaemon {
  return {
    prefix,
    conf: port.config.value,
    truststore,
    group: port.group.value,
    service: port.service.value,
  };
}

/**
 * The files of a Java daemon's VM, in order: `files` (its config, launcher environment, ...), then the
 * truststore. All are root:GROUP 0640 and restart the service when they change: the ports' rc scripts say
 * rc_reload=NO (docs/openbsd-rc.md section 3). The truststore holds only the deployment CA's certificate,
 * public material; its password lives in the launcher environment.
 */
export function javaDaemonFiles(
  daemon: JavaDaemon,
  truststoreP12Base64: string,
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
      content: truststoreP12Base64,
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
 * The launcher environment, jicofo.in.sh or jvb.in.sh (sourced by the ports' /usr/local/bin/jicofo and
 * /usr/local/bin/jvb): the header, the variables both launchers read under their own prefix (config file,
 * logging.properties, truststore and its password, heap size, 3G unless the node says, and DH key size),
 * the daemon's own `extra` lines, and NO_JAVA_SYS_PROPS last.
 */
export function javaLauncherEnv(
  daemon: JavaDaemon,
  secrets: Pick<Secrets, "truststorePassword">,
  v: { logConfig: string; maxMemory: string | undefined },
  extra: readonly string[] = [],
): string {
  const prefix = daemon.prefix;
  const lines = [
    HEADER,
    `${prefix}_CONF=${sh(daemon.conf)}`,
    `${prefix}_LOG_CONFIG=${sh(v.logConfig)}`,
    `${prefix}_TRUSTSTORE=${sh(daemon.truststore)}`,
    `${prefix}_TRUSTSTORE_PASSWORD=${sh(secrets.truststorePassword)}`,
    `${prefix}_MAXMEM=${sh(v.maxMemory ?? "3G")}`,
    `${prefix}_DHKEYSIZE=2048`,
    ...extra,
    NO_JAVA_SYS_PROPS,
  ];
  return `${lines.join("\n")}\n`;
}

/**
 * The launchers' last line. No javax.net.ssl.trustStoreType: the truststore is PKCS#12, the default
 * keystore type since Java 9 (JEP 229), and the ports run Java 11 (MODJAVA_VER=11).
 */
const NO_JAVA_SYS_PROPS = 'JAVA_SYS_PROPS=""';
