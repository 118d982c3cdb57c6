import { JUL_HEADER, ROTATED } from "./common.js";
import type { Rule } from "./rule.js";

/**
 * jvb's own rules, in match order (first match wins; rule.ts says what a rule is), after the XMPP
 * client rules it shares with jicofo (rules.ts puts those first).
 */
export function jvbRules(): Rule[] {
  return [
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
}
