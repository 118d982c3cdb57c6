// Enrollment with the coordinator (--join TOKEN --ca-hash sha256:HEX) and the CA pin used by the transport.
export {
  ENROLL_DIR,
  ENROLL_FILES,
  EnrollError,
  type Enrollment,
  type EnrollOptions,
  enroll,
  enrollBase,
  joinTokenId,
  loadEnrollment,
  saveEnrollment,
} from "./enroll.js";
export { parseCaHash, pinnedServerIdentity } from "./pin.js";
export { isLoopbackUrl, type SecureStart, type SecureStartOptions, secureStart } from "./startup.js";
