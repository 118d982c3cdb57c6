// Whole rendered deployments for the cross-file invariant tests (test/invariants-*.test.ts): the paper's spec
// with patches (a release, three bridges, colibri websockets, TURN, internal auth...), rendered by the real
// renderDeployment, and the checks' results read back; `onlyFails` edits one rendered file and expects
// exactly one invariant to fail, with a detail that holds no secret.
import type { JITSI_RELEASES, NodeDesired } from "@vmmeet/shared";
import { expect } from "vitest";
import { renderDeployment } from "../../packages/coordinator/src/render/index.js";
import { checkInvariants, type InvariantResult } from "../../packages/coordinator/src/render/invariants.js";
import { fakeInput, fakeSecrets } from "../fixtures/material.js";

export type Raw = Record<string, unknown>;
export type Patch = (raw: Raw) => void;

export const release =
  (r: number): Patch =>
  (raw) => {
    (raw.jitsi as Raw).release = r;
  };
const nodesOf = (raw: Raw) => raw.nodes as Raw[];
export const threeJvbs: Patch = (raw) => {
  nodesOf(raw).push(
    { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { udpPort: 10001, nickname: "bridge2" } },
    { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { udpPort: 10002, nickname: "Bridge-3" } },
  );
};
export const colibri: Patch = (raw) => {
  raw.bridgeChannel = "colibri-websocket";
};
export const turn: Patch = (raw) => {
  raw.turn = { enabled: true };
  nodesOf(raw).push({ name: "turn", role: "turn", address: "100.64.7.3" });
};
export const internalAuth =
  (guests: boolean): Patch =>
  (raw) => {
    raw.auth = { mode: "internal", guests };
  };
export const xmppWebsocket: Patch = (raw) => {
  raw.xmppWebsocket = true;
};
export const prosody13: Patch = (raw) => {
  (raw.jitsi as Raw).prosody = "13";
};
export const monitored: Patch = (raw) => {
  raw.host = { ...(raw.host as Raw), monitorNetworks: ["198.51.100.0/24"] };
};
/** A release of the table with the Java and the prosody it is known to work with. */
export const tableRelease =
  (r: (typeof JITSI_RELEASES)[number]): Patch =>
  (raw) => {
    (raw.jitsi as Raw).release = r.release;
    (raw.jitsi as Raw).java = r.java[0];
    (raw.jitsi as Raw).prosody = r.prosody.includes("0.12") ? "0.12" : r.prosody[0];
  };
export const all =
  (...patches: Patch[]): Patch =>
  (raw) => {
    for (const p of patches) p(raw);
  };

/** Everything on at 9646: three bridges, colibri websockets, TURN, internal auth with guests, XMPP websocket. */
export const FULL = all(release(9646), threeJvbs, colibri, turn, internalAuth(true), xmppWebsocket);

export function deployment(patch?: Patch) {
  const input = fakeInput("paper-7648.yaml", patch);
  return { spec: input.spec, nodes: renderDeployment(input) };
}

export function check(patch?: Patch): InvariantResult[] {
  const d = deployment(patch);
  return checkInvariants(d.spec, d.nodes);
}

export const failed = (results: InvariantResult[]) => results.filter((r) => !r.ok);
export const detailOf = (results: InvariantResult[], name: string) =>
  results.find((r) => r.name === name)!.detail;
export const agreeing = (results: InvariantResult[], name: string) =>
  Number(/^(\d+) values? agrees?/.exec(detailOf(results, name))?.[1] ?? Number.NaN);

const SECRETS = Object.values(fakeSecrets);
function expectNoSecret(text: string, extra: readonly string[] = []): void {
  for (const s of [...SECRETS, ...extra]) expect(text).not.toContain(s);
}

/** Replace `from` (which must occur) by `to` in one rendered file of one node, in place. */
export function edit(
  nodes: Record<string, NodeDesired>,
  node: string,
  file: string,
  from: string | RegExp,
  to: string,
) {
  const f = nodes[node]?.files.find((x) => x.path === file);
  if (!f) throw new Error(`test bug: ${node} has no ${file}`);
  const before = f.content;
  f.content = before.replace(from, to);
  if (f.content === before) throw new Error(`test bug: ${String(from)} not in ${node}:${file}`);
}

/** Check after one edit: exactly `name` fails; its detail is returned (and holds no secret). */
export function onlyFails(
  patch: Patch | undefined,
  change: (nodes: Record<string, NodeDesired>) => void,
  name: string,
  extraSecrets: readonly string[] = [],
): string {
  const d = deployment(patch);
  expect(failed(checkInvariants(d.spec, d.nodes))).toEqual([]);
  change(d.nodes);
  const results = checkInvariants(d.spec, d.nodes);
  expect(failed(results).map((r) => r.name)).toEqual([name]);
  const detail = detailOf(results, name);
  expectNoSecret(detail, extraSecrets);
  return detail;
}
