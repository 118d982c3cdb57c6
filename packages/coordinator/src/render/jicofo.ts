// The jicofo VM: /etc/jicofo/jicofo.conf, the launcher environment /etc/jicofo/jicofo.in.sh, the Java
// truststore that lets jicofo verify prosody's auth.DOMAIN certificate, and the rc.d flags.
//
// Model: the paper's testing-config/jicofo.conf and jicofo.in.sh (double-p/presentations AsiaBSDCon/2023),
// adjusted by release as docs/jitsi-config-notes.md sections 4 and 5 describe. Deliberate differences from the
// paper are listed in test/render-jicofo-jvb.test.ts with their reasons.
import {
  breweryJid,
  hasChange,
  JICOFO,
  type NodeSpec,
  nodeByRole,
  releaseOf,
  type Spec,
} from "@vmmeet/shared";
import { javaDaemon, javaDaemonFiles, javaDaemonLogsAndProbe, javaLauncherEnv } from "./daemon.js";
import { HEADER } from "./header.js";
import { hocon } from "./quote.js";
import type { ComponentRenderer, RenderInput } from "./types.js";

export const JICOFO_CONF = JICOFO.config.value;
export const JICOFO_ENV = JICOFO.env.value;
export const JICOFO_TRUSTSTORE = JICOFO.truststore.value;
const JICOFO_DAEMON = javaDaemon("JICOFO", JICOFO, JICOFO_TRUSTSTORE);
/** jicofo's REST API (health, stats): jicofo.rest.port. */
export const JICOFO_REST_PORT = 8888;
/** The JVM takes well over the default 10 s to log in and join the brewery (the paper: "be really patient"). */
const JICOFO_GRACE_SECONDS = 90;

/** The directory of logging.properties moved in the OpenBSD port (docs/jitsi-config-notes.md section 5). */
export function jicofoLogConfig(release: number): string {
  // The paper's 2.0.7648 port installs it under share/jicofo/lib, the 2.0.9646 port under /etc/jicofo.
  // OpenBSD packaged no release in between, so everything before 9646 gets the old layout.
  return hasChange("portEtcLayout", release) ? JICOFO.logConfig.value : JICOFO.logConfigBefore9646.value;
}

/**
 * Where jicofo's REST server (health, metrics, conference requests) listens: every address when the spec
 * lets monitoring networks in (pf opens 8888 on the jicofo VM to them), loopback otherwise. Not the VM's
 * address alone: the agent's health probe asks on 127.0.0.1. Until 10314 jicofo's own default was every
 * address, from then on 127.0.0.1 (jicofo 486d8387a): rendered for every release, so pf and the listener
 * agree whatever the release's default.
 */
export function jicofoRestHost(spec: Spec): string {
  return spec.host.monitorNetworks.length > 0 ? "0.0.0.0" : "127.0.0.1";
}

export const renderJicofo: ComponentRenderer = (input, node) => {
  const { spec } = input;
  requireRole(spec, node, "jicofo");
  return {
    files: javaDaemonFiles(JICOFO_DAEMON, input.pki.truststoreP12Base64, [
      { path: JICOFO_CONF, content: jicofoConf(input), secret: true },
      { path: JICOFO_ENV, content: jicofoEnv(input, node), secret: true },
    ]),
    services: [
      {
        name: JICOFO.service.value,
        // Up to 7648 --host sets the XMPP domain and the connect host (it wins over jicofo.xmpp.client.hostname);
        // from 8044 on jicofo ignores its arguments, but the port's /usr/local/bin/jicofo still exits with a
        // usage text when given none (docs/openbsd-rc.md section 3), so the flag stays for every release.
        flags: `--host=${spec.domain}`,
        order: 20,
        graceSeconds: JICOFO_GRACE_SECONDS,
      },
    ],
    actions: [],
    // The paper's syslog.conf block `!jicofo` / `*.* /var/log/jicofo` (section X.B).
    ...javaDaemonLogsAndProbe("jicofo", JICOFO_REST_PORT),
  };
};

function jicofoConf({ spec, secrets }: RenderInput): string {
  const d = spec.domain;
  const xmpp = nodeByRole(spec, "xmpp");
  const release = releaseOf(spec, "jicofo");
  const q = hocon;
  const auth =
    spec.auth.mode === "internal"
      ? [
          // Users log in on the XMPP domain itself (prosody's DOMAIN VirtualHost becomes internal_hashed,
          // guests go to guest.DOMAIN); type XMPP makes jicofo accept a login proven by prosody.
          "    enabled = true",
          `    type = ${q("XMPP")}`,
          `    login-url = ${q(d)}`,
        ]
      : ["    enabled = false"];
  // Keys jicofo reads from jicofo.conf only from 8044 on (jicofo 2943c21f); before, --host supplied the
  // domain and the conference MUC was derived from it.
  const newXmpp = hasChange("jicofoXmppDomain", release)
    ? [
        `      xmpp-domain = ${q(d)}`,
        `      conference-muc-jid = ${q(`conference.${d}`)}`,
        // prosody's Component "focus.DOMAIN" "client_proxy" (docs/jitsi-config-notes.md section 3).
        `      client-proxy = ${q(`focus.${d}`)}`,
      ]
    : [];
  const lines = [
    HEADER,
    "jicofo {",
    "  authentication {",
    ...auth,
    `    authentication-lifetime = ${q("24 hours")}`,
    "    enable-auto-login = true",
    "  }",
    "  bridge {",
    "    health-checks {",
    "      enabled = true",
    `      interval = ${q("10 seconds")}`,
    "      use-presence = false",
    `      presence-timeout = ${q("45 seconds")}`,
    "    }",
    // The same string as every jvb's muc_jids (docs/jitsi-config-notes.md section 10).
    `    brewery-jid = ${q(breweryJid(spec))}`,
    // Bridges join the brewery over the client connection; no separate service connection is configured.
    `    xmpp-connection-name = ${q("Client")}`,
    "  }",
    "  conference {",
    "    enable-auto-owner = true",
    "  }",
    "  rest {",
    `    port = ${JICOFO_REST_PORT}`,
    `    host = ${q(jicofoRestHost(spec))}`,
    "    prometheus {",
    "      enabled = true",
    "    }",
    "  }",
    // SCTP is native code not built for OpenBSD; jicofo must agree with jvb or it offers SCTP data
    // channels no bridge can open (the paper, section XII.B: "not disabling sctp (jvb AND jicofo)").
    "  sctp {",
    "    enabled = false",
    "  }",
    "  xmpp {",
    "    client {",
    "      enabled = true",
    // The prosody VM's address: it needs no DNS. Up to 7648 --host (which must resolve through
    // /etc/hosts) wins over this key; certificate checks compare with the XMPP domain, not this host.
    `      hostname = ${q(xmpp.address)}`,
    "      port = 5222",
    `      domain = ${q(`auth.${d}`)}`,
    ...newXmpp,
    `      username = ${q("focus")}`,
    `      password = ${q(secrets.focusPassword)}`,
    // Verification stays on: the truststore (JICOFO_TRUSTSTORE) holds the CA that signed prosody's
    // auth.DOMAIN certificate.
    "      disable-certificate-verification = false",
    "      use-tls = true",
    "    }",
    "    service {",
    "      enabled = false",
    "    }",
    `    trusted-domains = [ ${q(`auth.${d}`)} ]`,
    "  }",
    "}",
  ];
  return `${lines.join("\n")}\n`;
}

function jicofoEnv({ spec, secrets }: RenderInput, node: NodeSpec): string {
  const logConfig = jicofoLogConfig(releaseOf(spec, "jicofo"));
  return javaLauncherEnv(JICOFO_DAEMON, secrets, { logConfig, maxMemory: node.jicofo?.maxMemory });
}

/** A renderer called for the wrong node is a bug in the caller, reported with the node's spec path. */
export function requireRole(spec: Spec, node: NodeSpec, role: NodeSpec["role"]): void {
  if (node.role === role) return;
  const i = spec.nodes.findIndex((n) => n.name === node.name);
  throw new Error(`nodes[${i}].role: the ${role} renderer was called for a ${node.role} node "${node.name}"`);
}
