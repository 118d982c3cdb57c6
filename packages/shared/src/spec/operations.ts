// How the coordinator operates the deployment: the healing schedule, pf's commit-confirm window and how
// long dependents may take to reconnect after a push restarted what they depend on.
import * as z from "zod";

/**
 * How long a component may take to come back by itself after a push restarted one it depends on (prosody
 * for jicofo, every jvb and nginx; a jvb for jicofo's brewery). Inside this window its reconnect-type
 * problems count as recovering, not as a failure. The defaults follow the real programs' reconnect timing:
 * - jvb (30 s): jicoco's MucClient sets smack's ReconnectionManager to a fixed 1 s delay ("We want to
 *   reconnect as soon as possible") and retries a failed reconnect every 2 s (jitsi/jicoco,
 *   jicoco-mucclient/src/main/java/org/jitsi/xmpp/mucclient/MucClient.java). The window covers prosody's
 *   restart (its 10 s grace), those 1-2 s retries and the brewery MUC join, with room for a second try.
 * - jicofo (45 s): jicofo sets smack's fixed reconnect delay to 2 s (jitsi/jicofo,
 *   jicofo/src/main/kotlin/org/jitsi/jicofo/xmpp/Smack.kt) and its connect task retries every 1 s
 *   (XmppProvider.kt); after a reconnect without stream resumption it leaves and joins the brewery again,
 *   and a failed join is retried after the 15 s reply timeout (BaseBrewery.java). 10 s restart + 2 s + 15 s
 *   retry + 15 s for the join itself, rounded up; the bridges must be back in the brewery inside it too.
 * - nginx (20 s): nginx keeps no connection to prosody; each BOSH or websocket request is proxied anew, so
 *   it serves again as soon as prosody listens (the 10 s grace of its restart) and the next poll succeeds.
 */
export const RECOVERY_SECONDS_DEFAULT = { jicofo: 45, jvb: 30, nginx: 20 } as const;
const RecoverySeconds = z
  .object({
    jicofo: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(RECOVERY_SECONDS_DEFAULT.jicofo)
      .describe("seconds jicofo may take to log in again and see every bridge back in its brewery"),
    jvb: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(RECOVERY_SECONDS_DEFAULT.jvb)
      .describe("seconds a bridge may take to log in again and rejoin the brewery"),
    nginx: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(RECOVERY_SECONDS_DEFAULT.nginx)
      .describe("seconds nginx's BOSH and XMPP websocket proxying may fail while prosody restarts"),
  })
  .strict();

export const Operations = z
  .object({
    heal: z
      .object({
        schedule: z
          .string()
          .regex(/^[0-9*/,\- ]+$/, "must be a cron expression")
          .default("* * * * *")
          .describe("cron expression of the coordinator's healing rounds"),
        jitterSeconds: z.number().int().min(0).max(3600).default(15).describe("random delay of each round"),
        alarmAfterSeconds: z
          .number()
          .int()
          .min(10)
          .default(300)
          .describe("a node unhealthy this long raises an alarm"),
      })
      .strict()
      .default({ schedule: "* * * * *", jitterSeconds: 15, alarmAfterSeconds: 300 })
      .describe("The coordinator's healing schedule"),
    pfConfirmSeconds: z
      .number()
      .int()
      .min(5)
      .max(3600)
      .default(60)
      .describe("commit-confirm window of a pf.conf change"),
    recoverySeconds: RecoverySeconds.default(RECOVERY_SECONDS_DEFAULT).describe(
      "How long jicofo, the bridges and nginx may take to reconnect after a push restarted prosody or a bridge they depend on; their reconnect-type problems count as recovering until then",
    ),
  })
  .strict()
  .default({
    heal: { schedule: "* * * * *", jitterSeconds: 15, alarmAfterSeconds: 300 },
    pfConfirmSeconds: 60,
    recoverySeconds: RECOVERY_SECONDS_DEFAULT,
  });
