import * as z from "zod";
import { HealthLabelSchema, HealthSignalSchema, LogComponentSchema } from "../health.js";
import { ErrorCode } from "./codes.js";

export const FrameId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.:-]+$/);
export const Generation = z.number().int().min(0);
export const ErrorCodeSchema = z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]);

export const ErrorFrame = z
  .object({
    type: z.literal("error"),
    /** The id of the frame this answers, when there is one. */
    replyTo: FrameId.optional(),
    code: ErrorCodeSchema,
    message: z.string().max(2000),
  })
  .strict();

/** A clock reading, ms since the epoch (on the clock of whoever sends it). */
export const AgentTime = z.number().int().min(0).max(8_640_000_000_000_000);

export const PingFrame = z.object({ type: z.literal("ping"), id: FrameId, sentAt: z.number() }).strict();
export const PongFrame = z
  .object({
    type: z.literal("pong"),
    replyTo: FrameId,
    /** The ping's sentAt, echoed (the pinger's clock). */
    sentAt: z.number(),
    /**
     * An agent's pong: its own clock when it answered. With the ping's sentAt and the moment the pong
     * arrived, the coordinator bounds the VM's clock skew by the round trip (absent from older agents).
     */
    agentTime: AgentTime.optional(),
  })
  .strict();

/** The frames both sides send: keep-alive and errors. Each direction's union ends with them. */
export const BOTH_WAYS_FRAMES = [PingFrame, PongFrame, ErrorFrame] as const;

const ItemStatus = z.enum([
  "written",
  "unchanged",
  "refused",
  "failed",
  "enabled",
  "flags-set",
  "started",
  "restarted",
  "reloaded",
  "stopped",
  "done",
  "skipped",
  "restored",
]);

/** The outcome of one item of an apply (a file, a service step or a setup action). */
export const ItemResult = z
  .object({
    kind: z.enum(["file", "service", "action"]),
    /** The file path, service name or action label (e.g. "prosody-user focus@auth.example.org"). */
    target: z.string().max(1024),
    status: ItemStatus,
    /** Why it failed or was refused; never a secret. */
    detail: z.string().max(2000).optional(),
  })
  .strict();
export type ItemResult = z.infer<typeof ItemResult>;

export const FileState = z
  .object({
    path: z.string(),
    /** sha256 hex of the content on disk, null when the file is missing. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .nullable(),
    mode: z.string().nullable(),
    owner: z.string().nullable(),
    group: z.string().nullable(),
  })
  .strict();
export type FileState = z.infer<typeof FileState>;

export const ServiceState = z
  .object({
    name: z.string(),
    enabled: z.boolean(),
    running: z.boolean(),
    flags: z.string().nullable(),
    /** ok | starting (inside its grace period) | backoff | failed (gave up) */
    state: z.enum(["ok", "starting", "stopped", "backoff", "failed"]),
    restarts: z.number().int().min(0).default(0),
    detail: z.string().max(2000).optional(),
  })
  .strict();
export type ServiceState = z.infer<typeof ServiceState>;

export const ComponentHealth = z
  .object({
    component: LogComponentSchema,
    state: z.enum(["unknown", "starting", "healthy", "degraded", "failed"]),
    explain: z.string().max(2000),
    fix: z.string().max(2000).optional(),
    since: z.iso.datetime(),
    /** The latest signal of each name with its label and time (age is computed by the reader). */
    signals: z.array(HealthSignalSchema).max(200),
    /** jicofo only: the bridges (MUC nicknames) currently in the brewery, from its log. */
    bridges: z.array(z.string().max(128)).max(1000).optional(),
    /** jicofo only: when each bridge (by nickname) last joined the brewery, as jicofo logged it. */
    bridgesSince: z.record(z.string().max(128), z.iso.datetime()).optional(),
  })
  .strict();
export type ComponentHealth = z.infer<typeof ComponentHealth>;

export const HostMetrics = z
  .object({
    at: z.iso.datetime(),
    load1: z.number(),
    memUsedBytes: z.number(),
    memTotalBytes: z.number(),
    disks: z.array(z.object({ mount: z.string(), usedBytes: z.number(), sizeBytes: z.number() }).strict()),
    netErrors: z.number().int().min(0),
  })
  .strict();
export type HostMetrics = z.infer<typeof HostMetrics>;

/** An agent-side event worth an audit line: a repair, a refusal, a rollback, a pf revert. */
export const AgentEvent = z
  .object({
    at: z.iso.datetime(),
    kind: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .max(64),
    label: HealthLabelSchema,
    message: z.string().max(2000),
    target: z.string().max(1024).optional(),
  })
  .strict();
export type AgentEvent = z.infer<typeof AgentEvent>;

/** A VM as `vmctl status` reports it on the VMM host. */
export const VmState = z
  .object({
    name: z.string().max(64),
    /** vmctl's STATE column: running, stopped, paused, ... */
    state: z.string().max(32),
    /** vmd's id of a VM that runs, null when stopped. */
    id: z.number().int().nullable(),
    /** vmctl's MAXMEM column as printed (e.g. "2.0G"). */
    memory: z.string().max(16).optional(),
    /** Whether the host's desired state lists it (and wants it started). */
    wanted: z.boolean().optional(),
  })
  .strict();
export type VmState = z.infer<typeof VmState>;

export const NodeStatus = z
  .object({
    /** Generation the agent last applied successfully (0: none yet). */
    generation: Generation,
    applying: Generation.nullable(),
    files: z.array(FileState),
    services: z.array(ServiceState),
    health: z.array(ComponentHealth),
    metrics: HostMetrics.nullable(),
    /** The VMM host only: its VMs (vmctl status). */
    vms: z.array(VmState).optional(),
  })
  .strict();
export type NodeStatus = z.infer<typeof NodeStatus>;
