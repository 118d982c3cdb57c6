// Agent enrollment and authentication: join tokens and the enrolled agents (store.ts), the coordinator's
// TLS server certificate (tls.ts), the enrollment endpoint and the hello check (service.ts).
export {
  type AgentAuthorization,
  type AuditInput,
  CLIENT_CERT_DAYS,
  ENROLL_CA_PATH,
  ENROLL_PATH,
  EnrollmentService,
  type EnrollmentServiceOptions,
  enrollChallenge,
  RefusalAuditor,
} from "./service.js";
export {
  type AgentRecord,
  DEFAULT_TOKEN_TTL_MS,
  ENROLL_FILE,
  EnrollmentStore,
  hashToken,
  MAX_TOKEN_TTL_MS,
  parseTtl,
  TOKEN_RE,
  type TokenRecord,
  TokenRefused,
  tokenId,
} from "./store.js";
export {
  loadServerTls,
  SERVER_CERT_DAYS,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  type ServerTls,
  serverCertProblem,
  serverNames,
} from "./tls.js";
