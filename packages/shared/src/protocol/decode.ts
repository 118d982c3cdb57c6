// Decode once, at the edge: one function per direction turns a websocket text frame into a validated frame or
// a description of what is wrong with it (with the field path), never an exception. The socket adapters turn
// binary data into text and enforce MAX_FRAME_BYTES as ws's maxPayload; the length check here is the same
// limit for callers that bypass them (shared has no Node APIs, so no Buffer here).
import type * as z from "zod";
import { AgentToCoordinator } from "./agentToCoordinator.js";
import { ErrorCode, MAX_FRAME_BYTES } from "./codes.js";
import { CoordinatorToAgent } from "./coordinatorToAgent.js";

export type Decoded<T> =
  | { ok: true; frame: T }
  | { ok: false; code: ErrorCode; message: string; id?: string };

function decodeWith<S extends z.ZodType>(schema: S, text: string): Decoded<z.infer<S>> {
  if (text.length > MAX_FRAME_BYTES) {
    return { ok: false, code: ErrorCode.tooLarge, message: `frame larger than ${MAX_FRAME_BYTES} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    // V8's message quotes part of the input, which may hold a secret: say only what is wrong.
    return { ok: false, code: ErrorCode.badFrame, message: "not JSON" };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const id =
    typeof json === "object" && json !== null && typeof (json as { id?: unknown }).id === "string"
      ? (json as { id: string }).id
      : undefined;
  const first = parsed.error.issues[0];
  const type = typeof json === "object" && json !== null ? (json as { type?: unknown }).type : undefined;
  const where = first ? first.path.map(String).join(".") || "(frame)" : "(frame)";
  const code =
    first?.code === "invalid_union" && first.path.length === 1 && first.path[0] === "type"
      ? ErrorCode.unknownType
      : ErrorCode.badFrame;
  const message = `${typeof type === "string" ? `${type.slice(0, 40)} frame: ` : ""}${where}: ${first?.message ?? "invalid"}${parsed.error.issues.length > 1 ? ` (and ${parsed.error.issues.length - 1} more)` : ""}`;
  return id !== undefined ? { ok: false, code, message, id } : { ok: false, code, message };
}

export function decodeAgentFrame(text: string): Decoded<AgentToCoordinator> {
  return decodeWith(AgentToCoordinator, text);
}

export function decodeCoordinatorFrame(text: string): Decoded<CoordinatorToAgent> {
  return decodeWith(CoordinatorToAgent, text);
}

export function encodeFrame(frame: AgentToCoordinator | CoordinatorToAgent): string {
  return JSON.stringify(frame);
}
