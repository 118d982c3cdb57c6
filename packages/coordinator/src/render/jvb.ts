// A jvb VM (one call per bridge): /etc/jvb/jvb.conf, the launcher environment /etc/jvb/jvb.in.sh,
// /etc/jvb/sip-communicator.properties, the Java truststore, and the rc.d entry.
//
// Model: the paper's testing-config/jvb.conf, jvb.in.sh and the three properties of its "videobridge"
// section (double-p/presentations AsiaBSDCon/2023), adjusted by release as docs/jitsi-config-notes.md sections 6-8
// describe. Deliberate differences from the paper are listed in test/render-jicofo-jvb.test.ts.
import {
  breweryJid,
  hasChange,
  JVB,
  jvbNickname,
  jvbUdpPort,
  type NodeSpec,
  nodeByRole,
  RELEASES,
  releaseOf,
  type Spec,
} from "@vmmeet/shared";
import { javaDaemon, javaDaemonFiles, javaDaemonLogsAndProbe, javaLauncherEnv } from "./daemon.js";
import { HEADER } from "./header.js";
import { requireRole } from "./jicofo.js";
import { hocon, prop } from "./quote.js";
import type { ComponentRenderer, RenderInput } from "./types.js";
import { JVB_PUBLIC_HTTP_PORT } from "./web.js";

export const JVB_CONF = JVB.config.value;
export const JVB_ENV = JVB.env.value;
export const JVB_PROPERTIES = JVB.properties.value;
export const JVB_TRUSTSTORE = "/etc/ssl/jvb-key.store";
const JVB_DAEMON = javaDaemon("JVB", JVB, JVB_TRUSTSTORE);
/** jvb's private HTTP server (colibri REST, /about/health): videobridge.http-servers.private.port default. */
export const JVB_PRIVATE_HTTP_PORT = 8080;
/** The MUC client id under videobridge.apis.xmpp-client.configs, as in the paper and the OpenBSD port. */
export const JVB_MUC_CONFIG_ID = "ourprosody";
const JVB_GRACE_SECONDS = 90;

/**
 * Which mechanism tells ice4j the bridge's public address.
 *
 * ice4j reads both the legacy properties (org.ice4j.ice.harvest.NAT_HARVESTER_*, copied from
 * sip-communicator.properties into system properties by jvb's Main) and ice4j.harvest.mapping.* in
 * jvb.conf (docs/jitsi-config-notes.md section 7). The kebab-case static-mappings keys only settled with ice4j#230
 * (early 2021 builds read localAddress/publicAddress), and the paper's 7648 bridge is proven with the
 * properties, so up to the paper's release we render the paper's mechanism. Later releases get the
 * modern jvb.conf keys that docker-jitsi-meet switched to (76a16a8b) and that the OpenBSD 9646 port
 * expects (its sip-communicator.properties ships the NAT lines commented out).
 */
export function natInJvbConf(release: number): boolean {
  return release > RELEASES.paper;
}

/** The directory of logging.properties moved in the OpenBSD port (docs/jitsi-config-notes.md sections 5 and 8). */
export function jvbLogConfig(release: number): string {
  return hasChange("portEtcLayout", release) ? JVB.logConfig.value : JVB.logConfigBefore9646.value;
}

/**
 * Where jvb's private HTTP server (colibri REST, /about/health, /metrics on 8080) listens. Its default is
 * 127.0.0.1 in every release OpenBSD packaged (jitsi-videobridge 01bde0705, jicoco's http-servers
 * defaults), so the pf rule that lets the monitoring networks reach 8080 opened a port nothing listened
 * on: with monitorNetworks it listens on every address (pf lets only those networks in; the VM's address
 * alone would break the agent's health probe on 127.0.0.1), otherwise on loopback, said explicitly.
 */
export function jvbPrivateHost(spec: Spec): string {
  return spec.host.monitorNetworks.length > 0 ? "0.0.0.0" : "127.0.0.1";
}

export const renderJvb: ComponentRenderer = (input, node) => {
  requireRole(input.spec, node, "jvb");
  return {
    files: javaDaemonFiles(JVB_DAEMON, input.pki.truststoreP12Base64, [
      { path: JVB_CONF, content: jvbConf(input, node), secret: true },
      { path: JVB_ENV, content: jvbEnv(input, node), secret: true },
      { path: JVB_PROPERTIES, content: jvbProperties(input, node), secret: false },
    ]),
    // jvb needs no flags (docs/openbsd-rc.md section 3).
    services: [
      { name: JVB.service.value, flags: JVB.flags.value, order: 20, graceSeconds: JVB_GRACE_SECONDS },
    ],
    actions: [],
    // The paper's syslog.conf block `!jvb` / `*.* /var/log/jvb` (section XI.B).
    ...javaDaemonLogsAndProbe("jvb", JVB_PRIVATE_HTTP_PORT),
  };
};

function jvbConf({ spec, secrets }: RenderInput, node: NodeSpec): string {
  const d = spec.domain;
  const q = hocon;
  const release = releaseOf(spec, "jvb");
  const xmpp = nodeByRole(spec, "xmpp");
  const nickname = jvbNickname(node);
  const mapping = natInJvbConf(release)
    ? [
        "    mapping {",
        // The paper's DISABLE_AWS_HARVESTER=true: the bridge is no EC2 instance; the probe only delays start.
        "      aws {",
        "        enabled = false",
        "      }",
        // The VM's address on vmd's local interface, NATed by the VMM host to the public address.
        "      static-mappings = [",
        "        {",
        `          local-address = ${q(node.address)}`,
        `          public-address = ${q(spec.publicAddress)}`,
        "        }",
        "      ]",
        "    }",
      ]
    : [];
  // videobridge.ice.tcp was removed in 9646 (jvb 89dde6ea); earlier bridges default it to enabled on 443.
  const iceTcp = !hasChange("jvbNoIceTcp", release)
    ? ["    tcp {", "      enabled = false", "      port = 443", "    }"]
    : [];
  const websockets =
    spec.bridgeChannel === "colibri-websocket"
      ? [
          // With SCTP off, colibri websockets (through nginx's /colibri-ws/SERVER-ID/) are the only bridge
          // channel (docs/jitsi-config-notes.md section 6).
          "  websockets {",
          "    enabled = true",
          // websockets.domains (a list) exists from 8319 (jvb e3a2ae20); before, only the string `domain`.
          hasChange("jvbWebsocketDomains", release) ? `    domains = [ ${q(d)} ]` : `    domain = ${q(d)}`,
          "    tls = true",
          `    server-id = ${q(nickname)}`,
          "  }",
        ]
      : [];
  const httpServers = [
    "  http-servers {",
    "    private {",
    `      host = ${q(jvbPrivateHost(spec))}`,
    "    }",
    ...(spec.bridgeChannel === "colibri-websocket"
      ? ["    public {", `      port = ${JVB_PUBLIC_HTTP_PORT}`, "    }"]
      : []),
    "  }",
  ];
  const lines = [
    HEADER,
    "ice4j {",
    "  harvest {",
    "    use-link-local-addresses = false",
    ...mapping,
    "  }",
    "}",
    "videobridge {",
    "  apis {",
    "    xmpp-client {",
    // jicofo uses a bridge only after its first presence in the brewery (the paper: "patience").
    `      presence-interval = ${q("120s")}`,
    "      configs {",
    // jvb silently drops a config missing any of hostname, username, password, muc_jids, muc_nickname
    // (XmppClientConnectionConfig.kt `.filter { it.isComplete }`, docs/jitsi-config-notes.md section 6): all five
    // are always rendered. Keys are snake_case (matched case-insensitively; kebab-case is not read).
    `        ${JVB_MUC_CONFIG_ID} {`,
    // The prosody VM's address: no DNS needed. Certificate checks compare with the XMPP domain.
    `          hostname = ${q(xmpp.address)}`,
    `          domain = ${q(`auth.${d}`)}`,
    `          username = ${q("jvb")}`,
    `          password = ${q(secrets.jvbPassword)}`,
    // A string, comma-separated when there are several: a HOCON list would be stringified as "[a, b]".
    `          muc_jids = ${q(breweryJid(spec))}`,
    `          muc_nickname = ${q(nickname)}`,
    // The paper sets true; vmmeet's truststore holds the CA that signed prosody's auth.DOMAIN certificate.
    "          disable_certificate_verification = false",
    "        }",
    "      }",
    "    }",
    "  }",
    // SCTP is native code not built for OpenBSD; jicofo.sctp.enabled is false as well.
    "  sctp {",
    "    enabled = false",
    "  }",
    "  ice {",
    ...iceTcp,
    "    udp {",
    `      port = ${jvbUdpPort(node)}`,
    "    }",
    "  }",
    ...websockets,
    ...httpServers,
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

function jvbEnv({ spec, secrets }: RenderInput, node: NodeSpec): string {
  const logConfig = jvbLogConfig(releaseOf(spec, "jvb"));
  return javaLauncherEnv(JVB_DAEMON, secrets, { logConfig, maxMemory: node.jvb?.maxMemory }, [
    "JVB_GC_TYPE=G1GC",
    // Where jvb reads sip-communicator.properties: /etc/jvb (the launcher's SC_HOME_DIR_* properties).
    `JVB_SC_HOME_LOCATION=${JVB.scHomeLocation.value}`,
    `JVB_SC_HOME_NAME=${JVB.scHomeName.value}`,
  ]);
}

// Rendered for every release so that exactly one NAT mechanism is active: for releases that take the
// mapping from jvb.conf the file holds no property at all, which also replaces NAT lines left by an
// earlier (paper-release) rendering and any legacy org.jitsi.videobridge.xmpp.user.* keys, which would
// take precedence over jvb.conf (docs/jitsi-config-notes.md section 6, jitsi-videobridge#1142).
function jvbProperties({ spec }: RenderInput, node: NodeSpec): string {
  const lines = [HEADER];
  if (natInJvbConf(releaseOf(spec, "jvb"))) {
    lines.push("# NAT mapping and AWS harvester: ice4j.harvest.mapping in jvb.conf");
  } else {
    // One property per line, no continuation and no trailing blank (Properties.load keeps "true ").
    lines.push(
      `org.ice4j.ice.harvest.NAT_HARVESTER_LOCAL_ADDRESS=${prop(node.address)}`,
      `org.ice4j.ice.harvest.NAT_HARVESTER_PUBLIC_ADDRESS=${prop(spec.publicAddress)}`,
      "org.ice4j.ice.harvest.DISABLE_AWS_HARVESTER=true",
    );
  }
  return `${lines.join("\n")}\n`;
}
