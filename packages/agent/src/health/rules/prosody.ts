import { fromCatalog, RELEASE_FOCUS_CLIENT_PROXY, ROTATED, TRUSTSTORE_FIX } from "./common.js";
import type { Rule } from "./rule.js";

const COMPONENT_NOT_CONNECTED_FIX_OLD =
  "Check that jicofo/jvb run in component mode and connect to port 5347 with the component_secret of " +
  "prosody.cfg.lua; after a prosody restart restart them too.";

/** prosody's rules, in match order (first match wins; rule.ts says what a rule is). */
export function prosodyRules(): Rule[] {
  return [
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
      // The last line of a prosody that stops cleanly (util/startup.lua startup.shutdown): state.ts
      // PROCESS_BOUNDS drops what the old process logged after the agent announced a restart.
      signal: "prosody-stopped",
      label: "info",
      needles: ["Shutdown complete"],
      re: /Shutdown complete/,
      explain: "prosody stopped cleanly.",
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
      explain:
        "An external component (jicofo or jvb in component mode) presented the wrong component secret.",
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
}
