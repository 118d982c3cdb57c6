// The one table of protocol error codes and websocket close codes, shared by agent and coordinator.

export const PROTOCOL_VERSION = 1;

/** Largest frame either side accepts (a desired state with truststores is tens of KB). */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** Error codes carried by `error` frames and by failed command replies. */
export const ErrorCode = {
  badFrame: "bad-frame",
  tooLarge: "too-large",
  unknownType: "unknown-type",
  protocolMismatch: "protocol-mismatch",
  notHello: "expected-hello",
  unknownNode: "unknown-node",
  duplicateNode: "duplicate-node",
  unauthorized: "unauthorized",
  staleGeneration: "stale-generation",
  refused: "refused",
  busy: "busy",
  internal: "internal",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Websocket close codes (4000-4999 are for applications, RFC 6455 section 7.4.2). */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolMismatch: 4000,
  notHello: 4001,
  unknownNode: 4002,
  unauthorized: 4003,
  revoked: 4004,
  replaced: 4005,
  tooManyBadFrames: 4006,
  handshakeTimeout: 4007,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Why the peer closed, for logs and for the agent's decision to retry (a revoked agent stops retrying). */
const CLOSE_REASONS: ReadonlyMap<number, { reason: string; retry: boolean }> = new Map([
  [
    CloseCode.protocolMismatch,
    { reason: "protocol version mismatch: upgrade the agent or the coordinator", retry: false },
  ],
  [CloseCode.notHello, { reason: "the first frame was not a hello", retry: true }],
  [CloseCode.unknownNode, { reason: "the coordinator's spec has no node of this name", retry: true }],
  [CloseCode.unauthorized, { reason: "credentials rejected", retry: false }],
  [
    CloseCode.revoked,
    { reason: "this agent's certificate was revoked: enroll again with a new join token", retry: false },
  ],
  [CloseCode.replaced, { reason: "another connection for the same node replaced this one", retry: true }],
  [CloseCode.tooManyBadFrames, { reason: "too many invalid frames", retry: true }],
  [CloseCode.handshakeTimeout, { reason: "no hello in time", retry: true }],
]);

export function describeClose(code: number): { reason: string; retry: boolean } {
  const known = CLOSE_REASONS.get(code);
  return known ? { ...known } : { reason: `closed (${code})`, retry: true };
}
