// How long a component's problem counts and what ends it early: the window a failed or degraded signal
// counts for, the later healthy signals that show it is over, and jicofo's "no bridge in the brewery".
// assess.ts applies them; heal/remedies.ts waits for the same cures after prosody went away.
import type { LogComponent } from "@vmmeet/shared";

/** How long a failed or degraded signal counts after it was seen (default for every signal). */
export const DEFAULT_SIGNAL_WINDOW_MS = 10 * 60_000;
/**
 * Shorter windows. nginx logs an upstream error per proxied request and never logs a success to cure it;
 * browsers poll BOSH continuously, so an upstream that is still down is logged again within seconds.
 */
export const DEFAULT_WINDOWS_MS: Readonly<Record<string, number>> = Object.fromEntries(
  ["bosh", "websocket", "colibri-ws"].flatMap((p) =>
    ["upstream-connect-failed", "upstream-timeout", "upstream-error", "http-5xx"].map((s) => [
      `${p}-${s}`,
      60_000,
    ]),
  ),
);

/**
 * Which later healthy signals show that a problem is over, per component. A problem not listed here ends
 * only when its window runs out or the service restarts. Names are the classifier's (rules.ts); a test
 * checks they exist there.
 */
const XMPP_CLIENT_PROBLEMS = [
  "truststore-rejected",
  "xmpp-auth-failed",
  "component-auth-failed",
  "xmpp-connection-refused",
  "xmpp-dns-unknown-host",
  "xmpp-domain-unknown",
  "xmpp-not-connected",
  "xmpp-connect-failed",
  // The connection lost and retried while prosody restarts (catalogRules.ts xmppRules: "heals on reconnect").
  "xmpp-connection-lost",
  "xmpp-reconnecting",
  "xmpp-reconnect-failed",
];
const JICOFO_IN_MUC = ["brewery-room-joined", "brewery-instance-added", "bridge-added"];
const JICOFO_HAS_BRIDGE = ["brewery-instance-added", "bridge-added"];
const PROSODY_LOGIN = ["c2s-authenticated-focus", "c2s-authenticated-jvb"];

function table(entries: [readonly string[], readonly string[]][]): ReadonlyMap<string, readonly string[]> {
  const m = new Map<string, readonly string[]>();
  for (const [problems, cures] of entries) for (const p of problems) m.set(p, cures);
  return m;
}

export const RESOLVED_BY: Readonly<Record<LogComponent, ReadonlyMap<string, readonly string[]>>> = {
  jicofo: table([
    [XMPP_CLIENT_PROBLEMS, JICOFO_IN_MUC],
    [["brewery-join-failed"], JICOFO_IN_MUC],
    [
      [
        "bridge-health-failed",
        "jicofo-health-failed",
        "no-operational-bridges",
        "bridge-selection-failed",
        "no-bridge-available",
        "brewery-instance-removed",
        "bridge-removed",
        "colibri-participant-missing",
      ],
      JICOFO_HAS_BRIDGE,
    ],
  ]),
  jvb: table([
    [[...XMPP_CLIENT_PROBLEMS, "brewery-muc-join-failed"], ["brewery-muc-joined"]],
    [["health-check-failed"], ["health-check-ok"]],
    [["port-bind-retry"], ["udp-harvester-bound"]],
  ]),
  // prosody cannot tell which client failed: any later login of focus or jvb counts (a client that keeps
  // failing logs its failure again at its next attempt).
  prosody: table([
    [["truststore-rejected", "c2s-tls-handshake-failed", "c2s-auth-failed-disconnect"], PROSODY_LOGIN],
    [["component-auth-failed", "component-not-connected"], ["component-authenticated"]],
  ]),
  nginx: table([]),
};

/** The synthetic signal that carries jicofo's brewery (detail: "N: jid, jid"); not a log rule. */
export const BREWERY_SIGNAL = "brewery-bridges";

export const NO_BRIDGE_EXPLAIN = "jicofo has no bridge in the brewery";
export const NO_BRIDGE_FIX =
  "Check that jvb runs (rcctl check jvb on the jvb VM) and logs in as jvb@auth.DOMAIN, that jvb.conf's " +
  "muc_jids equals jicofo's brewery-jid (JvbBrewery@internal.auth.DOMAIN) and that prosody has the " +
  'Component "internal.auth.DOMAIN" "muc"; a bridge counts once jicofo logs "Added brewery instance" ' +
  "(paper, section XVII).";
