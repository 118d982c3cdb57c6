import type { HealthLabel, LogComponent } from "@vmmeet/shared";

/**
 * Rules matched through the components' own log statements (catalog.gen.json) instead of a regex of
 * their own: a line with a level of warning or higher whose message template, or whose Class.method,
 * is one of `covers` gets this rule's signal. Selectors: "[E |W ]Where[: template text]" (see
 * catalog.ts parseSelector). Rules in rules.ts may cover entries too (their `covers`); those claim
 * first. Entries no rule claims and that need none are in NO_RULE with the reason.
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

const JICOFO: CatalogRule[] = [
  uncaught("jicofo", "Main.main"),
  {
    signal: "jicofo-start-failed",
    label: "failed",
    explain: "jicofo could not start (missing config.file, no bridge detector, or an error at start-up).",
    fix: "Check /etc/jicofo/jicofo.conf (jicofo.bridge.brewery-jid) and jicofo.in.sh's -Dconfig.file; re-apply the spec.",
    covers: [
      "Main.main: Failed to start jicofo",
      "Main.main: Required property config.file",
      "JicofoServices.<init>: No bridge detector configured",
    ],
  },
  {
    signal: "bridge-health-checks-disabled",
    label: "degraded",
    explain: "jicofo does not health-check its bridges, so it keeps sending conferences to a broken one.",
    fix: "Leave jicofo.bridge.health-checks.enabled at its default (true); vmmeet does not turn it off.",
    covers: [
      "JicofoServices.<init>: JVB health-checks disabled",
      "Bridge.setStats: Presence-based health checks",
    ],
  },
  {
    signal: "jicofo-health-slow",
    label: "degraded",
    explain: "jicofo's own health check took too long: jicofo is overloaded or waits on prosody.",
    fix: "Look at CPU and memory on the jicofo VM and at prosody's responsiveness.",
    covers: ["JicofoHealthChecker.performCheck: took too long"],
  },
  {
    signal: "octo-config-mismatch",
    label: "degraded",
    explain: "jicofo's bridge selection strategy needs Octo (relays between bridges), which is off.",
    fix: "Use the default selection strategy for a single bridge, or enable octo in jicofo.conf for several.",
    covers: [
      "RegionBasedBridgeSelectionStrategy.select",
      "SplitBridgeSelectionStrategy.select",
      "ColibriV2SessionManager.allocate: Octo",
    ],
  },
  {
    signal: "colibri-allocation-failed",
    label: "degraded",
    explain:
      "jicofo's colibri2 exchange with a bridge failed for one participant or relay: that participant gets " +
      "no media from this bridge.",
    fix: "Check the bridge's log at the same time (its colibri2 handling) and that jicofo and jvb are the same release.",
    covers: ["ColibriV2SessionManager.*", "Colibri2Session.*", "Colibri2Session$Relay.*"],
  },
  {
    signal: "conference-start-failed",
    label: "degraded",
    explain: "jicofo could not start a conference for a request.",
    fix: "Read the exception that follows; usually a bridge or prosody problem logged just before.",
    covers: ["FocusManager.conferenceRequest", "FocusManager.meetingIdSet"],
  },
  ...xmppRules("jicofo"),
  {
    signal: "known-harmless",
    label: "info",
    explain:
      "A warning jicofo prints in normal operation (discovery of optional XMPP features, bookkeeping of " +
      "bridges it already knows, a health checker stopping at shutdown): nothing to do.",
    covers: [
      "XmppProvider.setComponents",
      "XmppProvider.discoverFeatures: assuming default feature set",
      "XmppProvider.discoverComponents",
      "XmppProviderImpl.discoverInfo",
      "XmppProvider.fire*",
      "AbstractXmppProvider.fireRegistrationStateChanged",
      "JvbDoctor.bridgeRemoved",
      "JvbDoctor.bridgeAdded",
      "JvbDoctor$HealthCheckTask.doHealthCheck: second chance delay wait interrupted",
      "JicofoHealthChecker.shutdown",
      "Bridge.endpointsRemoved",
      "Main.main: Unable to register signal",
    ],
  },
];

const JVB: CatalogRule[] = [
  uncaught("jvb", "MainKt.main"),
  {
    signal: "jvb-config-invalid",
    label: "failed",
    explain: "jvb refused part of its configuration (DTLS settings) at start-up.",
    fix: "Check /etc/jvb/jvb.conf (videobridge.dtls) against the release's reference.conf; re-apply the spec.",
    covers: ["MainKt.main: Dtls configuration error"],
  },
  {
    signal: "jvb-shutting-down",
    label: "degraded",
    explain: "jvb is in graceful-shutdown mode and refuses new conferences.",
    fix: "Expected during a planned restart; otherwise check who requested the shutdown (the REST API).",
    covers: ["Videobridge.getOrCreateConference: shutdown mode", "Videobridge.localEndpointExpired"],
  },
  {
    signal: "colibri-ws-server-id-mismatch",
    label: "failed",
    explain:
      "A colibri websocket arrived for another bridge's server id: nginx's /colibri-ws/ path and jvb's " +
      "websocket server-id disagree, so clients' bridge channels fail.",
    fix: "Make nginx's /colibri-ws/ID/ location and videobridge.websockets.server-id the same (re-apply the spec).",
    covers: ["ColibriWebSocketServlet.createWebSocket: mismatching server ID"],
  },
  {
    signal: "colibri-relay-unavailable",
    label: "degraded",
    explain:
      "jicofo asked for a relay between bridges, which needs colibri websockets or SCTP, and both are off.",
    fix: "Enable videobridge.websockets (vmmeet renders it) or use a single bridge.",
    covers: ["Colibri2ConferenceHandler.handleConferenceModifyIQ: Can not use a colibri2 relay"],
  },
  {
    signal: "colibri-error",
    label: "degraded",
    explain:
      "jvb rejected a colibri2 request from jicofo (unknown conference or endpoint, or a bad request).",
    fix: "Check jicofo's log at the same time; jicofo and jvb should be the same release.",
    covers: [
      "Colibri2ConferenceHandler.handleConferenceModifyIQ",
      "Videobridge.getOrCreateConference",
      "Videobridge.handleHealthCheckIQ",
    ],
  },
  {
    signal: "ice-transport-error",
    label: "degraded",
    explain: "jvb's media transport for one endpoint failed to send or receive packets.",
    fix: "If many endpoints show it: check the VM's UDP port (10000), pf and the network; otherwise one client's network.",
    covers: [
      "IceTransport.startReadingData: Uncaught exception",
      "IceTransport.send",
      "UdpTransport.*",
      "AbstractUdpListener.*",
      "NetAccessManager.handleFatalError: Removing connector",
      "E NetAccessManager.handleFatalError",
      "StunStack.handleMessageEvent",
    ],
  },
  {
    signal: "ice-harvest-failed",
    label: "degraded",
    explain:
      "ice4j could not open a media socket on one local address; that address is not offered to clients.",
    fix: "Check the addresses of the VM (ifconfig) and videobridge.ice's allowed/blocked interfaces.",
    covers: ["HostCandidateHarvester.harvest"],
  },
  {
    signal: "ice-config-invalid",
    label: "degraded",
    explain: "jvb's ICE address or STUN settings contain a value it cannot use and ignores.",
    fix: "Check ice4j.harvest (allowed/blocked addresses and interfaces, STUN servers) in jvb.conf.",
    covers: [
      "HostCandidateHarvester.*",
      "HarvestConfig.toInetAddress",
      "MappingCandidateHarvesters.createStunHarvesters",
    ],
  },
  {
    signal: "xmpp-iq-slow",
    label: "degraded",
    explain: "jvb took long to answer an IQ from jicofo: the bridge is overloaded.",
    fix: "Look at CPU and memory on the jvb VM (top), and the number of conferences on it.",
    covers: ["XmppConnection.measureDelay"],
  },
  ...xmppRules("jvb"),
  {
    signal: "known-harmless",
    label: "info",
    explain:
      "A warning jvb prints in normal operation (a client offered an RTP extension jvb does not use, a " +
      "websocket for a conference that already ended, an endpoint's transport stopping, a socket replaced " +
      "after a client's address changed, errors after shutdown): nothing to do.",
    covers: [
      "Colibri2ConferenceHandler.handleColibri2Endpoint",
      "Colibri2ConferenceHandler.handleColibri2Relay",
      "Colibri2ConferenceHandler.toSsrcAssociation",
      "Colibri2ConferenceHandler.parseSourceDescs",
      "ColibriWebSocketServlet.createWebSocket: nonexistent",
      "IceTransport.*",
      "SinglePortUdpHarvester$MyCandidate.addSocket",
      "NetAccessManager.handleError",
      "NetAccessManager.handleFatalError: when stopped",
      "XmppConnection.addMucClient",
      "MainKt.main: Error shutting down http servers",
      "MainKt.main: A deprecated command line argument",
      "MainKt.main: Unable to register signal",
    ],
  },
];

const PROSODY: CatalogRule[] = [
  {
    signal: "no-virtualhost",
    label: "failed",
    explain: "prosody found no enabled VirtualHost in its configuration and serves no domain (it may exit).",
    fix: "Check prosody.cfg.lua's VirtualHost blocks (DOMAIN and auth.DOMAIN, enabled) with prosodyctl check config; re-apply the spec.",
    covers: [
      "util.startup: No enabled VirtualHost",
      "util.startup: At least one active host",
      "core.hostmanager: No active VirtualHost",
    ],
  },
  {
    signal: "config-invalid",
    label: "failed",
    explain: "prosody could not read or parse its configuration file.",
    fix: "prosodyctl check config; fix the named line of prosody.cfg.lua, or re-apply the spec.",
    covers: [
      "util.startup: error parsing the configuration file",
      "util.startup: Couldn't read the config file",
      "util.startup: Prosody startup error",
    ],
  },
  {
    signal: "config-warning",
    label: "degraded",
    explain: "prosody warns about an option of its configuration (misplaced, deprecated or inconsistent).",
    fix: "prosodyctl check config names the option; move or fix it in prosody.cfg.lua.",
    covers: [
      "util.startup: Configuration warning",
      "core.configmanager",
      "core.hostmanager: has no effect for virtual hosts",
      "core.usermanager: Deprecated config option",
      "core.usermanager: is not a list",
      "mod_tls: s2s_secure_auth implies",
      "mod_websocket: cross_domain_websocket",
      "mod_muc_domain_mapper: No 'muc_mapper_domain_base'",
    ],
  },
  {
    signal: "prosody-already-running",
    label: "failed",
    explain:
      "prosody could not write its pidfile or daemonize: another prosody runs, or the directory is not writable.",
    fix: "rcctl check prosody; pgrep -lf prosody; check the pidfile directory's owner (_prosody).",
    covers: [
      "util.startup: Another Prosody instance",
      "util.startup: Couldn't write pidfile",
      "util.startup: Failed to daemonize",
    ],
  },
  {
    signal: "module-load-failed",
    label: "failed",
    explain: "prosody could not load or start a module its configuration enables; that feature is missing.",
    fix: "Check plugin_paths in prosody.cfg.lua (jitsi's prosody plugins) and the module's dependencies; rcctl restart prosody.",
    covers: [
      "core.modulemanager: Unable to load module",
      "core.modulemanager: Error loading module",
      "core.modulemanager: Error initializing module",
      "core.modulemanager: Not loading module",
      "core.modulemanager: Could not load manifest",
      "core.modulemanager: Can't look up resource path",
      "util.lib: requires a version of Prosody",
    ],
  },
  {
    signal: "module-config-warning",
    label: "degraded",
    explain: "prosody warns about a module of its configuration (renamed, replaced, or failing to reload).",
    fix: "Update modules_enabled in prosody.cfg.lua as the message says; rcctl restart prosody.",
    covers: ["core.modulemanager"],
  },
  {
    signal: "tls-context-failed",
    label: "failed",
    explain:
      "prosody could not set up TLS for a host or port (certificate, key or TLS options): clients cannot encrypt.",
    fix:
      "Check the ssl certificate/key paths of prosody.cfg.lua and their permissions for _prosody " +
      "(prosodyctl check certs), then rcctl restart prosody.",
    covers: [
      "core.certmanager",
      "mod_tls: Error creating context",
      "mod_tls: No TLS context available",
      "core.portmanager: Error binding encrypted port",
      "core.portmanager: Error creating TLS context",
      "core.portmanager: Error reloading certificate",
    ],
  },
  {
    signal: "tls-negotiation-failed",
    label: "degraded",
    explain:
      "A TLS negotiation with a client or server failed, or a peer asked for TLS where none is set up.",
    fix: "Check the peer's truststore (jicofo, jvb) and prosody's certificates (prosodyctl check certs).",
    covers: ["mod_tls: TLS negotiation", "mod_tls: Attempt to start TLS"],
  },
  {
    signal: "port-config-invalid",
    label: "failed",
    explain: "prosody could not activate a network service: an invalid port, or two services on one port.",
    fix: "Check the *_ports and *_interfaces options in prosody.cfg.lua.",
    covers: [
      "core.portmanager: Invalid port number",
      "core.portmanager: Multiple services configured",
      "core.portmanager: Failed to activate service",
    ],
  },
  {
    signal: "c2s-auth-unavailable",
    label: "failed",
    explain:
      "prosody offers clients no usable login: no SASL mechanism or no stream features (jicofo and jvb cannot log in).",
    fix: 'Check authentication = "internal_hashed" for auth.DOMAIN and that c2s TLS works (prosodyctl check).',
    covers: [
      "mod_saslauth: SASL mechanisms",
      "mod_saslauth: authentication mechanisms",
      "mod_c2s: No stream features",
    ],
  },
  {
    signal: "c2s-auth-error",
    label: "degraded",
    explain: "A login succeeded in SASL but prosody could not use its result.",
    fix: "Check the authentication module of that host.",
    covers: ["mod_saslauth"],
  },
  {
    signal: "http-not-listening",
    label: "failed",
    explain:
      "prosody's HTTP server listens on no port: BOSH (/http-bind) and websockets behind nginx are unreachable.",
    fix: 'Check http_ports and http_interfaces in prosody.cfg.lua (the paper sets http_interfaces = { "*", "::" }).',
    covers: ["mod_http: Not listening on any ports", "mod_http: No http ports enabled"],
  },
  {
    signal: "http-app-invalid",
    label: "degraded",
    explain: "A prosody HTTP module is misconfigured (no name or route, or a handler added twice).",
    fix: "Check the http modules in modules_enabled (bosh, websocket) and their plugin versions.",
    covers: ["mod_http"],
  },
  {
    signal: "component-auth-failed",
    label: "failed",
    explain:
      "An external component (jicofo or jvb in component mode) could not authenticate, or a second one tried.",
    fix: "Use the same secret as component_secret of that Component block in prosody.cfg.lua, and one process per component.",
    covers: ["mod_component: Second component attempted"],
  },
  {
    signal: "component-stream-error",
    label: "degraded",
    explain: "An external component sent prosody something invalid.",
    fix: "Check the component's own log (jicofo or jvb in component mode).",
    covers: ["mod_component"],
  },
  {
    signal: "prosody-internal-error",
    label: "failed",
    explain: "prosody hit a Lua error (traceback) while handling a session or request.",
    fix: "Read the traceback (values left out here); check the module it names and its version; rcctl restart prosody.",
    covers: ["prosody", "mod_c2s: Traceback", "mod_bosh: Traceback", "net.http.server"],
  },
  {
    signal: "prosody-dependency-warning",
    label: "degraded",
    explain:
      "A Lua library prosody uses is too old or experimental (LuaSec, LuaExpat, ...) and may cause disconnects.",
    fix: "Update the named library (pkg_add -u) and rcctl restart prosody.",
    covers: ["util.dependencies"],
  },
  {
    signal: "prosody-startup-warning",
    label: "degraded",
    explain:
      "prosody started with a missing piece (signal handling, GC settings, process-manager notification).",
    fix: "Check the Lua libraries prosody needs (luaposix, luasocket) and its gc settings.",
    covers: [
      "util.startup: Couldn't load signal library",
      "util.startup: LuaSocket without UNIX socket",
      "util.startup: notification socket",
      "util.startup: Failed to apply GC configuration",
    ],
  },
  {
    signal: "turn-config-invalid",
    label: "degraded",
    explain:
      "prosody hands out no (or broken) TURN/STUN services: clients behind strict NAT may get no media.",
    fix: "Check external_services / turncredentials in prosody.cfg.lua, or remove the module if no TURN is used.",
    covers: ["mod_external_services", "mod_turncredentials"],
  },
  {
    signal: "known-harmless",
    label: "info",
    explain:
      "A warning prosody prints in normal operation (a client that went away without closing its stream, " +
      "a stray BOSH request, a deprecation notice, SIGTERM at a restart, an external call that timed out): " +
      "nothing to do.",
    covers: [
      "mod_c2s: Failed to receive a stream close response",
      "mod_websocket",
      "mod_bosh",
      "core.sessionmanager",
      "core.usermanager",
      "util.startup: Received SIGTERM",
      "util.startup: componentmanager is deprecated",
      "mod_muc_domain_mapper: Not allowed presence",
      "util.lib",
    ],
  },
];

const NGINX: CatalogRule[] = [
  {
    signal: "upstream-resolve-failed",
    label: "degraded",
    explain: "nginx's resolver could not resolve an upstream's name at run time.",
    fix: "Check the resolver directive and the name server the web VM uses.",
    covers: ["ngx_resolve_*", "ngx_resolver_send_*", "ngx_resolver_create"],
  },
  {
    signal: "listen-socket-failed",
    label: "failed",
    explain: "nginx could not open or configure a listening socket.",
    fix: "Check the listen directives and that no other process holds the port (fstat), then rcctl restart nginx.",
    covers: ["E ngx_open_listening_sockets", "E ngx_configure_listening_sockets"],
  },
  {
    signal: "listen-socket-warning",
    label: "degraded",
    explain: "nginx could not set an option on a listening socket (it listens without it).",
    fix: "Check the listen directive's options (reuseport, so_keepalive, deferred) are supported on OpenBSD.",
    covers: ["W ngx_open_listening_sockets", "W ngx_configure_listening_sockets"],
  },
  {
    signal: "nginx-start-failed",
    label: "failed",
    explain: "nginx could not start or reload (pidfile, shared memory, configuration cycle).",
    fix: "nginx -t; check /var/run/nginx.pid's directory and that the old nginx is gone; rcctl restart nginx.",
    covers: ["E ngx_create_pidfile", "E ngx_init_cycle"],
  },
  {
    signal: "tls-handshake-failed",
    label: "degraded",
    explain: "A TLS handshake with a browser or an upstream failed.",
    fix: "Usually one client; if every client fails, check ssl_certificate and ssl_protocols.",
    covers: ["ngx_ssl_handshake", "ngx_http_upstream_ssl_handshake"],
  },
  {
    signal: "config-warning",
    label: "degraded",
    explain:
      "nginx accepted its configuration with a warning (conflicting server name, an ignored directive).",
    fix: "nginx -t shows the line; fix it in nginx.conf.",
    covers: [
      "W ngx_conf_*",
      "W ngx_http_core_*",
      "W ngx_http_add_*",
      "W ngx_http_upstream_server",
      "W ngx_http_upstream_add",
      "W ngx_http_proxy_pass",
      "W ngx_init_cycle",
      "W ngx_create_pidfile",
    ],
  },
  {
    signal: "upstream-failed",
    label: "degraded",
    explain:
      "nginx could not get an answer from an upstream (connect, timeout, bad header, closed connection).",
    fix: "Check the upstream (prosody on the xmpp VM, jvb) runs and is reachable from the web VM through pf.",
    covers: [
      "ngx_event_connect_peer",
      "ngx_http_upstream_*",
      "ngx_http_proxy_process_*",
      "ngx_http_proxy_create_request",
    ],
  },
];

export const CATALOG_RULES: Readonly<Record<LogComponent, readonly CatalogRule[]>> = {
  jicofo: JICOFO,
  jvb: JVB,
  prosody: PROSODY,
  nginx: NGINX,
};

/**
 * Catalog entries of the deployment paths that need no rule of their own, with the reason. The
 * classifier still reports each as an unrecognised warning or error by its level.
 */
export const NO_RULE: Readonly<Record<LogComponent, readonly { covers: readonly string[]; why: string }[]>> =
  {
    jicofo: [
      {
        covers: ["Main.main: {}", "Main.warn", "Main.error", "Application.conferenceRequest"],
        why: "the message is only a value (an exception's text): nothing stable to key on; reported by its level",
      },
    ],
    jvb: [
      {
        covers: ["MainKt.warn", "MainKt.error", "NetAccessManager.handleFatalError: {}"],
        why: "the message is only a value (an exception's text): nothing stable to key on; reported by its level",
      },
    ],
    prosody: [
      {
        covers: ["util.startup: {}"],
        why: "the message is only a value: nothing stable to key on; reported by its level",
      },
    ],
    nginx: [],
  };
