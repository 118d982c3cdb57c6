// The spec of the rollout's unit tests (packages/coordinator/src/fleet/*.test.ts): one VM per role, the
// host named by the schema's default ("vmm").
import { type Spec, SpecSchema } from "@vmmeet/shared";

export const fleetSpec: Spec = SpecSchema.parse({
  version: 1,
  domain: "jts.fips.de",
  jitsi: { release: 9646 },
  publicAddress: "192.0.2.10",
  tls: { mode: "files", certificate: "/etc/ssl/a.pem", key: "/etc/ssl/private/a.key" },
  nodes: [
    { name: "web", role: "web", address: "100.64.1.3" },
    { name: "xmpp", role: "xmpp", address: "100.64.2.3" },
    { name: "jicofo", role: "jicofo", address: "100.64.3.3" },
    { name: "jvb", role: "jvb", address: "100.64.4.3" },
  ],
});
