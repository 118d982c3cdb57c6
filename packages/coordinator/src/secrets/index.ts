// Generated secrets and the deployment's internal TLS: see store.ts for the state directory, ca.ts for the
// CA and pkcs12.ts for the Java truststore.
export {
  type CaMaterial,
  type CertInfo,
  type CertUsage,
  certInfo,
  createCa,
  type IssuedCert,
  isSignedBy,
  issueClientCert,
  issueServerCert,
  keyMatchesCert,
  type SignRequest,
  signCertificate,
} from "./ca.js";
export { MaterialCache, type MaterialCacheOptions } from "./cache.js";
export {
  type MacHash,
  readTrustStore,
  type TrustStoreEntry,
  TrustStoreMacError,
  trustStoreP12,
} from "./pkcs12.js";
export {
  AUTH_CERT_DAYS,
  authDomain,
  generatePassword,
  loadCa,
  loadOrCreateMaterial,
  type Material,
  type MaterialLogger,
  type MaterialOptions,
  RENEW_BEFORE_DAYS,
  rotateSecret,
  SECRET_NAMES,
  type SecretName,
  STATE_FILES,
  StateDirError,
} from "./store.js";
