import * as z from "zod";

/**
 * Log-derived health: what an agent reports after classifying a line (or a multi-line
 * java.util.logging record) of prosody, jicofo, jvb or nginx.
 *
 * - healthy: the line proves something works (jicofo logged in, a bridge joined the brewery)
 * - degraded: something is wrong but service continues (a bridge left, an upstream timed out)
 * - failed: a known failure (truststore rejected, wrong password, no bridge available)
 * - info: no health meaning (also every line that matches no rule)
 */
export const HealthLabelSchema = z.enum(["healthy", "degraded", "failed", "info"]);
export type HealthLabel = z.infer<typeof HealthLabelSchema>;

/** The components whose logs are classified (one VM each, nginx on the "web" VM). */
export const LogComponentSchema = z.enum(["prosody", "jicofo", "jvb", "nginx"]);
export type LogComponent = z.infer<typeof LogComponentSchema>;

/** A signal name: lower-case words joined by dashes, e.g. `brewery-instance-added`. */
export const SignalNameSchema = z
  .string()
  .max(64)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, "lower-case words joined by dashes");
export type SignalName = z.infer<typeof SignalNameSchema>;

/**
 * A detail a rule extracted from a line (a bridge JID, a port, an address, a version).
 * Never the raw line and never a password: rules only capture named, non-secret fields.
 */
export const SignalDetailSchema = z.string().max(256);

/** One JSON object per record printed by `vmmeet-agent classify`. */
export const ClassifyOutputSchema = z
  .object({
    signal: SignalNameSchema.nullable(),
    label: HealthLabelSchema,
    explain: z.string().min(1).max(1000),
  })
  .strict();
export type ClassifyOutput = z.infer<typeof ClassifyOutputSchema>;

/** A health signal as the agent reports it to the coordinator. */
export const HealthSignalSchema = z
  .object({
    component: LogComponentSchema,
    signal: SignalNameSchema,
    label: HealthLabelSchema,
    /** What the line means, for an admin. */
    explain: z.string().min(1).max(1000),
    /** What an admin would do about it (absent for healthy/info signals). */
    fix: z.string().min(1).max(1000).optional(),
    detail: SignalDetailSchema.optional(),
    /** Where the line was read (a log file path), if known. */
    source: z.string().max(1024).optional(),
    /** When the agent observed the line (the agent's clock, not the log's timestamp). */
    at: z.iso.datetime(),
  })
  .strict();
export type HealthSignal = z.infer<typeof HealthSignalSchema>;
