// The names of the generated secrets, apart from their store: the admin channel's schema (admin/methods.ts)
// names them, and the CLI that loads it should not load the PKI code behind the store.
import type { Secrets } from "../render/types.js";

export const SECRET_NAMES = [
  "focusPassword",
  "jvbPassword",
  "truststorePassword",
  "turnSecret",
] as const satisfies readonly (keyof Secrets)[];
export type SecretName = (typeof SECRET_NAMES)[number];
