// How the simulators' clients keep their XMPP login up: the real programs' reconnect timing and the loop
// that follows it.

/** Exponential backoff for reconnects: 200 ms, doubling, capped. */
export function backoff(maxMs) {
  let next = 200;
  return {
    next() {
      const d = next;
      next = Math.min(next * 2, maxMs);
      return d;
    },
    reset() {
      next = 200;
    },
  };
}

/**
 * The real programs' reconnect timing (release 9646), in simulated seconds. `scale` is how many real
 * seconds a simulated one takes (tests run at 0.1: ten times faster, same sequence). Neither program ever
 * gives up reconnecting, so neither simulator does.
 *
 * jicofo: its first login is retried every 5 s (XmppProvider.start: RetryStrategy with SimpleRetryTask(0,
 * 5000)); once logged in, smack's ReconnectionManager takes over (enabled per default by XmppProvider; no
 * fixed delay set at 9646), whose RANDOM_INCREASING_DELAY policy waits randomBase seconds before each of the
 * first 7 attempts, randomBase * 6 before attempts 8 to 13 and randomBase * 30 after (the count starts
 * again at each drop), with randomBase = new Random().nextInt(13) + 2 (2 to 14) drawn once per
 * ReconnectionManager, that is once per connection: jicofo makes one XMPPTCPConnection per XmppProvider
 * and keeps it for its whole life, so one jicofo process waits the same delay after every drop. It tells
 * its listeners every second how long is left (jicofo logs each: "XMPP reconnecting in: N seconds.", then
 * 0 once more before the attempt). Sources: jitsi/jicofo jicofo-common/.../xmpp/XmppProvider.kt at
 * stable/jitsi-meet_9646 (pom.xml: smack.version 4.4.8); igniterealtime/Smack
 * smack-core/src/main/java/org/jivesoftware/smack/ReconnectionManager.java at tag 4.4.8 (randomBase,
 * timeDelay, run). From stable/jitsi-meet_9909 on jicofo sets smack's FIXED_DELAY of 2 s instead (jicofo
 * commit a470222a9, "Enable quicker reconnect"); the simulator prints 9646's lines and keeps 9646's timing.
 * `random` is the draw (default Math.random; the simulator passes random.mjs simRandom("jicofo"), which
 * VMMEET_SIM_SEED makes reproducible).
 *
 * jvb: jicoco's MucClient (1.1-141-g30ec741, jvb 9646) disables smack's reconnection and runs its
 * connect-and-login task every 5 s for ever (SimpleRetryTask(0, 5000, true, ...)): it connects if not
 * connected, logs in and joins the MUCs if not logged in. A drop is therefore noticed at the next tick,
 * 0 to 5 s later. Source: jitsi/jicoco jicoco/src/main/java/org/jitsi/xmpp/mucclient/MucClient.java.
 */
export const RECONNECT = {
  jicofo: (scale, random = Math.random) => {
    const randomBase = 2 + Math.floor(random() * 13);
    return {
      initialMs: 5000 * scale,
      tickMs: 1000 * scale,
      /** Simulated seconds before reconnect attempt n (1, 2, ...). */
      delaySeconds: (n) => (n > 13 ? randomBase * 30 : n > 7 ? randomBase * 6 : randomBase),
    };
  },
  jvb: (scale) => ({ periodMs: 5000 * scale }),
};

/**
 * Keep a login to the simulated prosody up. Without `retry`: exponential backoff up to backoffMaxMs for
 * every attempt (test/real's stand-ins). With `retry`, the real programs' timing (RECONNECT):
 *   { initialMs, tickMs, delaySeconds(n), onCountdown(secondsLeft), onReconnectFailed(err) }  jicofo: a
 *      fixed retry until the first login, then smack's countdown and increasing delay after each drop
 *   { periodMs }  jvb: one attempt per period, whether it never logged in or lost its login
 * On failure of a first login onFailure(err) is called; on success onSession(session); when a session
 * closes, onClosed() and the reconnection starts (so a restarted prosody gets its clients back).
 */
export function keepLoggedIn({ login, onFailure, onSession, onClosed, backoffMaxMs, retry }) {
  const b = backoff(backoffMaxMs ?? 5000);
  let stopped = false;
  let timer;
  let current;
  let everLoggedIn = false;
  const started = Date.now();
  const later = (fn, ms) => {
    if (!stopped) timer = setTimeout(fn, ms);
  };
  /** jvb's task runs on a fixed grid from its start: the next tick, not a full period after a drop. */
  const nextTick = () => retry.periodMs - ((Date.now() - started) % retry.periodMs);
  /** Smack's reconnection thread: count down delaySeconds(n) a second at a time, then try once. */
  const reconnect = (n) => {
    let left = retry.delaySeconds(n);
    const tick = () => {
      left -= 1;
      retry.onCountdown?.(left);
      if (left > 0) return later(tick, retry.tickMs);
      retry.onCountdown?.(0);
      attempt(n);
    };
    later(tick, retry.tickMs);
  };
  const attempt = async (n = 0) => {
    if (stopped) return;
    let session;
    try {
      session = await login();
    } catch (e) {
      if (stopped) return;
      if (retry?.delaySeconds && everLoggedIn) {
        retry.onReconnectFailed?.(e);
        return reconnect(n + 1);
      }
      onFailure(e);
      return later(attempt, !retry ? b.next() : retry.periodMs ? nextTick() : retry.initialMs);
    }
    if (stopped) {
      session.close();
      return;
    }
    b.reset();
    everLoggedIn = true;
    current = session;
    session.on("close", (streamError) => {
      current = undefined;
      if (stopped) return;
      onClosed(streamError);
      if (retry?.delaySeconds) reconnect(1);
      else later(attempt, retry ? nextTick() : b.next());
    });
    await onSession(session);
  };
  attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      current?.close();
    },
  };
}
