// The admin channel's contract (the root-only unix socket between `vmmeet` and `vmmeet serve`): for each
// method the schema of its params, of its result and of the events it streams before the result. The daemon
// validates params against it before a handler runs (server/admin.ts); the CLI validates what comes back
// (cli/admin.ts). The types of the reports (status, plan, push outcome, audit entry) come from these schemas.
// Zod and the protocol's schemas only: the CLI loads this module at every start.
import { AgentEvent, ComponentHealth, Generation, HostMetrics, ServiceState, VmState } from "@vmmeet/shared";
import * as z from "zod";
import { DEFAULT_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS } from "../enroll/store.js";
import { SECRET_NAMES } from "../secrets/names.js";

// --- reports --------------------------------------------------------------------------------------------

export const NodePhase = z.enum([
  "waiting",
  "applying",
  "restarting",
  "gating",
  "healthy",
  "failed",
  "rolled-back",
  "unchanged",
]);
export type NodePhase = z.infer<typeof NodePhase>;

export const PushEvent = z.object({
  at: z.string(),
  kind: z.enum(["accepted", "stage", "node", "rollback", "done"]),
  generation: Generation,
  node: z.string().optional(),
  phase: NodePhase.optional(),
  stage: z.string().optional(),
  message: z.string(),
});
export type PushEvent = z.infer<typeof PushEvent>;

export const PushOutcome = z.object({
  ok: z.boolean(),
  generation: Generation,
  rolledBackTo: Generation.optional(),
  message: z.string(),
  nodes: z.record(z.string(), NodePhase),
});
export type PushOutcome = z.infer<typeof PushOutcome>;

/** `push --no-wait`: the generation is stored and rolls out in the daemon. */
export const PushAccepted = z.object({ accepted: z.literal(true), generation: Generation });
export type PushAccepted = z.infer<typeof PushAccepted>;

export const FilePlan = z.object({
  path: z.string(),
  change: z.enum(["create", "modify", "drift", "mode", "unchanged"]),
  /** Unified diff with secret values masked; empty for unchanged files and binary content. */
  diff: z.string(),
  secret: z.boolean(),
});
export type FilePlan = z.infer<typeof FilePlan>;

export const NodePlan = z.object({
  node: z.string(),
  files: z.array(FilePlan),
  restarts: z.array(z.string()),
  reloads: z.array(z.string()),
  /**
   * Components on other nodes that drop and reconnect by themselves when these restarts happen (they are
   * not restarted): "jicofo on jicofo (XMPP (5222))". Filled in by the coordinator, which knows the spec.
   */
  reconnects: z.array(z.string()),
  actions: z.array(z.string()),
  /** The node never reported, so every file is shown as new. */
  unknownBaseline: z.boolean(),
});
export type NodePlan = z.infer<typeof NodePlan>;

export const PlanResult = z.object({ plans: z.array(NodePlan), changes: z.boolean() });
export type PlanResult = z.infer<typeof PlanResult>;

/** A node and its agent's link, as status and `vmmeet agents` list them. */
const NodeLink = z.object({
  node: z.string(),
  role: z.string(),
  connected: z.boolean(),
  lastSeen: z.string().nullable(),
  agentVersion: z.string().nullable(),
});

export const NodeReport = NodeLink.extend({
  generation: z.object({ applied: Generation, desired: Generation }),
  services: z.array(ServiceState),
  health: z.array(ComponentHealth.extend({ ageSeconds: z.number() })),
  metrics: HostMetrics.nullable(),
  /** The VMM host: its VMs as vmctl reports them. */
  vms: z.array(VmState).optional(),
  events: z.array(AgentEvent),
  /**
   * Its clock against the coordinator's (agent minus coordinator, with the measurement's bound), with a
   * warning past fleet/clock.ts SKEW_WARN_MS. Every time in this report is on the coordinator's clock: the
   * agent's are translated by this skew as they arrive.
   */
  clock: z
    .object({
      skewMs: z.number(),
      uncertaintyMs: z.number(),
      measuredAt: z.string(),
      warning: z.string().optional(),
    })
    .optional(),
});
export type NodeReport = z.infer<typeof NodeReport>;

export const StatusReport = z.object({
  at: z.string(),
  /** conference-ready, degraded or down, with the reasons (packages/shared/src/verdict.ts). */
  verdict: z.object({
    verdict: z.enum(["conference-ready", "degraded", "down"]),
    reasons: z.array(z.string()),
  }),
  /** Raised by the heal schedule when the verdict has been down for longer than operations.heal.alarmAfterSeconds. */
  alarm: z.object({ since: z.string(), reasons: z.array(z.string()) }).nullable(),
  desiredGeneration: Generation,
  pushRunning: z.object({ generation: Generation, by: z.string(), since: z.string() }).nullable(),
  nodes: z.array(NodeReport),
});
export type StatusReport = z.infer<typeof StatusReport>;

/** A line of the audit log, and every live event `events --follow` streams (server/feed.ts). */
export const AuditEntry = z.object({
  at: z.string(),
  kind: z.string(),
  by: z.string().optional(),
  node: z.string().optional(),
  generation: Generation.optional(),
  result: z.string().optional(),
  message: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

export const AgentRow = NodeLink.extend({
  applied: Generation,
  enrollment: z.enum(["insecure", "enrolled", "revoked", "pending", "none"]),
  certificateUntil: z.string().nullable(),
});
export type AgentRow = z.infer<typeof AgentRow>;

export const AgentToken = z.object({
  node: z.string(),
  token: z.string(),
  tokenId: z.string(),
  expiresAt: z.string(),
  caHash: z.string(),
  role: z.string().nullable(),
});
export type AgentToken = z.infer<typeof AgentToken>;

export const AgentRevoked = z.object({
  node: z.string(),
  revoked: z.boolean(),
  fingerprint: z.string().nullable(),
  tokens: z.number().int(),
  wasConnected: z.boolean(),
});
export type AgentRevoked = z.infer<typeof AgentRevoked>;

// --- params ---------------------------------------------------------------------------------------------

const NodeName = z
  .string()
  .regex(/^[a-z][a-z0-9]{0,30}$/, "must be a node name (lower-case letters and digits)");
const TimeoutMs = z.number().int().positive().default(300_000);
const SpecParams = z.object({ specText: z.string(), file: z.string() }).strict();
const NoParams = z.object({}).strict();
const NoEvents = z.never();

// --- the methods ----------------------------------------------------------------------------------------

export const ADMIN_METHODS = {
  /** What a push of the spec would change, per node. */
  plan: { params: SpecParams, result: PlanResult, event: NoEvents },
  /** Validate, store and roll out a spec; with noWait, answer once the generation is stored. */
  push: {
    params: SpecParams.extend({ timeoutMs: TimeoutMs, noWait: z.boolean().default(false) }),
    result: z.union([PushOutcome, PushAccepted]),
    event: PushEvent,
  },
  /** New values for the named secrets, then a push of the spec in force. */
  rotate: {
    params: z.object({ secrets: z.array(z.enum(SECRET_NAMES)).min(1), timeoutMs: TimeoutMs }).strict(),
    result: PushOutcome,
    event: PushEvent,
  },
  status: { params: NoParams, result: StatusReport, event: NoEvents },
  agents: { params: NoParams, result: z.array(AgentRow), event: NoEvents },
  "agent-token": {
    params: z
      .object({
        node: NodeName,
        ttlSeconds: z
          .number()
          .int()
          .min(1)
          .max(MAX_TOKEN_TTL_MS / 1000, `the token lifetime must be 1 s to ${MAX_TOKEN_TTL_MS / 3_600_000} h`)
          .default(DEFAULT_TOKEN_TTL_MS / 1000),
      })
      .strict(),
    result: AgentToken,
    event: NoEvents,
  },
  "agent-revoke": { params: z.object({ node: NodeName }).strict(), result: AgentRevoked, event: NoEvents },
  /** The latest audit entries (oldest first), then with follow every live event until the request ends. */
  events: {
    params: z
      .object({ limit: z.number().int().min(0).default(50), follow: z.boolean().default(false) })
      .strict(),
    result: z.object({ count: z.number().int() }),
    event: AuditEntry,
  },
} as const;

export type AdminMethod = keyof typeof ADMIN_METHODS;
type Methods = typeof ADMIN_METHODS;
/** What a caller sends (defaults may be left out). */
export type AdminParams<M extends AdminMethod> = z.input<Methods[M]["params"]>;
/** What a handler gets: validated, defaults filled in. */
export type AdminParamsParsed<M extends AdminMethod> = z.output<Methods[M]["params"]>;
export type AdminResult<M extends AdminMethod> = z.output<Methods[M]["result"]>;
export type AdminEvent<M extends AdminMethod> = z.output<Methods[M]["event"]>;
/** What a handler may give (the daemon's side, before any default or transform). */
export type AdminResultInput<M extends AdminMethod> = z.input<Methods[M]["result"]>;
export type AdminEventInput<M extends AdminMethod> = z.input<Methods[M]["event"]>;

/**
 * The same table, typed per method through a mapped type: a function generic in the method gets that
 * method's schemas from `SCHEMAS[method]` (TypeScript relates an index to its key only this way).
 */
export const SCHEMAS: {
  [M in AdminMethod]: {
    params: z.ZodType<AdminParamsParsed<M>, AdminParams<M>>;
    result: z.ZodType<AdminResult<M>, AdminResultInput<M>>;
    event: z.ZodType<AdminEvent<M>, AdminEventInput<M>>;
  };
} = ADMIN_METHODS;

export function isAdminMethod(method: string): method is AdminMethod {
  return Object.hasOwn(ADMIN_METHODS, method);
}

/** `method.field: message` for each problem, the way every other bad input is reported. */
export function describeIssues(method: string, error: z.ZodError): string {
  return error.issues
    .flatMap((issue) => {
      if (issue.code === "unrecognized_keys")
        return issue.keys.map((k) => `${[method, ...issue.path.map(String), k].join(".")}: not a parameter`);
      return [`${[method, ...issue.path.map(String)].join(".")}: ${issue.message}`];
    })
    .join("; ");
}
