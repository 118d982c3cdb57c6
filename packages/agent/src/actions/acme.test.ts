// The acme-certificate action through the real apply engine on a temp root: Debian's real openssl makes the
// placeholder, a stand-in acme-client (a sh script this test writes) answers with acme-client(1)'s exit
// statuses and, like the real one, writes a certificate for the domain key; rcctl is the in-memory
// FakeServiceManager, whose nginx here refuses to start without its certificate files, as nginx does.
import { createPrivateKey, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { ManualClock } from "@vmmeet/node";
import {
  type AgentEvent,
  type NodeDesired,
  type NodeDesiredInput,
  NodeDesired as NodeDesiredSchema,
} from "@vmmeet/shared";
import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { engineOn } from "../../../../test/helpers/agent-engine.js";
import { capturingLogger } from "../../../../test/helpers/capture-log.js";
import { tempRootEach } from "../../../../test/helpers/temp-root.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import { Healer } from "../heal/healer.js";
import { lenientAccounts } from "../reconcile/accounts.js";
import type { ApplyResult } from "../reconcile/apply.js";
import { ApplyEngine } from "../reconcile/engine.js";
import { FakeServiceManager } from "../services/fake.js";
import type { ServiceActionResult } from "../services/manager.js";
import { execRunner } from "./runner.js";
import type { ActionItem } from "./types.js";

const OPENSSL = "/usr/bin/openssl";
const DOMAIN = "jts.fips.de";
const CERT = `/etc/ssl/${DOMAIN}.fullchain.pem`;
const KEY = `/etc/ssl/private/${DOMAIN}.key`;

const tmp = tempRootEach("vmmeet-acme-");
let acmeClient: string;
let logLines: string[];

beforeEach(async () => {
  logLines = [];
  acmeClient = await writeFakeAcmeClient();
  await setMode("issue");
});

const under = (p: string) => path.join(tmp.root, p);

/**
 * Test stand-in for acme-client(1): records its arguments, then does what DIR/mode says. "issue": writes a
 * new certificate for the existing domain key (acme-client keeps the key) and exits 0; "current": exits 2
 * (nothing to do); anything else: prints errors like acme-client's and exits 1.
 */
async function writeFakeAcmeClient(): Promise<string> {
  const p = path.join(tmp.dir, "acme-client-stand-in");
  await writeFile(
    p,
    `#!/bin/sh
printf '%s\\n' "$*" >> '${tmp.dir}/calls'
case "$(cat '${tmp.dir}/mode')" in
issue)
  ${OPENSSL} req -new -x509 -days 90 -subj /CN=${DOMAIN} -key '${under(KEY)}' -out '${under(CERT)}.new' 2>/dev/null || exit 1
  mv '${under(CERT)}.new' '${under(CERT)}'
  exit 0 ;;
current)
  echo "acme-client: ${CERT}: certificate valid: 5 days left" >&2
  exit 2 ;;
*)
  echo "acme-client: https://acme-v02.api.letsencrypt.org/acme/chall-v3/1/x: bad HTTP: 400" >&2
  echo "acme-client: ${DOMAIN}: DNS problem: NXDOMAIN looking up A for ${DOMAIN}" >&2
  exit 1 ;;
esac
`,
  );
  await chmod(p, 0o755);
  return p;
}

const setMode = (m: "issue" | "current" | "fail") => writeFile(path.join(tmp.dir, "mode"), m);

async function acmeCalls(): Promise<string[]> {
  try {
    return (await readFile(path.join(tmp.dir, "calls"), "utf8")).split("\n").filter((l) => l !== "");
  } catch {
    return [];
  }
}

/** nginx refuses to start while the files of ssl_certificate / ssl_certificate_key are missing. */
/** How often nginx was reloaded: what a new certificate needs, however nginx was set up before. */
const reloads = (svc: FakeServiceManager) => svc.actions.filter((a) => a === "reload nginx").length;

class WebServices extends FakeServiceManager {
  readonly #nginxExitsOnReload: boolean;

  constructor(options: { nginxStartFails?: boolean; nginxExitsOnReload?: boolean } = {}) {
    super({
      nginx: options.nginxStartFails ? { startFails: true } : {},
      syslogd: { enabled: true, running: true },
    });
    this.#nginxExitsOnReload = options.nginxExitsOnReload ?? false;
  }

  /** With nginxExitsOnReload: rcctl says ok, and nginx exits on what it re-read (as on a bad config). */
  override async reload(name: string): Promise<ServiceActionResult> {
    const r = await super.reload(name);
    if (name === "nginx" && this.#nginxExitsOnReload) this.services.get(name)!.running = false;
    return r;
  }

  override async start(name: string): Promise<ServiceActionResult> {
    if (name === "nginx" && !(existsSync(under(CERT)) && existsSync(under(KEY)))) {
      this.calls.push(`start ${name}`);
      return { ok: false, outcome: "failed", output: "nginx(failed)\n" };
    }
    return super.start(name);
  }
}

const logger = () => capturingLogger(logLines);

function engine(services: FakeServiceManager) {
  return engineOn(tmp, { services, log: logger(), runner: execRunner(), openssl: OPENSSL, acmeClient });
}

function webNode(role: NodeDesiredInput["role"] = "web"): NodeDesired {
  const d: NodeDesiredInput = {
    node: "web",
    role,
    files: [
      {
        path: "/etc/nginx/nginx.conf",
        content: `events {}\nhttp { server { listen 443 ssl; ssl_certificate ${CERT}; } }\n`,
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "nginx", action: "reload" }],
      },
    ],
    services: [{ name: "nginx", flags: null, order: 10 }],
    actions: [
      {
        kind: "acme-certificate",
        domain: DOMAIN,
        certificate: CERT,
        key: KEY,
        challengeDir: "/var/www/acme",
        renewBeforeDays: 30,
      },
    ],
    health: { release: 9646 },
  };
  return NodeDesiredSchema.parse(d);
}

function acmeItems(r: ApplyResult | null): ActionItem[] {
  return (r?.actions ?? []).filter((a): a is ActionItem => a.action === "acme-certificate");
}

async function fingerprint(p: string): Promise<string> {
  return new X509Certificate(await readFile(under(p))).fingerprint256;
}

/** A key and a certificate valid `days` days, as if acme-client had written them earlier. */
async function existingPair(days: number): Promise<void> {
  await mkdir(path.dirname(under(KEY)), { recursive: true, mode: 0o700 });
  const r = await execRunner().run(OPENSSL, [
    "req",
    "-new",
    "-x509",
    "-days",
    String(days),
    "-subj",
    `/CN=${DOMAIN}`,
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    under(KEY),
    "-out",
    under(CERT),
  ]);
  expect(r.code, r.stderr).toBe(0);
}

describe("acme-certificate on a fresh web node", () => {
  it("writes a placeholder, starts nginx with it, runs acme-client and reloads nginx", async () => {
    const svc = new WebServices();
    const r = await engine(svc).apply(webNode(), 1);
    expect(r.outcome).toBe("applied");
    const items = acmeItems(r);
    expect(items.map((i) => i.status)).toEqual(["done", "done"]);
    expect(items[0]!.detail).toMatch(/^wrote a self-signed placeholder certificate and key \(valid until /);
    expect(items[1]!.detail).toMatch(/^new certificate, valid until .*; nginx reloaded$/);
    // nginx started (with the placeholder: it refuses without), then was reloaded for the real one
    expect(svc.actions).toEqual(["enable nginx", "start nginx", "reload nginx"]);
    expect(svc.services.get("nginx")!.running).toBe(true);
    // the placeholder is the agent's own: acme-client is forced past its "still valid" check
    expect(await acmeCalls()).toEqual([`-F -v ${DOMAIN}`]);
    // key 0600 in a 0700 directory, certificate 0644
    expect((await stat(under(KEY))).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(under(KEY)))).mode & 0o777).toBe(0o700);
    expect((await stat(under(CERT))).mode & 0o777).toBe(0o644);
    expect((await stat(under("/var/www/acme"))).isDirectory()).toBe(true);
    // acme.json: the placeholder is forgotten once replaced
    expect(JSON.parse(await readFile(path.join(tmp.stateDir, "acme.json"), "utf8"))).toEqual({
      [DOMAIN]: {},
    });
    // no temp directory left beside the key, and no key material in the result or the logs
    expect(await readdir(path.dirname(under(KEY)))).toEqual([`${DOMAIN}.key`]);
    expect(JSON.stringify(r)).not.toContain("PRIVATE KEY");
    expect(logLines.join("")).not.toContain("PRIVATE KEY");
  });

  it("a second apply runs nothing: no openssl, no acme-client, no reload", async () => {
    const svc = new WebServices();
    const e = engine(svc);
    expect((await e.apply(webNode(), 1)).outcome).toBe("applied");
    const fp = await fingerprint(CERT);
    svc.calls.length = 0;
    const again = await e.apply(webNode(), 2);
    expect(again.outcome).toBe("applied");
    expect(again.changed).toBe(false);
    expect(acmeItems(again)).toEqual([
      expect.objectContaining({
        status: "skipped",
        detail: expect.stringMatching(/^valid until .*; renewed from /),
      }),
    ]);
    expect(svc.actions).toEqual([]);
    expect(await acmeCalls()).toHaveLength(1);
    expect(await fingerprint(CERT)).toBe(fp);
    // enforcing (agent start, the healer) is the same
    expect(acmeItems(await e.enforce())[0]!.status).toBe("skipped");
    expect(await acmeCalls()).toHaveLength(1);
  });

  it("acme-client failing does not fail the apply: nginx serves the placeholder, the reason is reported", async () => {
    await setMode("fail");
    const svc = new WebServices();
    const e = engine(svc);
    const r = await e.apply(webNode(), 1);
    expect(r.outcome).toBe("applied");
    const [placeholder, acme] = acmeItems(r);
    expect(placeholder!.status).toBe("done");
    expect(acme).toMatchObject({ status: "skipped", deferred: true });
    expect(acme!.detail).toBe(
      `acme-client exited 1: acme-client: https://acme-v02.api.letsencrypt.org/acme/chall-v3/1/x: bad HTTP: 400 | acme-client: ${DOMAIN}: DNS problem: NXDOMAIN looking up A for ${DOMAIN}; nginx serves the self-signed placeholder; tried again later`,
    );
    // nginx runs on the placeholder; nothing to reload
    expect(svc.services.get("nginx")!.running).toBe(true);
    expect(reloads(svc)).toBe(0);
    const fp = await fingerprint(CERT);
    expect(JSON.parse(await readFile(path.join(tmp.stateDir, "acme.json"), "utf8"))).toEqual({
      [DOMAIN]: { placeholder: fp },
    });
    // the next try (an apply, the agent's start or the healer's check) runs acme-client again, forced
    await setMode("issue");
    const retry = await e.enforce();
    expect(acmeItems(retry)).toEqual([expect.objectContaining({ status: "done" })]);
    expect(await acmeCalls()).toEqual([`-F -v ${DOMAIN}`, `-F -v ${DOMAIN}`]);
    expect(await fingerprint(CERT)).not.toBe(fp);
    expect(reloads(svc)).toBe(1);
  });

  it("an acme-client that cannot run is deferred too", async () => {
    const e = new ApplyEngine({
      root: tmp.root,
      stateDir: tmp.stateDir,
      services: new WebServices(),
      accounts: lenientAccounts(),
      log: logger(),
      openssl: OPENSSL,
      acmeClient: path.join(tmp.dir, "no-such-acme-client"),
    });
    const r = await e.apply(webNode(), 1);
    expect(r.outcome).toBe("applied");
    expect(acmeItems(r)[1]).toMatchObject({ status: "skipped", deferred: true });
    expect(acmeItems(r)[1]!.detail).toContain("no-such-acme-client -F -v jts.fips.de: ENOENT");
  });

  it("nginx not starting (for another reason) fails the apply; acme-client is not run without it", async () => {
    const svc = new WebServices({ nginxStartFails: true });
    const r = await engine(svc).apply(webNode(), 1);
    expect(r.outcome).toBe("failed");
    expect(r.services.find((s) => s.name === "nginx")!.status).toBe("failed");
    expect(acmeItems(r)[1]).toMatchObject({ status: "skipped", deferred: true });
    expect(acmeItems(r)[1]!.detail).toMatch(
      /^nginx is not running, and acme-client's http-01 challenge needs it/,
    );
    expect(await acmeCalls()).toEqual([]);
  });
});

describe("acme-certificate with a certificate in place", () => {
  it("renews one that expires within renewBeforeDays, without forcing acme-client", async () => {
    await existingPair(5);
    const key = await readFile(under(KEY));
    const old = await fingerprint(CERT);
    const svc = new WebServices();
    const r = await engine(svc).apply(webNode(), 1);
    expect(r.outcome).toBe("applied");
    // no placeholder: both files were there
    expect(acmeItems(r)).toEqual([
      expect.objectContaining({ status: "done", detail: expect.stringMatching(/nginx reloaded$/) }),
    ]);
    expect(await acmeCalls()).toEqual([`-v ${DOMAIN}`]);
    expect(await fingerprint(CERT)).not.toBe(old);
    expect(await readFile(under(KEY))).toEqual(key);
    const notAfter = Date.parse(new X509Certificate(await readFile(under(CERT))).validTo);
    expect(notAfter - Date.now()).toBeGreaterThan(80 * 86_400_000);
    expect(reloads(svc)).toBe(1);
  });

  it("checks nginx after the reload: gone after rcctl said ok is a failed item, retried later", async () => {
    await existingPair(5);
    const svc = new WebServices({ nginxExitsOnReload: true });
    const r = await engine(svc).apply(webNode(), 1);
    expect(svc.calls.slice(-2)).toEqual(["reload nginx", "check nginx"]);
    expect(acmeItems(r)).toEqual([
      expect.objectContaining({
        status: "failed",
        detail: expect.stringMatching(
          /^new certificate, valid until .*, but nginx: rcctl reload said ok, but rcctl check finds no process .*\(retried by the next apply\)$/,
        ),
      }),
    ]);
    // Not forgotten: the next apply or check reloads again.
    expect(JSON.parse(await readFile(path.join(tmp.stateDir, "acme.json"), "utf8"))).toEqual({
      [DOMAIN]: { reload: true },
    });
  });

  it("acme-client's exit 2 (nothing to do) is no failure and reloads nothing", async () => {
    await existingPair(5);
    await setMode("current");
    const svc = new WebServices();
    const r = await engine(svc).apply(webNode(), 1);
    expect(r.outcome).toBe("applied");
    expect(acmeItems(r)).toEqual([
      expect.objectContaining({
        status: "skipped",
        detail: expect.stringMatching(/^acme-client: nothing to do yet/),
      }),
    ]);
    expect(acmeItems(r)[0]!.deferred).toBeUndefined();
    expect(svc.services.get("nginx")!.running).toBe(true);
    expect(reloads(svc)).toBe(0);
  });

  it("leaves a certificate that is far from expiry alone", async () => {
    await existingPair(200);
    const svc = new WebServices();
    const r = await engine(svc).apply(webNode(), 1);
    expect(acmeItems(r)).toEqual([expect.objectContaining({ status: "skipped" })]);
    expect(await acmeCalls()).toEqual([]);
  });

  it("keeps an existing key when only the certificate is missing", async () => {
    await existingPair(200);
    const key = await readFile(under(KEY));
    await rm(under(CERT));
    await setMode("fail");
    const r = await engine(new WebServices()).apply(webNode(), 1);
    expect(acmeItems(r)[0]!.detail).toMatch(
      /^wrote a self-signed placeholder certificate for the existing key/,
    );
    expect(await readFile(under(KEY))).toEqual(key);
    // the placeholder matches the key nginx will load with it
    const cert = new X509Certificate(await readFile(under(CERT)));
    expect(cert.checkPrivateKey(createPrivateKey(key))).toBe(true);
  });
});

describe("acme-certificate refused", () => {
  it("on a node that is not the web node: nothing written, nothing run", async () => {
    for (const role of ["xmpp", "jicofo", "jvb", "turn"] as const) {
      const d = { ...webNode(), role, files: [], services: [] };
      const r = await engine(new WebServices()).apply(d, 1);
      expect(r.outcome, role).toBe("refused");
      expect(r.refusals).toEqual([
        {
          item: `action acme-certificate ${DOMAIN}`,
          reason: `not an action the ${role} role runs (web only)`,
        },
      ]);
    }
    expect(existsSync(under(CERT))).toBe(false);
    expect(await acmeCalls()).toEqual([]);
  });

  it("with paths outside /etc/ssl, or through a link leading out of the root", async () => {
    const d = webNode();
    const bad = { ...d, actions: [{ ...d.actions[0]!, certificate: "/etc/master.passwd" }] };
    const r = await engine(new WebServices()).apply(bad, 1);
    expect(r.outcome).toBe("refused");
    expect(r.refusals[0]!.reason).toMatch(/^certificate: must be a file directly in \/etc\/ssl/);

    const outside = path.join(tmp.dir, "outside");
    await mkdir(outside);
    await mkdir(under("/etc"), { recursive: true });
    await symlink(outside, under("/etc/ssl"));
    const r2 = await engine(new WebServices()).apply(webNode(), 1);
    expect(r2.outcome).toBe("refused");
    expect(r2.refusals[0]).toEqual({
      item: `action acme-certificate ${DOMAIN}`,
      reason: "/etc/ssl is a link leading outside the root",
    });
    expect(existsSync(path.join(outside, `${DOMAIN}.fullchain.pem`))).toBe(false);
  });
});

describe("the healer's certificate check", () => {
  async function setup() {
    const svc = new WebServices();
    const e = engine(svc);
    const clock = new ManualClock(Date.now());
    const events: AgentEvent[] = [];
    const healer = new Healer({
      engine: e,
      services: svc,
      root: tmp.root,
      accounts: lenientAccounts(),
      log: pino({ level: "silent" }),
      clock,
      random: () => 0.5,
      tuning: {
        watch: false,
        intervalMs: 1e9,
        certificateIntervalMs: 12 * 3_600_000,
        certificateRetryMs: 3_600_000,
      },
    });
    healer.on("event", (ev) => events.push(ev));
    return { svc, e, clock, events, healer };
  }

  it("retries a failed acme-client an hour later, then every 12 hours", async () => {
    await setMode("fail");
    const t = await setup();
    const d = webNode();
    expect((await t.e.apply(d, 1)).outcome).toBe("applied");
    t.healer.configure(d);
    t.healer.start();
    try {
      // still failing at the first check: reported, and the next one an hour later again
      expect(t.clock.nextAt! - t.clock.now()).toBe(3_600_000);
      t.clock.advance(3_600_000);
      await waitFor(() => t.healer.certificateChecks === 1, {
        what: "the first check",
        timeoutMs: 20_000,
        intervalMs: 0,
      });
      expect(t.events.map((e) => `${e.kind} ${e.label}`)).toEqual(["certificate-pending degraded"]);
      expect(t.events[0]!.message).toContain("DNS problem: NXDOMAIN");
      expect(t.clock.nextAt! - t.clock.now()).toBe(3_600_000);
      // DNS fixed: the next check gets the certificate and reloads nginx
      await setMode("issue");
      t.clock.advance(3_600_000);
      await waitFor(() => t.healer.certificateChecks === 2, {
        what: "the second check",
        timeoutMs: 20_000,
        intervalMs: 0,
      });
      expect(t.events.map((e) => `${e.kind} ${e.label}`)).toEqual([
        "certificate-pending degraded",
        "certificate-renewed healthy",
      ]);
      expect(reloads(t.svc)).toBe(1);
      expect(await acmeCalls()).toHaveLength(3);
      // then every 12 hours, and nothing to do
      expect(t.clock.nextAt! - t.clock.now()).toBe(12 * 3_600_000);
      t.clock.advance(12 * 3_600_000);
      await waitFor(() => t.healer.certificateChecks === 3, {
        what: "the third check",
        timeoutMs: 20_000,
        intervalMs: 0,
      });
      expect(t.events).toHaveLength(2);
      expect(await acmeCalls()).toHaveLength(3);
    } finally {
      await t.healer.stop();
    }
    expect(t.clock.pending).toBe(0);
  });

  it("arms no certificate timer on a node without acme-certificate", async () => {
    const t = await setup();
    const d = { ...webNode(), actions: [] };
    t.healer.configure(d);
    t.healer.start();
    expect(t.clock.pending).toBe(2); // drift repair's compare and the restarter's check only
    await t.healer.stop();
  });
});
