// The frames the link itself speaks, apart from what the daemon sends and receives: the decoding of a
// websocket message, the hello and the check of the welcome that answers it, the pong, and the error frame
// answering an invalid one.
import {
  type AgentToCoordinator,
  type CoordinatorToAgent,
  type Decoded,
  decodeCoordinatorFrame,
  ErrorCode,
  FrameId,
  type NodeDesired,
  PROTOCOL_VERSION,
} from "@vmmeet/shared";
import type WebSocket from "ws";

/** Who this agent says it is in its hello. */
export interface AgentIdentity {
  node: string;
  role: NodeDesired["role"] | null;
  agentVersion: string;
}

type Frame<T extends CoordinatorToAgent["type"]> = Extract<CoordinatorToAgent, { type: T }>;

/** One websocket message, decoded and validated (frames are text: a binary one is refused). */
export function decodeMessage(data: WebSocket.RawData, isBinary: boolean): Decoded<CoordinatorToAgent> {
  if (isBinary) return { ok: false, code: ErrorCode.badFrame, message: "binary frames are not used" };
  return decodeCoordinatorFrame(Array.isArray(data) ? Buffer.concat(data).toString("utf8") : data.toString());
}

/** The agent's first frame: protocol version, who it is, its generation and the VM's time (clock skew). */
export function helloFrame(who: AgentIdentity, generation: number, agentTime: number): AgentToCoordinator {
  return {
    type: "hello",
    protocol: PROTOCOL_VERSION,
    node: who.node,
    role: who.role,
    agentVersion: who.agentVersion,
    generation,
    agentTime: Math.round(agentTime),
  };
}

/** Why a welcome does not answer our hello (another protocol, another node), or null when it does. */
export function welcomeMismatch(frame: Frame<"welcome">, node: string): Record<string, unknown> | null {
  if (frame.protocol === PROTOCOL_VERSION && frame.node === node) return null;
  return { theirs: frame.protocol, ours: PROTOCOL_VERSION, node: frame.node };
}

/** The answer to the coordinator's ping, with the VM's time: the coordinator measures the skew from it. */
export function pongFrame(ping: Frame<"ping">, agentTime: number): AgentToCoordinator {
  return { type: "pong", replyTo: ping.id, sentAt: ping.sentAt, agentTime: Math.round(agentTime) };
}

/** The error frame answering an invalid one. */
export function errorReply(refused: Extract<Decoded<CoordinatorToAgent>, { ok: false }>): AgentToCoordinator {
  return {
    type: "error",
    code: refused.code,
    message: refused.message.slice(0, 2000),
    // The id is echoed only when it is a valid frame id: a malformed one would make our own error frame
    // invalid (and reflect whatever the peer put there).
    ...(refused.id && FrameId.safeParse(refused.id).success ? { replyTo: refused.id } : {}),
  };
}
