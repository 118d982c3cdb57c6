// The deployment spec, one module a job (spec/): the field types (fields.ts), the machines (nodes.ts), the
// Jitsi packages (jitsi.ts), how the coordinator operates (operations.ts), the whole document (schema.ts),
// the cross-field rules (rules.ts) and the values renderers derive from a valid spec (derived.ts). This is
// what the package exports of them.
export {
  breweryJid,
  jvbNickname,
  jvbUdpPort,
  nodeByRole,
  releaseOf,
  tlsPaths,
  vmMemory,
} from "./spec/derived.js";
export { AbsPath, Cidr, DomainName, Ipv4, inCidr, ipToInt, NodeName, Size } from "./spec/fields.js";
export { RELEASES } from "./spec/jitsi.js";
export { HOST_ROLE, type NodeRole, NodeSpec, ROLES, Role } from "./spec/nodes.js";
export { RECOVERY_SECONDS_DEFAULT } from "./spec/operations.js";
export { SPEC_VERSION, type Spec, type SpecInput, SpecSchema } from "./spec/schema.js";
