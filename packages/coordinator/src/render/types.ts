// The renderer contract. A renderer is a pure function of the validated spec and the deployment's
// generated material (secrets, PKI): no filesystem, clock, randomness or process. One module per
// component; index.ts composes them into one NodeDesired per node.
import type { FileEntryInput, NodeSpec, ServiceEntry, SetupAction, Spec } from "@vmmeet/shared";

/** Generated once per deployment, kept in the state directory (0600), never in the spec, never printed. */
export interface Secrets {
  /** prosody user focus@auth.DOMAIN; jicofo.xmpp.client.password. */
  focusPassword: string;
  /** prosody user jvb@auth.DOMAIN; jvb.conf password. */
  jvbPassword: string;
  /** Password of the PKCS#12 truststores (JICOFO_TRUSTSTORE_PASSWORD, JVB_TRUSTSTORE_PASSWORD). */
  truststorePassword: string;
  /** coturn static-auth-secret == prosody external_service_secret. */
  turnSecret: string;
}

/** The deployment CA and what it signs. PEM strings; the truststore as base64 PKCS#12 bytes. */
export interface Pki {
  caCertPem: string;
  /** Certificate for auth.DOMAIN that prosody serves on c2s (5222), signed by the CA. */
  authCertPem: string;
  authKeyPem: string;
  /** PKCS#12 truststore holding the CA as a trusted certificate entry (Java 9+ default keystore type). */
  truststoreP12Base64: string;
}

export interface RenderInput {
  spec: Spec;
  secrets: Secrets;
  pki: Pki;
}

/** A log file that syslogd writes for a `!program` block, with its newsyslog(8) rotation. */
export interface ProgramLog {
  program: string;
  path: string;
  owner: string;
  group: string;
  mode: string;
  /** newsyslog.conf count and size (KB) columns. */
  keep: number;
  sizeKb: number;
  /**
   * A log the program writes itself (no syslog.conf block, no file made for syslogd): newsyslog sends
   * `signal` to the pid in `pidfile` after the rotation so that the program reopens it.
   */
  self?: { pidfile: string; signal: string };
}

export interface ComponentRender {
  files: FileEntryInput[];
  services: ServiceEntry[];
  actions: SetupAction[];
  /** syslog.conf program blocks (and newsyslog lines) this component needs on its VM. */
  programLogs: ProgramLog[];
  /** Logs the agent tails for this component's health, and its probes. */
  logs: { component: "prosody" | "jicofo" | "jvb" | "nginx"; path: string; tag?: string }[];
  probes: {
    component: "prosody" | "jicofo" | "jvb" | "nginx";
    service: string;
    http?: string;
    ports?: number[];
  }[];
}

export type ComponentRenderer = (input: RenderInput, node: NodeSpec) => ComponentRender;
