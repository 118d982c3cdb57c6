import type { HealthLabel, LogComponent } from "@vmmeet/shared";
import tables from "./catalogRules.json" with { type: "json" };

/**
 * Rules matched through the components' own log statements (catalog.gen.json) instead of a regex of
 * their own: a line with a level of warning or higher whose message template, or whose Class.method,
 * is one of `covers` gets this rule's signal. Selectors: "[E |W ]Where[: template text]" (see
 * catalog.ts parseSelector). Rules in rules.ts may cover entries too (their `covers`); those claim
 * first. Entries no rule claims and that need none are in NO_RULE with the reason.
 *
 * The tables are data, catalogRules.json: per component its rules in order, where { "uses": "xmpp" }
 * stands for the XMPP client rules jicofo and jvb share and { "uses": "uncaught", "main": Class.method }
 * for the uncaught-exception rule of that main class (both below, written for either component); and
 * NO_RULE's entries ("noRule").
 *
 * A signal marked "heals on reconnect" is expected while prosody (or the bridge) restarts and clears
 * when the XMPP connection comes back.
 */
export interface CatalogRule {
  readonly signal: string;
  readonly label: HealthLabel;
  readonly explain: string;
  readonly fix?: string;
  readonly covers: readonly string[];
}

type Who = "jicofo" | "jvb";

/** The XMPP client side (jicoco's MucClient, Smack), shared by jicofo and jvb. */
function xmppRules(who: Who): CatalogRule[] {
  return [
    {
      // heals on reconnect
      signal: "xmpp-connection-lost",
      label: "failed",
      explain: `${who}'s XMPP connection to prosody closed on an error; ${who} reconnects by itself.`,
      fix: `If it does not come back: rcctl check prosody on the xmpp VM, then rcctl restart ${who}.`,
      covers: [
        "XmppProvider.connectionClosedOnError",
        "XmppProviderImpl$XmppConnectionListener.connectionClosedOnError",
        "MucClient.connectionClosedOnError",
        "AbstractXMPPConnection.callConnectionClosedOnErrorListener: closed with error",
      ],
    },
    {
      // heals on reconnect
      signal: "xmpp-reconnecting",
      label: "degraded",
      explain: `${who} lost or could not open its XMPP connection and is retrying.`,
      fix: `Expected while prosody restarts. If it repeats: rcctl check prosody, and ${who}'s earlier connect or login error.`,
      covers: [
        "XmppProvider.scheduleConnectTask",
        "MucClient$PingFailedListenerImpl.pingFailed",
        "MucClient.getConnectAndLoginCallable: Disconnecting to trigger a re-connect",
      ],
    },
    {
      signal: "xmpp-reconnect-failed",
      label: "failed",
      explain: `${who} gave up one attempt to reconnect to prosody.`,
      fix: `Check prosody runs (rcctl check prosody) and that ${who} can reach its c2s port 5222; rcctl restart ${who}.`,
      covers: [
        "XmppProvider.reconnectionFailed",
        "XmppProviderImpl$XmppReConnectionListener.reconnectionFailed",
        "MucClient.reconnectionFailed",
      ],
    },
    {
      signal: "xmpp-tls-verification-disabled",
      label: "degraded",
      explain: `${who} was told not to verify prosody's TLS certificate (or to use no TLS): it works, but anyone on the path can impersonate prosody.`,
      fix: "Put prosody's auth.DOMAIN certificate into the truststore and turn verification back on (vmmeet renders it on).",
      covers: [
        "XmppProviderKt.createXmppConnection: Disabling TLS certificate verification",
        "XmppProviderImpl.createXmppConnection: Disabling TLS certificate verification",
        "MucClient.createXMPPTCPConnectionConfiguration: Disabling certificate verification",
        "MucClient.createXMPPTCPConnectionConfiguration: XMPP security is disabled",
      ],
    },
    {
      signal: "xmpp-tls-warning",
      label: "degraded",
      explain: `Smack could not fully check prosody's TLS certificate or set up ${who}'s truststore.`,
      fix: "Use the host name that prosody's certificate names as the XMPP host, and a JKS truststore.",
      covers: [
        "XmppHostnameVerifier.*",
        "TLSUtils.setDefaultTrustStoreTypeToJksIfRequired",
        "XMPPTCPConnection.proceedTLSReceived",
      ],
    },
    {
      signal: "xmpp-config-invalid",
      label: "failed",
      explain: `${who}'s XMPP client settings are incomplete or invalid (domain, client id), so that connection is not made.`,
      fix: `Check the XMPP settings of ${who === "jicofo" ? "/etc/jicofo/jicofo.conf" : "/etc/jvb/jvb.conf"} (re-apply the spec).`,
      covers: [
        "MucClient.createXMPPTCPConnectionConfiguration: Failed to parse domain",
        "MucClientConfiguration.loadFromMap",
        "MucClientManager.addMucClient",
        "AbstractXMPPConnection.onStreamOpen: could not be transformed",
      ],
    },
    {
      signal: "xmpp-sasl-unavailable",
      label: "failed",
      explain: `prosody offered ${who} no SASL mechanism it can use, so ${who} cannot log in.`,
      fix: "Check prosody's authentication setting for auth.DOMAIN (internal_hashed) and that c2s is encrypted.",
      covers: ["SASLAuthentication.selectMechanism", "SASLError.fromString"],
    },
    {
      signal: "xmpp-internal-error",
      label: "degraded",
      explain: `A handler inside ${who}'s XMPP client failed on one stanza; the connection stays up.`,
      fix: `If it repeats, look at the stack trace after it and at ${who}'s release notes; restart ${who}.`,
      covers: [
        "AbstractXMPPConnection.run",
        "AbstractXMPPConnection.firePacketInterceptors",
        "AbstractXMPPConnection.parseAndProcessNonza",
        "AbstractXMPPConnection.invokeStanzaCollectorsAndNotifyRecvListeners",
        "AbstractXMPPConnection.callConnectionAuthenticatedListener",
        "AbstractXMPPConnection.callConnectionClosedListener",
        "AbstractXMPPConnection.callConnectionClosedOnErrorListener: Error in listener",
        "SmackReactor$Reactor.handleScheduledActionsOrPerformSelect",
        "MucClient.handleIq",
        "RetryStrategy$TaskRunner.run",
        "RefreshingProperty.getValue",
      ],
    },
    {
      signal: "known-harmless",
      label: "info",
      explain:
        "A warning the XMPP client prints during normal operation or shutdown (thread hand-off, stream " +
        "close, optional features such as compression or DNS SRV lookups through JNDI, a second " +
        "leave of a MUC): nothing to do.",
      covers: [
        "AbstractXMPPConnection.asyncGoLimited",
        "XMPPTCPConnection$PacketWriter.*",
        "XMPPTCPConnection$PacketReader.*",
        "XMPPTCPConnection.maybeEnableCompression",
        "XMPPTCPConnection.shutdown",
        "XmppTcpTransportModule$TlsState.output",
        "ModularXmppClientToServerConnection$ShutdownState.transitionInto",
        "FailureProvider.parse",
        "StateDescriptorGraph.*",
        "SmackInitialization.*",
        "JavaxResolver.<clinit>",
        "MucClient$MucWrapper.leave",
        "MucClient.stop",
        "MucClient$PingFailedListenerImpl.pingFailed: Exception while disconnecting",
      ],
    },
  ];
}

/** An exception no handler caught (the main class installs a default handler that logs it). */
function uncaught(who: Who, main: string): CatalogRule {
  return {
    signal: "uncaught-exception",
    label: "failed",
    explain: `${who} hit an exception nothing handled; the thread it ran in is gone.`,
    fix: `Read the stack trace after the line; rcctl restart ${who}, and report it upstream if it repeats.`,
    covers: [`${main}: An uncaught exception`, "AbstractXMPPConnection.uncaughtException"],
  };
}

/** An entry of a table in catalogRules.json: a rule, or the place of the rules jicofo and jvb share. */
type TableEntry =
  | CatalogRule
  | { readonly uses: "xmpp" }
  | { readonly uses: "uncaught"; readonly main: string };

/** catalogRules.json as this module reads it (catalog.test.ts checks its labels and selectors). */
const TABLES = tables as unknown as {
  readonly rules: Readonly<Record<LogComponent, readonly TableEntry[]>>;
  readonly noRule: Readonly<Record<LogComponent, readonly { covers: readonly string[]; why: string }[]>>;
};

/** A component's table with the shared rules put in their places. */
function tableOf(component: LogComponent): CatalogRule[] {
  return TABLES.rules[component].flatMap((entry) => {
    if (!("uses" in entry)) return [entry];
    if (component !== "jicofo" && component !== "jvb")
      throw new Error(
        `catalogRules.json: rules.${component} uses "${entry.uses}", which only jicofo and jvb have`,
      );
    return entry.uses === "xmpp" ? xmppRules(component) : [uncaught(component, entry.main)];
  });
}

export const CATALOG_RULES: Readonly<Record<LogComponent, readonly CatalogRule[]>> = {
  jicofo: tableOf("jicofo"),
  jvb: tableOf("jvb"),
  prosody: tableOf("prosody"),
  nginx: tableOf("nginx"),
};

/**
 * Catalog entries of the deployment paths that need no rule of their own, with the reason. The
 * classifier still reports each as an unrecognised warning or error by its level.
 */
export const NO_RULE = TABLES.noRule;
