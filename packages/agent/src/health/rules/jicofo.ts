import { JUL_HEADER, ROTATED } from "./common.js";
import type { Rule } from "./rule.js";

/**
 * jicofo's own rules, in match order (first match wins; rule.ts says what a rule is), after the XMPP
 * client rules it shares with jvb (rules.ts puts those first).
 */
export function jicofoRules(): Rule[] {
  return [
    {
      signal: "bridge-health-failed",
      label: "degraded",
      needles: ["Health check failed for", "Health check timed out for"],
      re: /Health check (?:failed|timed out) for:? (?:Bridge\[jid=)?([^\s,\]]+)/,
      explain:
        "jicofo's health check of one bridge failed; jicofo stops using that bridge until it recovers.",
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
}
