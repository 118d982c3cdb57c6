// The Jitsi packages of the spec: which release each component runs (a number of the table in
// releases.ts, or one per component), prosody's and Java's major versions.
import * as z from "zod";
import { CHANGES, JAVA_VERSIONS, KNOWN_RELEASES, PORTS_RELEASE, PROSODY_VERSIONS } from "../releases.js";

/**
 * Jitsi releases with behaviour changes that a renderer handles (the table of supported releases and every
 * change with its source: releases.ts).
 */
export const RELEASES = {
  /** The paper's packages (OpenBSD 7.2, net/jitsi 2.0.7648). */
  paper: 7648,
  /** jicofo ignores command-line XMPP args; jicofo.xmpp.client.xmpp-domain required (jicofo 2943c21f). */
  jicofoXmppDomain: CHANGES.jicofoXmppDomain.since,
  /** jvb websockets.domains (list) joins websockets.domain (jvb e3a2ae20). */
  jvbWebsocketDomains: CHANGES.jvbWebsocketDomains.since,
  /** Current OpenBSD packages of jicofo and jvb; jvb ICE/TCP removed (jvb 89dde6ea). */
  current: PORTS_RELEASE.jicofo,
} as const;

/** A release number of the table (releases.ts); anything else is refused with the list of known ones. */
const ReleaseNumber = z
  .number()
  .int()
  .refine((r) => KNOWN_RELEASES.includes(r), {
    error: (issue) => `unknown release ${String(issue.input)}: vmmeet renders ${KNOWN_RELEASES.join(", ")}`,
  });

export const Jitsi = z
  .object({
    release: z
      .union(
        [
          ReleaseNumber,
          z
            .object({
              jicofo: ReleaseNumber.describe("jicofo's release (net/jitsi/jicofo)"),
              jvb: ReleaseNumber.describe("jitsi-videobridge's release (net/jitsi/videobridge)"),
              web: ReleaseNumber.describe("jitsi-meet's release (net/jitsi/meet)"),
              plugins: ReleaseNumber.describe("jitsi's prosody plugins' release (net/jitsi/prosody-plugins)"),
            })
            .strict(),
        ],
        {
          error: `must be a release number (${KNOWN_RELEASES.join(", ")}) or a mapping of jicofo, jvb, web and plugins release numbers`,
        },
      )
      .describe(
        "Jitsi release on the VMs: 7648 = the paper's OpenBSD 7.2 packages, 11146 = the newest stable; or per component, e.g. the ports tree's mix: { jicofo: 9646, jvb: 9646, web: 10133, plugins: 10133 }",
      ),
    prosody: z.enum(PROSODY_VERSIONS).default("0.12").describe("Prosody major version on the xmpp VM"),
    java: z
      .union(JAVA_VERSIONS.map((v) => z.literal(v)))
      .default(11)
      .describe("Java major version of the jicofo and jvb VMs (the ports build with MODJAVA_VER=11)"),
  })
  .strict();
