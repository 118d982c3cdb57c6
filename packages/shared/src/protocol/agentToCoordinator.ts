// Every frame an agent sends to the coordinator.
import * as z from "zod";
import { NodeRoleSchema } from "../desired.js";
import { HealthSignalSchema } from "../health.js";
import {
  AgentEvent,
  AgentTime,
  BOTH_WAYS_FRAMES,
  FrameId,
  Generation,
  ItemResult,
  NodeStatus,
} from "./common.js";

export const HelloFrame = z
  .object({
    type: z.literal("hello"),
    protocol: z.number().int(),
    node: z.string().regex(/^[a-z][a-z0-9]{0,30}$/),
    role: NodeRoleSchema.nullable(),
    agentVersion: z.string().max(64),
    /** The generation it enforces now, so the coordinator re-pushes only when it lags. */
    generation: Generation,
    /**
     * The agent's clock (ms since the epoch) as it sent the hello. The coordinator compares it with the moments
     * it sent the upgrade's answer and got the hello, to measure the VM's clock skew (absent from older agents).
     */
    agentTime: AgentTime.optional(),
  })
  .strict();

/** Full status, sent after every (re)connect and on request. */
export const SnapshotFrame = z
  .object({ type: z.literal("snapshot"), replyTo: FrameId.optional(), status: NodeStatus })
  .strict();

/** Changes since the last snapshot: only the parts given are replaced. */
export const StatusFrame = z.object({ type: z.literal("status"), status: NodeStatus.partial() }).strict();

export const ApplyResultFrame = z
  .object({
    type: z.literal("apply-result"),
    replyTo: FrameId,
    generation: Generation,
    ok: z.boolean(),
    /** true when nothing had to change (same desired state again). */
    unchanged: z.boolean(),
    items: z.array(ItemResult),
    error: z.string().max(2000).optional(),
  })
  .strict();

export const SignalFrame = z.object({ type: z.literal("signal"), signal: HealthSignalSchema }).strict();

export const EventFrame = z.object({ type: z.literal("event"), event: AgentEvent }).strict();

export const AgentToCoordinator = z.discriminatedUnion("type", [
  HelloFrame,
  SnapshotFrame,
  StatusFrame,
  ApplyResultFrame,
  SignalFrame,
  EventFrame,
  ...BOTH_WAYS_FRAMES,
]);
export type AgentToCoordinator = z.infer<typeof AgentToCoordinator>;
