// tls.mode acme end to end on one web VM: the coordinator's rendering of the web node (its nginx files and
// acme-certificate action) pushed by a fake coordinator to the real agent process (dist/main.js), with the
// rcctl test double and an nginx stand-in that, like nginx, will not start without its certificate files.
// openssl is Debian's; acme-client is a stand-in script (acme-client(1)'s exit statuses; on success it
// writes a certificate for the domain key, as the real one does).
import { X509Certificate } from "node:crypto";
import { chmod, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { AgentToCoordinator, NodeDesired } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { renderDeployment } from "../packages/coordinator/src/render/index.js";
import { writeRcScript } from "./doubles/rcctl/index.js";
import { fakeInput } from "./fixtures/material.js";
import { agentSandbox, sandboxAgentArgs } from "./helpers/agent-sandbox.js";
import { fakeCoordinator } from "./helpers/fake-coordinator.js";
import { spawnAgent, useCleanups } from "./helpers/processes.js";
import { waitFor } from "./helpers/wait.js";

const cleanups = useCleanups();
const DOMAIN = "jts.fips.de";
type ApplyResultFrame = Extract<AgentToCoordinator, { type: "apply-result" }>;
const CERT = `/etc/ssl/${DOMAIN}.fullchain.pem`;
const KEY = `/etc/ssl/private/${DOMAIN}.key`;

/** The web node of the paper's topology with tls.mode acme: nginx's part and the certificate action. */
function webDesired(): NodeDesired {
  const input = fakeInput("paper-7648.yaml", (raw) => {
    raw["tls"] = { mode: "acme" };
  });
  const web = renderDeployment(input)["web"]!;
  // Only what this test's stand-ins cover (pf.conf would need pfctl, syslog.conf syslogd).
  return {
    ...web,
    files: web.files.filter((f) => /^\/(etc\/nginx|var\/www|etc\/acme-client)/.test(f.path)),
    services: web.services.filter((s) => s.name === "nginx"),
    actions: web.actions.filter((a) => a.kind === "acme-certificate"),
  };
}

async function sandbox() {
  const s = await agentSandbox("vmmeet-acme-", cleanups);
  const cert = path.join(s.root, CERT);
  const key = path.join(s.root, KEY);
  const reloads = path.join(s.dir, "nginx-reloads");
  const nginx = path.join(s.dir, "nginx-stand-in.sh");
  // nginx stand-in: exits at once without its certificate files (nginx: "cannot load certificate"); on HUP
  // (rc.d's reload) it records the certificate it would now serve.
  await writeFile(
    nginx,
    `[ -f '${cert}' ] && [ -f '${key}' ] || exit 1
trap 'openssl x509 -noout -fingerprint -sha256 -in "${cert}" >> "${reloads}"' HUP
trap 'kill $! 2>/dev/null; exit 0' TERM
while :; do sleep 3600 & wait $!; done
`,
  );
  await writeRcScript(s.root, "nginx", { daemon: `/bin/sh ${nginx} nginx-stand-in`, timeout: 5 });
  const calls = path.join(s.dir, "acme-calls");
  const mode = path.join(s.dir, "acme-mode");
  const acme = path.join(s.dir, "acme-client-stand-in");
  await writeFile(
    acme,
    `#!/bin/sh
printf '%s\\n' "$*" >> '${calls}'
if [ "$(cat '${mode}')" = issue ]; then
  openssl req -new -x509 -days 90 -subj /CN=${DOMAIN} -key '${key}' -out '${cert}.new' 2>/dev/null || exit 1
  mv '${cert}.new' '${cert}'
  exit 0
fi
echo "acme-client: ${DOMAIN}: DNS problem: NXDOMAIN looking up A for ${DOMAIN}" >&2
exit 1
`,
  );
  await chmod(acme, 0o755);
  const setMode = (m: "issue" | "fail") => writeFile(mode, m);
  const lines = (p: string) =>
    readFile(p, "utf8").then(
      (t) => t.split("\n").filter((l) => l !== ""),
      () => [] as string[],
    );
  return { ...s, cert, acme, setMode, calls: () => lines(calls), reloads: () => lines(reloads) };
}

describe("tls.mode acme on a fresh web VM", () => {
  it("nginx starts with a placeholder, acme-client's certificate is served after a reload; a failure only defers", async () => {
    const s = await sandbox();
    await s.setMode("fail");
    const coord = await fakeCoordinator({ cleanups });
    const agent = spawnAgent(
      [
        ...sandboxAgentArgs(s, "web"),
        "--role",
        "web",
        "--coordinator",
        coord.url,
        "--openssl",
        "/usr/bin/openssl",
        "--acme-client",
        s.acme,
      ],
      { cleanups },
    );
    await waitFor(() => coord.frames.some((f) => f.type === "snapshot"), {
      what: "agent connected",
      timeoutMs: 20_000,
    });
    const push = async (generation: number) => {
      coord
        .socket()!
        .send(JSON.stringify({ type: "desired", id: `d${generation}`, generation, desired: webDesired() }));
      return waitFor(
        () =>
          coord.frames.find(
            (f): f is ApplyResultFrame => f.type === "apply-result" && f.replyTo === `d${generation}`,
          ),
        { what: `apply result ${generation}`, timeoutMs: 60_000 },
      );
    };
    const acmeItems = (r: ApplyResultFrame) =>
      r.items.filter((i) => i.target === `acme-certificate ${DOMAIN}`).map((i) => `${i.status}: ${i.detail}`);

    // DNS not ready: the push succeeds (no rollback), nginx serves the placeholder, the reason is reported.
    const first = await push(1);
    expect(first.ok, first.error).toBe(true);
    const [placeholder, deferred] = acmeItems(first);
    expect(placeholder).toMatch(/^done: wrote a self-signed placeholder certificate and key/);
    expect(deferred).toBe(
      `skipped: acme-client exited 1: acme-client: ${DOMAIN}: DNS problem: NXDOMAIN looking up A for ${DOMAIN}; nginx serves the self-signed placeholder; tried again later`,
    );
    expect(first.items).toContainEqual({ kind: "service", target: "nginx", status: "started" });
    expect(await s.calls()).toEqual([`-F -v ${DOMAIN}`]);
    const placeholderCert = new X509Certificate(await readFile(s.cert));
    expect(placeholderCert.subject).toBe(`CN=${DOMAIN}`);
    expect(placeholderCert.issuer).toBe(placeholderCert.subject);

    // DNS ready: the next push runs acme-client again, and nginx is reloaded onto its certificate.
    await s.setMode("issue");
    const second = await push(2);
    expect(second.ok, second.error).toBe(true);
    expect(acmeItems(second)).toEqual([
      expect.stringMatching(/^done: new certificate, valid until .*; nginx reloaded$/),
    ]);
    const served = new X509Certificate(await readFile(s.cert));
    expect(served.fingerprint256).not.toBe(placeholderCert.fingerprint256);
    const reloads = await waitFor(
      async () => {
        const r = await s.reloads();
        return r.length > 0 ? r : null;
      },
      { what: "nginx reloaded" },
    );
    expect(reloads.at(-1)!.replace(/^.*Fingerprint=/, "")).toBe(served.fingerprint256);

    // Nothing left to do: a third push runs neither acme-client nor a reload.
    const third = await push(3);
    expect(acmeItems(third)).toEqual([expect.stringMatching(/^skipped: valid until /)]);
    expect(await s.calls()).toHaveLength(2);
    expect(agent.output()).not.toContain("PRIVATE KEY");
  }, 120_000);
});
