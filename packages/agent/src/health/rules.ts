import type { HealthLabel, LogComponent } from "@vmmeet/shared";
import { CATALOG_RULES } from "./catalogRules.js";

/**
 * Health rules: one table per component. A rule names a signal, its label, a regex keyed on
 * the STABLE part of a message (never on the timestamp/prefix layout: the same message shows up
 * in Jitsi's own layout, as a two-line java.util.logging record, behind syslog, journal or docker
 * prefixes, with localized level names), what it means and what an admin does about it.
 *
 * Knowledge comes from the paper (AsiaBSDCon 2023 "Jitsi on OpenBSD", sections XVII Logfiles and
 * XII Pitfalls), the components' own log statements (catalog.gen.ts, compiled from their source; a
 * rule's `covers` names the statements it stands for) and the labelled corpus
 * (test/fixtures/logs/corpus.jsonl, whose signal names are used verbatim).
 *
 * Tables are data; classify.ts compiles them. First matching rule wins, so specific rules come
 * before generic ones. A line no rule matches but that carries a warning or error level goes to the
 * catalog stage (catalog.ts, catalogRules.ts).
 */
export interface Rule {
  signal: string;
  label: HealthLabel;
  /**
   * Literal(s) every match of `re` contains. classify.ts uses them as a cheap prefilter so that
   * most lines are rejected with one scan; a test checks each rule's regex against its needles.
   */
  needles: readonly string[];
  re: RegExp;
  explain: string;
  fix?: string;
  /**
   * Which capture group becomes `detail` (a JID, a port, an address, a version). Never a
   * password, never the whole line.
   */
  detail?: number | ((m: RegExpExecArray) => string | undefined);
  /**
   * Catalog entries this rule stands for ("[E |W ]Where[: template text]", see catalog.ts): a line
   * of one of them that the regex misses (reworded, another release) still gets this signal.
   */
  covers?: readonly string[];
  /** Apply only when the jitsi-meet release (e.g. 9646) is known and within these bounds. */
  minRelease?: number;
  maxRelease?: number;
  /**
   * Loses to any other match inside a multi-line record (the SimpleFormatter header line says
   * only "a record starts here").
   */
  weak?: boolean;
}

/**
 * A rule with the meaning of a catalog rule (catalogRules.ts) and a regex of its own, for the few
 * messages that must be recognised even without their level (a line pasted without its prefix, an
 * INFO-level wording of older releases). Needles stay long: every needle costs the prefilter.
 */
function fromCatalog(component: LogComponent, signal: string, needles: readonly string[], re: RegExp): Rule {
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
function xmppConnectionRules(who: "jicofo" | "jvb"): Rule[] {
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

const ROTATED: Rule = {
  signal: "logfile-turned-over",
  label: "info",
  needles: ["logfile turned over"],
  re: /logfile turned over/,
  // docs/openbsd-rc.md §4: newsyslog writes this line as the first line of the new file.
  explain: "newsyslog(8) rotated the log file; this is the first line of the new file.",
};

type Who = "jicofo" | "jvb";

const WHO = {
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

const TRUSTSTORE_FIX =
  "Import prosody's auth.DOMAIN certificate into the Java truststore jicofo and jvb use (/etc/ssl/jitsi.store " +
  "in the OpenBSD port): keytool -import -alias prosody -file auth.DOMAIN.crt -keystore STORE, or re-apply " +
  "the spec so vmmeet re-renders and reinstalls the truststore; then rcctl restart jicofo jvb. Do not edit " +
  "the JDK's lib/security/cacerts: a JDK upgrade forgets it (paper, section VIII.B).";

/** Rules for the XMPP client side of jicofo and jvb (smack / the old OSGi protocol provider). */
function xmppClientRules(who: Who): Rule[] {
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

const JUL_HEADER: Rule = {
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

const JICOFO: Rule[] = [
  ...xmppClientRules("jicofo"),
  ...xmppConnectionRules("jicofo"),
  {
    signal: "bridge-health-failed",
    label: "degraded",
    needles: ["Health check failed for", "Health check timed out for"],
    re: /Health check (?:failed|timed out) for:? (?:Bridge\[jid=)?([^\s,\]]+)/,
    explain: "jicofo's health check of one bridge failed; jicofo stops using that bridge until it recovers.",
    covers: [
      "JvbDoctor$HealthCheckTask.doHealthCheck",
      "JvbDoctor$HealthCheckPresenceTask.doHealthCheck",
      "JvbDoctor$AbstractHealthCheckTask.run",
    ],
    fix: "Check that bridge (rcctl check jvb on its VM, its log) and the network between the jicofo and jvb VMs.",
    detail: 1,
  },
  {
    signal: "jicofo-health-failed",
    label: "failed",
    needles: ["Health check failed"],
    re: /Health check failed\b/,
    explain: "jicofo's own health check failed (the cause follows, often: no operational bridges).",
    covers: ["HealthChecker.run"],
    fix: "See the cause; usually make a bridge join the brewery MUC (check jvb's XMPP login and brewery JID).",
  },
  {
    signal: "no-operational-bridges",
    label: "failed",
    needles: [
      "No operational bridges",
      "There are no operational bridges",
      "operational bridges are SHUTTING_DOWN",
    ],
    re: /No operational bridges available(?: \(total bridge count: (\d+)\))?|There are no operational bridges|All operational bridges are SHUTTING_DOWN/,
    covers: [
      "BridgeSelector.selectBridge: no operational bridges",
      "BridgeSelector.selectBridge: All operational bridges are SHUTTING_DOWN",
    ],
    explain:
      "jicofo has no usable bridge: no jvb has joined the brewery MUC or all bridges failed health checks, " +
      "so no conference can get media.",
    fix:
      "Check jvb runs and logs in as jvb@auth.DOMAIN, that jicofo's brewery-jid equals jvb's muc_jids " +
      "(JvbBrewery@internal.auth.DOMAIN, compared case-insensitively) and wait for jvb's first presence " +
      "(presence-interval; the paper: 'be really patient').",
    detail: (m) => (m[1] === undefined ? undefined : `total bridge count: ${m[1]}`),
  },
  {
    signal: "bridge-selection-failed",
    label: "failed",
    needles: ["Failed to select"],
    re: /Failed to select (?:an? |the )?(?:initial )?bridge\b/,
    explain: "jicofo could not pick a bridge for a participant: none is operational.",
    covers: [
      "BridgeSelectionStrategy.select",
      "SingleBridgeSelectionStrategy.doSelect",
      "BridgeSelector.selectBridge: required version",
      "BridgeSelector.selectBridge: inconsistent version",
    ],
    fix: "Same as for no-operational-bridges: get a jvb into the brewery MUC and passing health checks.",
  },
  {
    signal: "no-bridge-available",
    label: "failed",
    needles: ["no bridge available"],
    re: /no bridge available/,
    explain: "jicofo could not invite a participant because no bridge is available.",
    fix: "Get a jvb into the brewery MUC (see no-operational-bridges).",
  },
  {
    signal: "brewery-join-failed",
    label: "failed",
    needles: ["Failed to create", "Failed to join"],
    re: /Failed to (?:create|join) (?:the )?(?:room|MUC):? ?(\S*[Bb]rewery\S*)/,
    explain: "jicofo could not join the brewery MUC where bridges announce themselves.",
    covers: ["BaseBrewery.start: Failed to create room", "MucClient.*: Failed to join the MUCs"],
    fix:
      'Check prosody\'s Component "internal.auth.DOMAIN" "muc" exists (muc_room_locking = false) and that ' +
      "jicofo's brewery-jid names it.",
    detail: 1,
  },
  {
    signal: "brewery-instance-added",
    label: "healthy",
    needles: ["Added brewery instance"],
    re: /Added brewery instance: ?([^\s,\]]+)/,
    // Paper, section XVII: jicofo cannot use a jvb before this line.
    explain: "A bridge joined the brewery MUC: from now on jicofo can use it.",
    detail: 1,
  },
  {
    signal: "brewery-instance-removed",
    label: "degraded",
    needles: ["Removed brewery instance"],
    re: /Removed brewery instance: ?([^\s,\]]+)/,
    explain: "A bridge left the brewery MUC: jicofo no longer uses it (fatal if it was the only one).",
    fix: "Check jvb on that VM (rcctl check jvb) and its XMPP connection to prosody.",
    detail: 1,
  },
  {
    signal: "bridge-added",
    label: "healthy",
    needles: ["Added new videobridge"],
    re: /Added new videobridge:? (?:Bridge\[jid=)?([^\s,\]]+)/,
    explain: "jicofo's bridge selector added a bridge.",
    detail: 1,
  },
  {
    signal: "bridge-removed",
    label: "degraded",
    needles: ["Removing videobridge", "Removed videobridge", "Removing JVB"],
    re: /Remov(?:ing|ed) (?:videobridge|JVB):? (?:Bridge\[jid=)?([^\s,\]]+)/,
    covers: ["BridgeSelector.removeJvbAddress"],
    explain: "jicofo's bridge selector removed a bridge.",
    fix: "Check jvb on that VM (rcctl check jvb) and its XMPP connection to prosody.",
    detail: 1,
  },
  {
    signal: "bridge-health-task-scheduled",
    label: "healthy",
    needles: ["Scheduled health-check task"],
    re: /Scheduled health-check task for:? (?:Bridge\[jid=)?([^\s,\]]+)/,
    explain: "jicofo started health-checking a newly added bridge.",
    detail: 1,
  },
  {
    signal: "conference-room-joined",
    label: "info",
    needles: ["Joined the room"],
    // Jitsi's own layout puts the MUC in a [room=...] context; a room that is not the brewery is a
    // conference room jicofo joined for a meeting.
    re: /\[room=(?![^\]\s]*brewery)[^\]\s]+[^\n]*Joined the room\b/,
    explain: "jicofo joined a conference room.",
  },
  {
    signal: "brewery-room-joined",
    label: "healthy",
    needles: ["Joined the room"],
    re: /Joined the room\b/,
    explain: "jicofo joined a MUC room: at startup, the brewery room where bridges announce themselves.",
  },
  {
    signal: "colibri-participant-missing",
    label: "degraded",
    needles: ["Cannot remove", "Can not remove"],
    re: /Can ?not remove \S+, no participantInfo/,
    explain: "jicofo had no bridge allocation for a leaving participant: it never got a bridge.",
    fix: "Look for no-operational-bridges / bridge-selection-failed around this line.",
  },
  {
    signal: "member-left",
    label: "info",
    needles: ["Member "],
    re: /Member left:|Member \S+ left\b/,
    explain: "A participant left a conference.",
  },
  {
    signal: "member-joined",
    label: "info",
    needles: ["Member "],
    re: /Member joined:|Member \S+ joined\b/,
    explain: "A participant joined a conference.",
  },
  {
    signal: "focus-request",
    label: "info",
    needles: ["Focus request for room"],
    re: /Focus request for room/,
    explain: "A client asked jicofo (as an XMPP component, before release 5765) to start a conference.",
  },
  {
    signal: "conference-request",
    label: "info",
    needles: ["Conference request for room"],
    re: /Conference request for room/,
    explain: "A client asked jicofo to start or join a conference.",
  },
  {
    signal: "rest-api-started",
    label: "info",
    needles: ["Starting HTTP server with config", "Responding at http"],
    re: /Starting HTTP server with config: host=\S*, port=(\d+)|Responding at https?:\/\/\S+?:(\d+)/,
    explain: "jicofo's REST API (health, conference-request) is listening.",
    detail: (m) => m[1] ?? m[2],
  },
  {
    signal: "legacy-properties-loaded",
    label: "degraded",
    needles: ["sip-communicator.properties"],
    re: /loading config file at path (\S*sip-communicator\.properties)/,
    // Legacy keys there take precedence over jicofo.conf (jicofo's XmppConfig.kt;
    // docs/jitsi-config-notes.md section 4).
    explain: "jicofo read a legacy sip-communicator.properties whose keys override jicofo.conf.",
    fix: "Remove that file: vmmeet renders everything jicofo needs into jicofo.conf.",
    detail: 1,
  },
  JUL_HEADER,
  ROTATED,
];

const JVB: Rule[] = [
  ...xmppClientRules("jvb"),
  ...xmppConnectionRules("jvb"),
  {
    signal: "srtp-native-loaded",
    label: "healthy",
    needles: ["jitsisrtp successfully loaded"],
    re: /jitsisrtp successfully loaded(?: for (OpenSSL [\w.]+))?/,
    // Paper, section XVII: printed only once a conference has media.
    explain: "jvb loaded the native SRTP library (net/jitsi/srtp) and encrypts media with OpenSSL.",
    detail: 1,
  },
  {
    signal: "srtp-native-missing",
    label: "degraded",
    needles: ["jitsisrtp"],
    re: /(?:[Uu]nable to load|[Ff]ailed to load|[Cc]ould not load|UnsatisfiedLinkError)[^\n]*jitsisrtp|jitsisrtp[^\n]*(?:not (?:be )?loaded|failed|unavailable)/,
    explain:
      "jvb could not load the native SRTP library and falls back to Java crypto (much more CPU per stream).",
    fix: "pkg_add net/jitsi/srtp (a run dependency of net/jitsi/videobridge) and rcctl restart jvb.",
  },
  {
    signal: "health-check-ok",
    label: "healthy",
    needles: ["Performed a successful health check"],
    re: /Performed a successful health check/,
    explain: "jvb's periodic self health check passed.",
  },
  {
    signal: "health-check-failed",
    label: "failed",
    needles: ["Health check failed"],
    re: /Health check failed\b/,
    explain: "jvb's self health check failed; jicofo stops sending conferences to it (the cause follows).",
    covers: ["HealthChecker.run"],
    fix: "See the cause on the following lines, usually a port bind failure or a lost XMPP connection.",
  },
  {
    signal: "tcp-harvester-bind-failed",
    label: "degraded",
    needles: ["Failed to initialize TCP harvester"],
    re: /Failed to initialize TCP harvester on port (\d+)/,
    covers: ["Harvesters.initializeStaticConfiguration: Failed to initialize TCP harvester"],
    explain:
      "jvb could not bind its ICE/TCP port (in use, or below 1024 for an unprivileged JVM): clients behind " +
      "UDP-blocking firewalls lose the TCP fallback.",
    fix:
      "Disable ICE/TCP (videobridge.ice.tcp.enabled = false; the paper does, and release 9646 removed it) or " +
      "free the port.",
    detail: 1,
  },
  {
    signal: "port-bind-retry",
    label: "degraded",
    needles: ["Retrying a bind"],
    re: /Retrying a bind because of a failure to bind to address (\S+) and port (\d+)/,
    explain: "ice4j could not bind a UDP port and retries with the next one.",
    fix: "Check what else binds ports on this VM (fstat) and the configured ICE port range.",
    detail: (m) => `${m[1]?.replace(/^\//, "")}:${m[2]}`,
  },
  {
    signal: "no-single-port-harvester",
    label: "failed",
    needles: ["No single-port harvesters created"],
    re: /No single-port harvesters created/,
    explain: "jvb has no UDP media port (10000): no client can send media through this bridge.",
    fix: "Free UDP port videobridge.ice.udp.port (default 10000) or change it, then rcctl restart jvb.",
  },
  {
    signal: "port-bind-failed",
    label: "failed",
    needles: ["Failed to bind single-port", "Failed to create SinglePortUdpHarvester", "BindException"],
    re: /Failed to bind single-port|Failed to create SinglePortUdpHarvester for address (\S+?):?(?=\s|$)|BindException/,
    explain:
      "jvb could not bind its UDP media port: another process holds it or the address is not on this VM.",
    fix:
      "Check with fstat which process holds the port (another jvb still running?), that the configured local " +
      "address exists on this VM, then rcctl restart jvb.",
    detail: 1,
  },
  {
    signal: "udp-harvester-bound",
    label: "healthy",
    needles: ["Initialized SinglePortUdpHarvester"],
    re: /Initialized SinglePortUdpHarvester with address (\S+)/,
    explain: "jvb listens on its UDP media port.",
    detail: 1,
  },
  {
    signal: "stun-discovery-failed",
    label: "degraded",
    needles: ["stunDiscoveryFailed=true"],
    re: /stunDiscoveryFailed=true/,
    covers: ["StunCandidateHarvester.startResolvingCandidate", "CandidateHarvesterSet.harvest"],
    explain: "jvb could not learn its public address through STUN; clients outside may get no media.",
    fix:
      "Set a static mapping of the VM's address to the public one (ice4j.harvest.mapping.static-mappings, or " +
      "the paper's NAT_HARVESTER_LOCAL_ADDRESS/PUBLIC_ADDRESS).",
  },
  {
    signal: "mapping-harvesters-initialized",
    label: "healthy",
    needles: ["Initialized mapping harvesters"],
    re: /Initialized mapping harvesters/,
    explain: "jvb finished setting up its public address mappings.",
  },
  {
    signal: "static-nat-mapping-active",
    label: "healthy",
    needles: ["StaticMappingCandidateHarvester("],
    re: /Using \S*StaticMappingCandidateHarvester\(face=([^,)\s]+), mask=([^,)\s]+)\)/,
    explain: "jvb announces the configured public address (static NAT mapping) for its local address.",
    detail: (m) => `${m[1]} -> ${m[2]}`,
  },
  {
    signal: "aws-harvester-discarded",
    label: "info",
    needles: ["Discarding a mapping harvester"],
    re: /Discarding a mapping harvester: \S*AwsCandidateHarvester/,
    explain: "jvb dropped the AWS address harvester (not on AWS); expected.",
  },
  {
    signal: "mapping-harvester-discarded",
    label: "info",
    needles: ["Discarding a mapping harvester"],
    re: /Discarding a mapping harvester: \S*?(\w+CandidateHarvester|\w+Harvester)/,
    explain: "jvb dropped an address mapping harvester that found nothing.",
    detail: 1,
  },
  {
    signal: "brewery-muc-joined",
    label: "healthy",
    needles: ["Joined MUC: "],
    re: /Joined MUC: (\S+)/,
    explain: "jvb joined the brewery MUC; jicofo sees it after its first presence.",
    detail: 1,
  },
  {
    signal: "brewery-muc-join-failed",
    label: "failed",
    needles: ["Failed to join", "Could not join", "Error joining"],
    re: /(?:Failed to join|Could not join|Error joining)(?: the)? MUCs?\b/,
    explain: "jvb could not join the brewery MUC, so jicofo never sees this bridge.",
    covers: ["MucClient.*: Failed to join the MUCs"],
    fix:
      "Check jvb's muc_jids equals jicofo's brewery-jid and that prosody has Component \"internal.auth.DOMAIN\" " +
      '"muc" with muc_room_locking = false.',
  },
  {
    signal: "legacy-config-home-unset",
    label: "info",
    needles: ["SC_HOME_DIR_LOCATION not set"],
    re: /SC_HOME_DIR_LOCATION not set/,
    explain:
      "jvb reads no sip-communicator.properties (net.java.sip.communicator.SC_HOME_DIR_LOCATION unset); the " +
      "OpenBSD port sets it through JVB_SC_HOME_LOCATION. Harmless when jvb.conf holds every setting.",
  },
  {
    signal: "legacy-config-loaded",
    label: "info",
    needles: ["Initialized legacyConfig"],
    re: /Initialized legacyConfig/,
    explain: "jvb read its legacy sip-communicator.properties layer.",
  },
  {
    signal: "jvb-starting",
    label: "info",
    needles: ["Starting jitsi-videobridge version"],
    re: /Starting jitsi-videobridge version (\S+)/,
    explain: "jvb is starting.",
    detail: 1,
  },
  {
    signal: "private-http-started",
    label: "info",
    needles: ["Starting private http server", "Started ServerConnector"],
    // jvb's private server (colibri REST, health) binds 127.0.0.1:8080 by default, the public one
    // (colibri websockets) 0.0.0.0:9090.
    re: /Starting private http server|Started ServerConnector@[^\n]*\{(?:127\.[\d.]+|localhost|\[?::1\]?):(\d+)\}|Started ServerConnector@[^\n]*\{[^{}]*:(8080)\}/,
    explain: "jvb's private HTTP server (REST, health) is listening.",
    detail: (m) => m[1] ?? m[2],
  },
  {
    signal: "public-http-started",
    label: "info",
    needles: ["Starting public http server", "Started ServerConnector"],
    re: /Starting public http server|Started ServerConnector@[^\n]*\{[^{}]*?:(\d+)\}\s*$/,
    explain: "jvb's public HTTP server (colibri websockets) is listening.",
    detail: 1,
  },
  JUL_HEADER,
  ROTATED,
];

const COMPONENT_NOT_CONNECTED_FIX_OLD =
  "Check that jicofo/jvb run in component mode and connect to port 5347 with the component_secret of " +
  "prosody.cfg.lua; after a prosody restart restart them too.";

const PROSODY: Rule[] = [
  fromCatalog(
    "prosody",
    "no-virtualhost",
    ["VirtualHost entries", "At least one active host is required"],
    /No (?:enabled|active) VirtualHost entries|At least one active host is required/,
  ),
  {
    signal: "truststore-rejected",
    label: "failed",
    needles: ["alert certificate unknown", "alert unknown ca", "alert bad certificate"],
    re: /(?:sslv3|tlsv1(?:\.[0-3])?|SSL) alert (?:certificate unknown|unknown ca|bad certificate)/,
    // Paper, section XVII "wrong/missing keystore".
    explain:
      "A client aborted the TLS handshake because it does not trust prosody's certificate. The c2s clients " +
      "on the xmpp VM are jicofo and jvb: their Java truststore lacks the auth.DOMAIN certificate.",
    fix: TRUSTSTORE_FIX,
  },
  {
    signal: "c2s-tls-handshake-failed",
    label: "failed",
    needles: ["ssl handshake failed"],
    re: /Client disconnected: ssl handshake failed/,
    explain:
      "A client's TLS handshake with prosody failed; on the xmpp VM that is jicofo or jvb (see their " +
      "PKIX error or a preceding 'alert certificate unknown').",
    fix: `Check auth.DOMAIN's ssl certificate/key in prosody.cfg.lua, then: ${TRUSTSTORE_FIX}`,
  },
  {
    signal: "c2s-auth-failed-disconnect",
    label: "failed",
    needles: ["Client disconnected: connection closed"],
    re: /Client disconnected: connection closed/,
    // Paper, section XVII "wrong password": Stream encrypted, then this, without Authenticated as.
    explain:
      "A client closed its session without logging in (the paper's 'wrong password' pattern when it follows " +
      "'Stream encrypted' with no 'Authenticated as'): jicofo or jvb uses a password prosody rejects.",
    fix:
      "prosodyctl register focus (or jvb) auth.DOMAIN PASSWORD with the password of jicofo.conf (or jvb.conf), " +
      "or re-apply the spec; then rcctl restart jicofo (or jvb).",
  },
  {
    signal: "c2s-client-disconnected",
    label: "info",
    needles: ["Client disconnected"],
    re: /Client disconnected\b/,
    explain: "A client session ended.",
  },
  {
    signal: "c2s-authenticated-focus",
    label: "healthy",
    needles: ["Authenticated as focus@"],
    re: /Authenticated as (focus@[^\s/]+)/,
    // Paper, section XVII "all good".
    explain: "jicofo logged in to prosody as focus@auth.DOMAIN.",
    detail: 1,
  },
  {
    signal: "c2s-authenticated-jvb",
    label: "healthy",
    needles: ["Authenticated as jvb@"],
    re: /Authenticated as (jvb@[^\s/]+)/,
    explain: "jvb logged in to prosody as jvb@auth.DOMAIN.",
    detail: 1,
  },
  {
    signal: "bosh-authenticated-anonymous",
    label: "healthy",
    needles: ["Authenticated as"],
    // Anonymous logins get a UUID as user name; BOSH sessions are named bosh<sid>.
    re: /\bbosh[0-9a-f-]{8,}\s[^\n]*?Authenticated as [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@/,
    explain: "A browser logged in anonymously over BOSH (/http-bind): the web path to prosody works.",
  },
  {
    signal: "client-authenticated-anonymous",
    label: "healthy",
    needles: ["Authenticated as"],
    re: /Authenticated as [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}@/,
    explain: "A browser logged in anonymously (websocket or BOSH).",
  },
  {
    signal: "c2s-authenticated-user",
    label: "info",
    needles: ["Authenticated as"],
    re: /Authenticated as \S/,
    explain: "A user account logged in.",
  },
  {
    signal: "c2s-stream-encrypted",
    label: "info",
    needles: ["Stream encrypted"],
    re: /Stream encrypted\b/,
    explain: "A client session switched to TLS; a login ('Authenticated as') should follow.",
  },
  {
    signal: "c2s-client-connected",
    label: "info",
    needles: ["Client connected"],
    re: /Client connected\b/,
    explain: "A client opened a session.",
  },
  {
    signal: "c2s-starttls",
    label: "info",
    needles: ["<starttls xmlns"],
    re: /<starttls xmlns/,
    explain: "A client asked for STARTTLS.",
  },
  {
    signal: "bosh-session-new",
    label: "info",
    needles: ["New BOSH session"],
    re: /New BOSH session/,
    explain: "A browser opened a BOSH session.",
  },
  {
    signal: "bosh-client-disconnected",
    label: "info",
    needles: ["BOSH client disconnected"],
    re: /BOSH client disconnected/,
    explain: "A BOSH session ended.",
  },
  {
    signal: "prosody-started",
    label: "info",
    needles: ["Hello and welcome to Prosody"],
    re: /Hello and welcome to Prosody version (\S+)/,
    explain: "prosody started.",
    detail: 1,
  },
  {
    signal: "c2s-port-activated",
    label: "healthy",
    needles: ["Activated service 'c2s'"],
    re: /Activated service 'c2s' on \S*?:(\d+)/,
    explain: "prosody listens for clients (jicofo, jvb) on its c2s port.",
    detail: 1,
  },
  {
    signal: "http-port-activated",
    label: "healthy",
    needles: ["Activated service 'http'"],
    re: /Activated service 'http' on \S*?:(\d+)/,
    explain: "prosody's HTTP server (BOSH /http-bind and /xmpp-websocket, proxied by nginx) is listening.",
    detail: 1,
  },
  {
    signal: "component-port-activated",
    label: "info",
    needles: ["Activated service 'component'"],
    re: /Activated service 'component' on \S*?:(\d+)/,
    explain: "prosody listens for external components (legacy jicofo/jvb component mode).",
    detail: 1,
  },
  {
    signal: "port-activated",
    label: "info",
    needles: ["Activated service"],
    re: /Activated service '([\w-]+)'/,
    explain: "prosody listens on a port.",
    detail: 1,
  },
  {
    signal: "port-bind-failed",
    label: "failed",
    needles: ["Failed to open server port"],
    re: /Failed to open server port (\d+)/,
    covers: ["core.portmanager: Failed to open server port"],
    explain:
      "prosody could not listen on a port: another process holds it or the interface is not on this VM.",
    fix:
      "Check with fstat which process holds the port (a second prosody?) and the interfaces in prosody.cfg.lua " +
      '(the paper sets http_interfaces = { "*", "::" } so nginx on the web VM can reach BOSH).',
    detail: 1,
  },
  {
    signal: "tls-certificate-load-failed",
    label: "failed",
    needles: ["SSL/TLS: Failed to load"],
    re: /SSL\/TLS: Failed to load '([^']+)'/,
    covers: ["core.certmanager: SSL/TLS: Failed to load"],
    explain: "prosody could not load a TLS certificate or key; TLS for that host fails.",
    fix:
      "Check the ssl certificate/key paths and their permissions for _prosody (prosodyctl cert generate " +
      "auth.DOMAIN, paper section VIII.B), then rcctl restart prosody.",
    detail: 1,
  },
  {
    signal: "component-not-connected",
    label: "failed",
    needles: ["Component not connected"],
    re: /Component not connected, bouncing error(?: for: <\w+ to='([^'/]+))?/,
    minRelease: RELEASE_FOCUS_CLIENT_PROXY,
    explain:
      "prosody got a stanza for an external component nobody serves. From release 5765 jicofo is no longer a " +
      "component (the paper's pitfall: 'no longer component!'): focus.DOMAIN must be a client_proxy.",
    fix:
      'Render Component "focus.DOMAIN" "client_proxy" with target_address = "focus@auth.DOMAIN" (paper, ' +
      "section VIII) and drop the jvb.DOMAIN component block (jvb 2.x logs in as a user), then rcctl restart prosody.",
    detail: 1,
  },
  {
    signal: "component-not-connected",
    label: "failed",
    needles: ["Component not connected"],
    re: /Component not connected, bouncing error(?: for: <\w+ to='([^'/]+))?/,
    maxRelease: RELEASE_FOCUS_CLIENT_PROXY - 1,
    explain:
      "prosody got a stanza for an external component (jicofo or jvb in component mode) that is not connected.",
    fix: COMPONENT_NOT_CONNECTED_FIX_OLD,
    detail: 1,
  },
  {
    signal: "component-not-connected",
    label: "failed",
    needles: ["Component not connected"],
    re: /Component not connected, bouncing error(?: for: <\w+ to='([^'/]+))?/,
    covers: ["mod_component: Component not connected"],
    explain:
      "prosody got a stanza for an external component that is not connected: jicofo/jvb in component mode " +
      "are down, or (release 5765 and later) focus.DOMAIN is still a component instead of a client_proxy.",
    fix:
      `${COMPONENT_NOT_CONNECTED_FIX_OLD} From release 5765 render Component "focus.DOMAIN" "client_proxy" ` +
      'with target_address = "focus@auth.DOMAIN".',
    detail: 1,
  },
  {
    signal: "component-authenticated",
    label: "healthy",
    needles: ["External component successfully authenticated"],
    re: /(?:([\w.-]+):component\b[^\n]*?)?External component successfully authenticated/,
    explain: "A legacy external component (jicofo or jvb in component mode) logged in to prosody.",
    detail: 1,
  },
  {
    signal: "component-auth-failed",
    label: "failed",
    needles: ["Component authentication failed"],
    re: /Component authentication failed(?: for ([\w.-]+))?/,
    covers: ["mod_component: Invalid component handshake", "mod_component: component_secret is not set"],
    explain: "An external component (jicofo or jvb in component mode) presented the wrong component secret.",
    fix: "Use the same secret as component_secret of that Component block in prosody.cfg.lua.",
    detail: 1,
  },
  {
    signal: "muc-domain-mapper-filters",
    label: "info",
    needles: ["Session filters applied"],
    re: /Session filters applied/,
    explain: "jitsi's muc_domain_mapper module installed its filters on a session.",
  },
  {
    signal: "client-proxy-forwarded",
    label: "info",
    needles: ["NAT-ed stanza"],
    re: /NAT-ed stanza/,
    explain: "mod_client_proxy (focus.DOMAIN) relayed a stanza to focus@auth.DOMAIN.",
  },
  ROTATED,
];

/** nginx on the web VM: its upstreams are prosody's BOSH/websocket (5280) and jvb's colibri-ws. */
function nginxPathRules(path: "/http-bind" | "/xmpp-websocket" | "/colibri-ws", name: string): Rule[] {
  const reqPath = path.replace("/", "\\/");
  const what =
    path === "/colibri-ws"
      ? "jvb's colibri websocket endpoint (public HTTP server, 9090)"
      : `prosody's ${path === "/http-bind" ? "BOSH" : "websocket"} endpoint (${path}, port 5280 on the xmpp VM)`;
  const upstreamFix =
    path === "/colibri-ws"
      ? "Check jvb runs, its public HTTP server listens on an address the web VM reaches and pf passes it."
      : "Check prosody runs, listens on the xmpp VM's address for HTTP (the paper sets http_interfaces = " +
        '{ "*", "::" }: the default is localhost only), the proxy_pass address in nginx.conf and that pf passes ' +
        "tcp 5280 from the web VM.";
  // The request ("GET /http-bind?room=... HTTP/1.1") follows the error text; it is never extracted
  // (query strings may carry room names and tokens).
  return [
    {
      signal: `${name}-upstream-connect-failed`,
      label: path === "/colibri-ws" ? "degraded" : "failed",
      needles: [path],
      re: new RegExp(`\\((\\d+: [^)]*)\\) while connecting to upstream\\b[^\\n]*?"[A-Z]+ ${reqPath}\\b`),
      explain: `nginx cannot connect to ${what}.`,
      fix: upstreamFix,
      detail: 1,
    },
    {
      signal: `${name}-upstream-timeout`,
      label: "degraded",
      needles: [path],
      re: new RegExp(`upstream timed out\\b[^\\n]*?"[A-Z]+ ${reqPath}\\b`),
      explain: `${what} did not answer nginx in time (proxy_read_timeout): prosody is overloaded or stuck.`,
      fix: `${upstreamFix} Look at prosody's log and load on the xmpp VM.`,
    },
    {
      signal: `${name}-upstream-error`,
      label: "degraded",
      needles: [path],
      re: new RegExp(`\\[(?:error|crit|alert)\\][^\\n]*?upstream[^\\n]*?"[A-Z]+ ${reqPath}\\b`),
      explain: `nginx got an error from ${what}.`,
      fix: upstreamFix,
    },
    {
      signal: `${name}-http-5xx`,
      label: "degraded",
      needles: [path],
      // access log: "POST /http-bind?room=x HTTP/1.1" 502 ...
      re: new RegExp(`"[A-Z]+ ${reqPath}[^"]*" (50[234])\\b`),
      explain: `nginx answered a request for ${path} with a gateway error: ${what} failed.`,
      fix: upstreamFix,
      detail: 1,
    },
  ];
}

const NGINX: Rule[] = [
  ...nginxPathRules("/http-bind", "bosh"),
  ...nginxPathRules("/xmpp-websocket", "websocket"),
  ...nginxPathRules("/colibri-ws", "colibri-ws"),
  {
    signal: "port-bind-failed",
    label: "failed",
    needles: ["bind() to "],
    re: /bind\(\) to (\S+) failed \((\d+: [^)]*)\)/,
    covers: ["ngx_open_listening_sockets: bind() to"],
    explain:
      "nginx cannot listen on a port: another process holds it (a second nginx?) or the address is not here.",
    fix: "Check with fstat which process holds the port and the listen directives, then rcctl restart nginx.",
    detail: (m) => `${m[1]} (${m[2]})`,
  },
  {
    signal: "tls-certificate-load-failed",
    label: "failed",
    needles: ["cannot load certificate"],
    re: /cannot load certificate(?: key)? "([^"]+)"/,
    covers: ["ngx_ssl_certificate", "ngx_ssl_load_certificate*"],
    explain: "nginx cannot load a TLS certificate or key; browsers refuse camera and microphone without TLS.",
    fix: "Check ssl_certificate/ssl_certificate_key paths (acme-client output) and that the files exist.",
    detail: 1,
  },
  {
    signal: "upstream-host-not-found",
    label: "failed",
    needles: ["host not found in"],
    re: /host not found in (?:upstream|resolver|"[^"]*" of the "\w+" directive)/,
    covers: [
      "ngx_http_upstream_init_round_robin: host not found",
      "ngx_parse_url",
      "ngx_inet_resolve_host",
      "ngx_http_upstream_server: host not found",
    ],
    explain:
      "nginx cannot resolve the host name of an upstream (proxy_pass to prosody or jvb), so it does not " +
      "start or reload.",
    fix: "Put the xmpp and jvb VMs' names into /etc/hosts on the web VM (the paper does), or use addresses in proxy_pass.",
  },
  {
    signal: "config-invalid",
    label: "failed",
    needles: ["[emerg]"],
    re: /\[emerg\][^\n]*? in (\/\S+?:\d+)/,
    covers: [
      "E ngx_conf_*",
      "E ngx_http_core_*",
      "E ngx_http_add_*",
      "E ngx_http_upstream_server",
      "E ngx_http_upstream_add",
      "E ngx_http_upstream_init_round_robin",
      "E ngx_http_proxy_pass",
      "E ngx_http_proxy_eval",
    ],
    explain: "nginx rejected its configuration (it keeps running the old one on reload, or does not start).",
    fix: "Run nginx -t, fix the named line, rcctl reload nginx.",
    detail: 1,
  },
  ROTATED,
];

export const RULES: Readonly<Record<LogComponent, readonly Rule[]>> = {
  prosody: PROSODY,
  jicofo: JICOFO,
  jvb: JVB,
  nginx: NGINX,
};
