// A node's desired state: what the renderers produce for one VM (or the VMM host) and what the agent
// enforces. The same shapes travel in the protocol's desired-state frame, are written by `vmmeet render`
// as NODE/node.json, and are kept by the agent as its last applied state.
import * as z from "zod";
import { LogComponentSchema } from "./health.js";
import { AbsPath, HOST_ROLE, NodeName, ROLES } from "./spec.js";

/** Unix file mode as four octal digits ("0640"): readable in JSON, YAML and diffs. */
export const FileMode = z.string().regex(/^0[0-7]{3}$/, "must be an octal mode like 0644");
const Account = z.string().regex(/^[_a-z][_a-z0-9-]{0,31}$/, "must be a user or group name");
const ServiceName = z
  .string()
  .regex(/^[_A-Za-z][_A-Za-z0-9]*$/, "must be an rc.d service name (rcctl(8): no dashes)");

export const ServiceAction = z.enum(["restart", "reload"]);

export const FileEntry = z
  .object({
    path: AbsPath,
    content: z.string(),
    encoding: z.enum(["utf8", "base64"]).default("utf8"),
    mode: FileMode,
    owner: Account,
    group: Account,
    /** The content holds a secret: never shown in plan diffs, logs, status or events. */
    secret: z.boolean().default(false),
    /** What a change of this file requires, in the order given. */
    notify: z.array(z.object({ service: ServiceName, action: ServiceAction }).strict()).default([]),
  })
  .strict();
export type FileEntry = z.infer<typeof FileEntry>;
export type FileEntryInput = z.input<typeof FileEntry>;

/**
 * A service's grace period when its entry gives none: seconds after a (re)start during which its failures
 * are expected. The agent's service owner, its health trackers and the coordinator's heal scheduler all
 * read this one value.
 */
export const DEFAULT_GRACE_SECONDS = 10;

export const ServiceEntry = z
  .object({
    name: ServiceName,
    /** rc.conf.local flags set with `rcctl set NAME flags ...`; null keeps the rc.d script's defaults. */
    flags: z
      .string()
      .regex(/^[^\n\r#]*$/, "flags cannot hold newlines or '#' (rc.subr drops text after '#')")
      .nullable(),
    /** Start order within the node (ascending). */
    order: z.number().int(),
    /** Seconds after a (re)start during which failures are expected (the JVMs are slow to come up). */
    graceSeconds: z.number().int().min(0).default(DEFAULT_GRACE_SECONDS),
  })
  .strict();
export type ServiceEntry = z.infer<typeof ServiceEntry>;

// Setup actions: a closed set. Each is idempotent and checks before it acts; no shell command ever comes
// from the network, only these parameters.
export const SetupAction = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("prosody-user"),
      host: z.string().regex(/^[a-z0-9.-]+$/),
      user: z.string().regex(/^[a-z][a-z0-9_-]{0,30}$/),
      /** Secret: redacted everywhere but the prosodyctl invocation on the VM. */
      password: z.string().min(1),
      /** "13": made with `prosodyctl shell` (a running prosody 13); absent: `prosodyctl register`. */
      prosody: z.literal("13").optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("prosody-roster-subscribe"),
      /** `prosodyctl mod_roster_command subscribe PROXY JID` (the paper, section VIII.A). */
      proxy: z.string().regex(/^[a-z0-9.-]+$/),
      jid: z.string().regex(/^[a-z0-9_-]+@[a-z0-9.-]+$/),
      /** "13": `prosodyctl shell roster subscribe_both JID PROXY`; absent: mod_roster_command. */
      prosody: z.literal("13").optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("syslog-logfile"),
      /** syslogd(8) does not create files: the log file of a `!program` block must exist, then syslogd is HUPed. */
      path: AbsPath,
      mode: FileMode,
      owner: Account,
      group: Account,
    })
    .strict(),
  z
    .object({
      kind: z.literal("acme-certificate"),
      /**
       * acme-client.conf's `domain` block, run as `acme-client -v DOMAIN` (acme-client(1)). A DNS name that
       * cannot start with '-', so it is never read as an option.
       */
      domain: z
        .string()
        .regex(
          /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/,
          "must be a lower-case DNS name",
        ),
      /** `domain full chain certificate` of acme-client.conf: what nginx's ssl_certificate reads. */
      certificate: AbsPath,
      /** `domain key` of acme-client.conf: nginx's ssl_certificate_key. */
      key: AbsPath,
      /** acme-client.conf's `challengedir`, served by nginx on port 80 for the http-01 challenge. */
      challengeDir: AbsPath,
      /** Renewal starts when the certificate expires within this many days (Let's Encrypt issues 90). */
      renewBeforeDays: z.number().int().min(1).max(60),
    })
    .strict(),
]);
export type SetupAction = z.infer<typeof SetupAction>;

export const LogSource = z
  .object({
    component: LogComponentSchema,
    path: AbsPath,
    /** Only lines of this syslog tag count (for shared files like /var/log/daemon). */
    tag: z
      .string()
      .regex(/^[A-Za-z0-9_.-]+$/)
      .optional(),
  })
  .strict();

export const HealthProbe = z
  .object({
    component: LogComponentSchema,
    service: ServiceName,
    /** HTTP health endpoint on loopback, e.g. jicofo's and jvb's /about/health. */
    http: z
      .string()
      .regex(/^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?\/[A-Za-z0-9/_.-]*$/)
      .optional(),
    /** TCP ports that must accept connections on loopback. */
    ports: z.array(z.number().int().min(1).max(65535)).default([]),
  })
  .strict();

export const HealthSpec = z
  .object({
    release: z.number().int(),
    logs: z.array(LogSource).default([]),
    probes: z.array(HealthProbe).default([]),
    /**
     * jicofo's node: the MUC nicknames of the spec's bridges. A bridge that leaves jicofo's brewery and is
     * not among them was taken out of the spec: its departure is expected, not a problem.
     */
    bridges: z.array(z.string().min(1).max(1023)).optional(),
  })
  .strict();

export const NodeRoleSchema = z.enum([...ROLES, HOST_ROLE]);

/**
 * pf(4) commit-confirm: a changed pf.conf is loaded, then reverted unless the coordinator confirms within
 * this many seconds over the link the apply result went out on (the spec's operations.pfConfirmSeconds).
 */
export const PfSettings = z.object({ confirmSeconds: z.number().int().min(1).max(3600) }).strict();
export type PfSettings = z.infer<typeof PfSettings>;

/** A VM of the VMM host (vm.conf's names): the host's agent starts the enabled ones vmd does not run. */
export const VmEntry = z.object({ name: NodeName, enable: z.boolean() }).strict();
export type VmEntry = z.infer<typeof VmEntry>;

export const NodeDesired = z
  .object({
    node: z.string(),
    role: NodeRoleSchema,
    files: z.array(FileEntry),
    services: z.array(ServiceEntry),
    actions: z.array(SetupAction),
    health: HealthSpec,
    /** Absent: the agent's default confirm window (60 s). */
    pf: PfSettings.optional(),
    /** The host only: the deployment's VMs, as vm.conf defines them. */
    vms: z.array(VmEntry).optional(),
  })
  .strict();
export type NodeDesired = z.infer<typeof NodeDesired>;
export type NodeDesiredInput = z.input<typeof NodeDesired>;
