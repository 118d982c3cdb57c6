// Every frame the coordinator sends to an agent.
import * as z from "zod";
import { NodeDesired } from "../desired.js";
import { BOTH_WAYS_FRAMES, FrameId, Generation } from "./common.js";

export const WelcomeFrame = z
  .object({
    type: z.literal("welcome"),
    protocol: z.number().int(),
    coordinatorVersion: z.string().max(64),
    node: z.string(),
    /** How often the coordinator pings; the agent treats 3 missed pings as a dead link. */
    heartbeatMs: z.number().int().min(100).max(600_000),
  })
  .strict();

export const DesiredFrame = z
  .object({
    type: z.literal("desired"),
    id: FrameId,
    generation: Generation,
    desired: NodeDesired,
  })
  .strict();

/** Confirms a pf.conf load within its confirm window (commit-confirmed); see the agent's pf step. */
export const ConfirmFrame = z
  .object({ type: z.literal("confirm"), id: FrameId, generation: Generation })
  .strict();

/**
 * A cross-node repair the coordinator orders (prosody before jicofo before jvb): restart one managed service.
 * Answered with an apply-result for the agent's current generation whose one item says how it went.
 */
export const RepairFrame = z
  .object({
    type: z.literal("repair"),
    id: FrameId,
    service: z.string().regex(/^[_A-Za-z][_A-Za-z0-9]*$/),
    action: z.literal("restart"),
    reason: z.string().max(500),
  })
  .strict();

/** Ask for a full status snapshot now. */
export const SnapshotRequestFrame = z.object({ type: z.literal("snapshot-request"), id: FrameId }).strict();

export const CoordinatorToAgent = z.discriminatedUnion("type", [
  WelcomeFrame,
  DesiredFrame,
  ConfirmFrame,
  RepairFrame,
  SnapshotRequestFrame,
  ...BOTH_WAYS_FRAMES,
]);
export type CoordinatorToAgent = z.infer<typeof CoordinatorToAgent>;
