import { getPath } from "./hocon.mjs";
import { closedError } from "./xmpp-stand-in.mjs";

/**
 * jicofo's side of the brewery as both jicofo stand-ins (the simulator here and test/real's XMPP client) log
 * it: the bridges in the room, jicofo's "Added/Removed brewery instance" lines, its /about/health answer
 * (500 without a bridge, logged once when it turns bad) and the room join and connection-loss lines.
 */
export function jicofoBrewery(log, conf) {
  const brewery = String(getPath(conf, "jicofo.bridge.brewery-jid") ?? "").toLowerCase();
  const breweryCtx = `[type=bridge brewery=${brewery.split("@")[0] || "jvbbrewery"}]`;
  /** Bridges in the brewery: "room/nick". */
  const bridges = new Set();
  let healthWasOk = true;
  // Lines and their order as jicofo 9646 logs them (BaseBrewery.java, BridgeSelector.kt at
  // stable/jitsi-meet_9646): the brewery's removal, then the selector's.
  const remove = (jid) => {
    if (!bridges.delete(jid)) return;
    log.info(35, "BaseBrewery.removeInstance#359", `Removed brewery instance: ${jid}`, breweryCtx);
    log.info(35, "BridgeSelector.removeJvbAddress#109", `Removing JVB: ${jid}`);
    log.warn(35, "BridgeSelector.removeJvbAddress#112", `Lost a bridge: ${jid}`);
  };
  return {
    brewery,
    bridges,
    healthy: () =>
      bridges.size > 0
        ? { ok: true }
        : { ok: false, reason: `No operational bridges available (total bridge count: ${bridges.size})` },
    /** jicofo's health checker logs a failed check; the stand-ins log when the result turns bad. */
    onHealthRequest: (r) => {
      if (!r.ok && healthWasOk) {
        log.severe(30, "JicofoHealthChecker.check#101", "Health check failed in PT0.001S:", undefined, [
          `java.lang.RuntimeException: ${r.reason}`,
        ]);
      }
      healthWasOk = r.ok;
    },
    /** A presence in the brewery room (jicofo's own nick excluded by the caller). */
    presence: (room, nick, available) => {
      if (room !== brewery) return;
      const jid = `${room}/${nick}`;
      if (!available) return remove(jid);
      if (bridges.has(jid)) return;
      bridges.add(jid);
      log.info(35, "BaseBrewery.addInstance#347", `Added brewery instance: ${jid}`, breweryCtx);
      log.info(
        35,
        "BridgeSelector.addJvbAddress#96",
        `Added new videobridge: Bridge[jid=${jid}, version=2.0.9646, relayId=null, region=null, correctedStress=0.00]`,
      );
    },
    /** The result of joining the brewery room. */
    joined: (r) => {
      if (r.ok) log.info(32, "BaseBrewery.start#177", "Joined the room.", `[room=${brewery}]`);
      else
        log.severe(32, "BaseBrewery.start#181", "Failed to create room.", breweryCtx, [
          `org.jivesoftware.smack.XMPPException$XMPPErrorException: XMPP error reply received from ${brewery}: XMPPError: ${r.condition} - cancel`,
        ]);
    },
    /**
     * Losing the XMPP connection: jicofo 9646 logs it, stops being registered, and its brewery leaves the
     * room and drops every bridge (BaseBrewery.registrationChanged(false) -> stop()).
     */
    closed: (ctx, streamError) => {
      const e = closedError(streamError);
      log.severe(
        25,
        "XmppProvider$connectionListener$1.connectionClosedOnError#113",
        `XMPP connection closed on error: ${e.message}`,
        ctx,
        [e.exception],
      );
      log.info(35, "BaseBrewery.stop#204", "Left the room.", breweryCtx);
      for (const jid of [...bridges]) remove(jid);
    },
  };
}
