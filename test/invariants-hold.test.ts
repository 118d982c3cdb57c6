// The cross-file invariants (docs/jitsi-config-notes.md section 10) hold over whole rendered deployments: the
// paper's release 7648, the current 9646, every release of the table, three bridges, colibri websockets, TURN
// and internal auth; and the check counts every bridge and every part of TURN and colibri it compares.
import { JITSI_RELEASES, PORTS_RELEASE } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { checkInvariants } from "../packages/coordinator/src/render/invariants.js";
import {
  agreeing,
  all,
  check,
  colibri,
  deployment,
  detailOf,
  FULL,
  failed,
  internalAuth,
  monitored,
  type Patch,
  prosody13,
  type Raw,
  release,
  tableRelease,
  threeJvbs,
  turn,
  xmppWebsocket,
} from "./helpers/invariants.js";

describe("the invariants hold", () => {
  const cases: [string, Patch | undefined][] = [
    ["the paper's deployment (7648)", undefined],
    ["release 9646", release(9646)],
    ["release 8044 (jicofo reads xmpp-domain)", release(8044)],
    ["release 8319 (jvb websockets.domains)", all(release(8319), colibri)],
    ["three bridges at 7648", threeJvbs],
    ["three bridges at 9646", all(release(9646), threeJvbs)],
    ["colibri websockets at 7648 (websockets.domain)", all(threeJvbs, colibri)],
    ["colibri websockets at 9646", all(release(9646), threeJvbs, colibri)],
    ["TURN with a turn node", all(release(9646), turn)],
    ["internal auth with guests", internalAuth(true)],
    ["internal auth without guests", all(release(9646), internalAuth(false))],
    ["XMPP websocket", xmppWebsocket],
    ["everything at once, prosody 13", all(FULL, prosody13)],
  ];
  it.each(cases)("%s", (_, patch) => {
    const { spec, nodes } = deployment(patch);
    const results = checkInvariants(spec, nodes);
    expect(failed(results)).toEqual([]);
  });

  describe.each(JITSI_RELEASES)("every release of the table: $release", (row) => {
    it("the paper's topology, and with monitoring networks", () => {
      expect(failed(check(tableRelease(row)))).toEqual([]);
      expect(failed(check(all(tableRelease(row), monitored)))).toEqual([]);
    });
    it("everything on: three bridges, colibri, TURN, internal auth, XMPP websocket, monitoring", () => {
      expect(failed(check(all(FULL, tableRelease(row), monitored)))).toEqual([]);
    });
  });

  it("the ports' mixed set: jicofo and jvb 9646, plugins and web 10133", () => {
    const results = check(
      all(FULL, monitored, (raw) => {
        (raw.jitsi as Raw).release = { ...PORTS_RELEASE };
      }),
    );
    expect(failed(results)).toEqual([]);
  });

  it("checks every bridge, not just the first", () => {
    const one = check(release(9646));
    const three = check(all(release(9646), threeJvbs));
    for (const name of ["nat", "passwords", "brewery", "auth-domain", "prosody-host", "sctp"]) {
      expect(agreeing(three, name), name).toBeGreaterThan(agreeing(one, name));
    }
    // Five per bridge: public and local address, the host's rdr-to and static-port NAT, the bridge's pf.conf.
    expect(agreeing(three, "nat")).toBe(15);
    expect(agreeing(one, "nat")).toBe(5);
    expect(agreeing(three, "sctp")).toBe(4);
  });

  it("checks TURN and colibri only when they are on, and then every part of them", () => {
    const off = check();
    expect(detailOf(off, "turn")).toContain("TURN off");
    expect(detailOf(off, "colibri-websockets")).toContain("bridgeChannel none");
    const on = check(FULL);
    // Secret, three advertised ports, use-auth-secret, external-ip (2), the client hosts' module (2).
    expect(agreeing(on, "turn")).toBe(9);
    // Per bridge: enabled, tls, domains, unique server-id, proxy_pass host, port; no stale location.
    expect(agreeing(on, "colibri-websockets")).toBe(3 * 6 + 3);
  });
});
