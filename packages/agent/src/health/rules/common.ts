import type { LogComponent } from "@vmmeet/shared";
import { CATALOG_RULES } from "../catalogRules.js";
import type { Rule } from "./rule.js";

// What the components' rule tables (jicofo.ts, jvb.ts, prosody.ts, nginx.ts) share.

/**
 * A rule with the meaning of a catalog rule (catalogRules.json) and a regex of its own, for the few
 * messages that must be recognised even without their level (a line pasted without its prefix, an
 * INFO-level wording of older releases). Needles stay long: every needle costs the prefilter.
 */
export function fromCatalog(
  component: LogComponent,
  signal: string,
  needles: readonly string[],
  re: RegExp,
): Rule {
  const c = CATALOG_RULES[component].find((r) => r.signal === signal);
  if (c === undefined) throw new Error(`no catalog rule ${component}/${signal}`);
  return {
    signal,
    label: c.label,
    needles,
    re,
    explain: c.explain,
    ...(c.fix === undefined ? {} : { fix: c.fix }),
  };
}

/** The XMPP connection's state as jicofo and jvb print it (jicoco, Smack, older providers). */
export function xmppConnectionRules(who: "jicofo" | "jvb"): Rule[] {
  return [
    fromCatalog(
      who,
      "uncaught-exception",
      ["An uncaught exception occurred"],
      /An uncaught exception occurred/,
    ),
    fromCatalog(
      who,
      "xmpp-connection-lost",
      ["connection closed on error", "Closed on error:"],
      /[Cc]onnection closed on error|Closed on error:/,
    ),
    fromCatalog(
      who,
      "xmpp-reconnecting",
      ["will re-try after", "XMPP connection needs to reconnect", "Reconnecting in "],
      /will re-try after|the XMPP connection needs to reconnect|Reconnecting in \d/,
    ),
  ];
}

/** First jitsi-meet release where jicofo is no longer an XMPP component (docs/jitsi-config-notes.md §0). */
export const RELEASE_FOCUS_CLIENT_PROXY = 5765;

export const ROTATED: Rule = {
  signal: "logfile-turned-over",
  label: "info",
  needles: ["logfile turned over"],
  re: /logfile turned over/,
  // docs/openbsd-rc.md §4: newsyslog writes this line as the first line of the new file.
  explain: "newsyslog(8) rotated the log file; this is the first line of the new file.",
};

export type Who = "jicofo" | "jvb";

export const WHO = {
  jicofo: {
    user: "focus",
    confPath: "/etc/jicofo/jicofo.conf",
    conf: "/etc/jicofo/jicofo.conf (jicofo.xmpp.client.password)",
    inSh: "/etc/jicofo/jicofo.in.sh (JICOFO_TRUSTSTORE)",
  },
  jvb: {
    user: "jvb",
    confPath: "/etc/jvb/jvb.conf",
    conf: "/etc/jvb/jvb.conf (videobridge.apis.xmpp-client.configs.<id>.password)",
    inSh: "/etc/jvb/jvb.in.sh (JVB_TRUSTSTORE)",
  },
} as const;

export const TRUSTSTORE_FIX =
  "Import prosody's auth.DOMAIN certificate into the Java truststore jicofo and jvb use (/etc/ssl/jitsi.store " +
  "in the OpenBSD port): keytool -import -alias prosody -file auth.DOMAIN.crt -keystore STORE, or re-apply " +
  "the spec so vmmeet re-renders and reinstalls the truststore; then rcctl restart jicofo jvb. Do not edit " +
  "the JDK's lib/security/cacerts: a JDK upgrade forgets it (paper, section VIII.B).";

/** Rules for the XMPP client side of jicofo and jvb (smack / the old OSGi protocol provider). */
export function xmppClientRules(who: Who): Rule[] {
  const w = WHO[who];
  return [
    {
      signal: "truststore-rejected",
      label: "failed",
      needles: ["PKIX path building failed", "unable to find valid certification path"],
      re: /PKIX path building failed|unable to find valid certification path/,
      explain:
        `${who}'s JVM does not trust prosody's TLS certificate (PKIX path building failed): the truststore ` +
        `set in ${w.inSh} lacks the auth.DOMAIN certificate, so ${who} cannot log in.`,
      fix: TRUSTSTORE_FIX,
      covers: ["TLSUtils.getDefaultTruststoreStreamIfPossible"],
    },
    {
      signal: "xmpp-auth-failed",
      label: "failed",
      needles: ["SASLError using"],
      re: /SASLError using [\w-]+: ([\w-]+)/,
      explain:
        `prosody refused ${who}'s login as ${w.user}@auth.DOMAIN (SASL failure): the password differs from ` +
        `the account's, or the account was never registered.`,
      fix:
        `Make the password in ${w.conf} and prosody's account agree: prosodyctl register ${w.user} ` +
        `auth.DOMAIN PASSWORD (re-applying the spec does both), then rcctl restart ${who}.`,
      detail: 1,
    },
    {
      signal: "component-auth-failed",
      label: "failed",
      needles: ["ComponentException: not-authorized"],
      re: /ComponentException: not-authorized/,
      explain:
        `${who} runs as a legacy external XMPP component (port 5347) and prosody rejected its component ` +
        `secret.`,
      fix:
        `Use the same secret as component_secret in prosody.cfg.lua's Component block, or better leave ` +
        `component mode: jicofo since release ${RELEASE_FOCUS_CLIENT_PROXY} and jvb 2.x log in as users on ` +
        `auth.DOMAIN (the paper's pitfall: "no longer component!").`,
    },
    {
      signal: "xmpp-connection-refused",
      label: "failed",
      needles: ["Connection refused"],
      re: /(?:addresses failed: '([^']+)'[^\n]*?)?ConnectException: Connection refused/,
      explain:
        `${who} cannot open a TCP connection to prosody's client port (5222): prosody is not running, ` +
        `listens on another address, or pf on a VM blocks the connection.`,
      fix:
        `On the xmpp VM: rcctl check prosody and check it listens on an address ${who} reaches; check that ` +
        `the XMPP host name in ${w.confPath} resolves to the xmpp VM (/etc/hosts) and that pf passes ` +
        `tcp 5222. Start order is nginx, prosody, jicofo, jvb (paper, Pitfalls).`,
      detail: 1,
    },
    {
      signal: "xmpp-dns-unknown-host",
      label: "failed",
      needles: ["UnknownHostException"],
      re: /UnknownHostException(?:: ([\w.-]+))?/,
      explain: `${who} cannot resolve the XMPP server's host name.`,
      fix:
        "Add the xmpp VM's name to /etc/hosts on this VM (the paper lists web, xmpp, jicofo, jvb there) and use " +
        "host names, not IP addresses (paper, Pitfalls).",
      detail: 1,
    },
    {
      signal: "xmpp-domain-unknown",
      label: "failed",
      covers: ["AbstractXMPPConnection.onStreamOpen: does not match configured domain"],
      needles: ["host-unknown"],
      re: /host-unknown/,
      explain:
        `prosody has no VirtualHost for the XMPP domain ${who} asked for (stream error host-unknown): the ` +
        `paper's "host vs. virtualhost vs. domain" pitfall.`,
      fix:
        `Use auth.DOMAIN, the VirtualHost holding the ${w.user} account, as the XMPP domain in ` +
        `${w.confPath}, and the xmpp VM's host name as the host.`,
    },
    {
      signal: "xmpp-not-connected",
      label: "failed",
      needles: ["NotConnectedException", "Failed to send stanza"],
      re: /NotConnectedException|Failed to send stanza/,
      explain: `${who}'s XMPP connection to prosody is down and ${who} could not send a stanza.`,
      covers: [
        "MucClient.sendStanza",
        "MucClient$MucWrapper.*: Failed to send stanza",
        "MucClient*.setPresenceExtensions",
        "XmppProvider.discoverFeatures: not connected",
        "XmppProvider.discoverFeatures: no ServiceDiscoveryManager",
        "JvbDoctor$*.doHealthCheck: XMPP disconnected",
        "PingManager.pingServerIfNecessary",
      ],
      fix:
        `Check that prosody runs (rcctl check prosody) and look for an earlier connect, TLS or login error; ` +
        `rcctl restart ${who} once prosody is up.`,
    },
    {
      signal: "xmpp-connect-failed",
      label: "failed",
      needles: ["Failed to connect", "error connecting"],
      re: /Failed to connect\/login|OperationFailedException: Failed to connect|\berror connecting\b/,
      explain: `${who} could not connect or log in to prosody.`,
      covers: [
        "XmppProvider.doConnect",
        "XmppProviderImpl.doConnect",
        "MucClient.getConnectAndLoginCallable: Error connecting",
        "MucClient.start",
      ],
      fix:
        `Look at the cause on the following lines (TLS, password, refused connection); check that prosody ` +
        `runs on the xmpp VM and that ${w.confPath} names its host and auth.DOMAIN.`,
    },
  ];
}

export const JUL_HEADER: Rule = {
  // java.util.logging.SimpleFormatter's default format "%1$tb %1$td, %1$tY %1$tl:%1$tM:%1$tS %1$Tp %2$s%n
  // %4$s: %5$s%6$s%n": month name and AM/PM marker are localized, the comma-year shape is not.
  signal: "jul-simpleformatter-header",
  label: "info",
  needles: [", 20"],
  re: /(?:^|\s)[^\s\d,]{2,12} \d{1,2}, 20\d\d \d{1,2}:\d\d:\d\d(?: [^\s\d][^\s]{0,11})? [\w$.]+(?: [\w$<>]+)?\s*$/,
  explain:
    "First line of a two-line java.util.logging record (SimpleFormatter: no Jitsi logging.properties is " +
    "used); the next line holds the level and the message.",
  weak: true,
};
