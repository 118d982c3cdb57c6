// The cross-file invariants of a rendered deployment (docs/jitsi-config-notes.md section 10): the values that must be
// the same in several files on several VMs for a conference to happen at all (the XMPP domain, auth.DOMAIN,
// the brewery JID, the passwords, the address of prosody as each VM reaches it, SCTP off on both sides, the
// bridges' NAT and UDP port, colibri websockets, TURN); and, within prosody.cfg.lua, the options each jitsi
// plugin it loads needs to turn itself on.
//
// The renderers build these values from one spec, so they agree by construction; this check reads the
// RENDERED files back (not the spec) and compares them, so that a renderer change that breaks one side, or
// a hand edit of a rendered directory, is caught before anything reaches a VM. The spec only supplies what
// no file states: the domain the deployment is for, its release, the node addresses and the public address.
//
// The readers (render/grammar: HOCON blocks and lists, prosody's VirtualHost/Component sections and Lua
// tables, nginx's directive tree, config.js's object literal, ksh assignments, java properties,
// turnserver.conf lines, /etc/hosts, pf.conf) understand the subset of each format that the renderers write;
// anything else is reported as unreadable rather than guessed at. Nothing is evaluated. Pure: no filesystem,
// no clock. The checks live in invariants/ by concern: xmpp.ts (names and credentials), network.ts (who
// reaches whom, NAT, pf), features.ts (SCTP, colibri websockets, TURN), plugins.ts (jitsi's prosody plugins); view.ts reads the files.
//
// Secret values (passwords, the TURN secret) are compared but never put into a detail: it says "differs".
import type { NodeDesired, Spec } from "@vmmeet/shared";
import {
  Checker,
  INVARIANT_NAMES,
  type InvariantName,
  type InvariantResult,
  Unreadable,
} from "./invariants/checker.js";
import { checkColibri, checkSctp, checkTurn } from "./invariants/features.js";
import { checkMonitoring, checkNat, checkProsodyHost } from "./invariants/network.js";
import { checkPluginOptions } from "./invariants/plugins.js";
import { View } from "./invariants/view.js";
import {
  checkAuthDomain,
  checkBrewery,
  checkConferenceMuc,
  checkDomain,
  checkFocusProxy,
  checkPasswords,
} from "./invariants/xmpp.js";

export { INVARIANT_NAMES, type InvariantName, type InvariantResult } from "./invariants/checker.js";

/**
 * Check the section-10 invariants over `nodes`, the output of renderDeployment for `spec`. One result per
 * name of INVARIANT_NAMES, in that order; an invariant of a feature that is off (colibri websockets, TURN)
 * checks that no file turns it on halfway.
 */
export function checkInvariants(spec: Spec, nodes: Record<string, NodeDesired>): InvariantResult[] {
  const view = new View(spec, nodes);
  const checks: Record<InvariantName, (c: Checker, v: View) => void> = {
    domain: checkDomain,
    "auth-domain": checkAuthDomain,
    brewery: checkBrewery,
    "conference-muc": checkConferenceMuc,
    "focus-proxy": checkFocusProxy,
    passwords: checkPasswords,
    "prosody-host": checkProsodyHost,
    sctp: checkSctp,
    nat: checkNat,
    "colibri-websockets": checkColibri,
    turn: checkTurn,
    monitoring: checkMonitoring,
    "prosody-plugins": checkPluginOptions,
  };
  return INVARIANT_NAMES.map((name) => {
    const c = new Checker();
    try {
      checks[name](c, view);
    } catch (e) {
      // A reader refusing a file it cannot read (or a missing node) ends this invariant, not the others.
      if (!(e instanceof Unreadable)) throw e;
      c.fail(e.message);
    }
    return c.result(name);
  });
}

/** The failed invariants as the CLI prints them: `invariant: NAME: DETAIL`. */
export function formatViolations(results: readonly InvariantResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `invariant: ${r.name}: ${r.detail}`);
}
