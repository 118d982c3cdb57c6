// Which agent frames answer each coordinator request. A request is a coordinator frame with an id; the agent
// answers it with a frame whose replyTo is that id. An error frame may answer any request (the agent could not
// decode or act on it); any other frame type is a protocol violation, never something to cast and hope.
// `confirm` carries an id too but is not answered: the pf commit-confirm is fire-and-forget.
import type { AgentToCoordinator } from "./agentToCoordinator.js";
import type { CoordinatorToAgent } from "./coordinatorToAgent.js";

export const REPLIES = {
  /** The agent applies the desired state (or refuses it) and reports every item. */
  desired: ["apply-result"],
  /** A restart of one service, reported as an apply result with one item (agent daemon.ts). */
  repair: ["apply-result"],
  "snapshot-request": ["snapshot"],
} as const satisfies Partial<Record<CoordinatorToAgent["type"], readonly AgentToCoordinator["type"][]>>;

export type RequestType = keyof typeof REPLIES;

/**
 * Requests the coordinator sends again, the same frame with the same id, over a new link when the one it went
 * out on drops before the answer came (within the request's own timeout). The agent answers such a resend
 * from the result of the apply that frame started, finished or still running, and never applies it twice
 * (agent transport/replies.ts). A repair is not resent: its restart may have happened, and the heal schedule
 * decides anew.
 */
export const RESENT_ON_RECONNECT: ReadonlySet<RequestType> = new Set<RequestType>(["desired"]);
type FramesByType<U extends { type: string }> = { [F in U as F["type"]]: F };
export type RequestFrame<K extends RequestType> = FramesByType<CoordinatorToAgent>[K];
/** A request before the sender gives it its id. */
export type RequestBody<K extends RequestType> = Omit<RequestFrame<K>, "id">;
export type ReplyFor<K extends RequestType> = FramesByType<AgentToCoordinator>[(typeof REPLIES)[K][number]];

export type ReplyCheck<K extends RequestType> =
  | { ok: true; reply: ReplyFor<K> }
  /** refused: the error frame when the agent answered with one. */
  | { ok: false; refused: FramesByType<AgentToCoordinator>["error"] | null; message: string };

/** Narrows a frame that answers a `request` frame to the reply type the table gives, or says what is wrong. */
export function checkReply<K extends RequestType>(request: K, frame: AgentToCoordinator): ReplyCheck<K> {
  if (isReplyTo(request, frame)) return { ok: true, reply: frame };
  if (frame.type === "error")
    return {
      ok: false,
      refused: frame,
      message: `answered the ${request} frame with an error (${frame.code}): ${frame.message}`,
    };
  return {
    ok: false,
    refused: null,
    message: `answered the ${request} frame with a ${frame.type} frame (expected ${REPLIES[request].join(" or ")})`,
  };
}

function isReplyTo<K extends RequestType>(request: K, frame: AgentToCoordinator): frame is ReplyFor<K> {
  const expected: readonly string[] = REPLIES[request];
  return expected.includes(frame.type);
}
