// End to end with the REAL programs that exist on Linux: Debian's prosody and nginx, run by the agents from
// the RENDERED prosody.cfg.lua and nginx.conf (test/real/deployment.ts). The paper's topology: the
// coordinator and the VMM host's agent in a "host" network namespace, each VM a network namespace with its
// paper address 100.64.N.3 and a private mount namespace where the rendered OpenBSD paths resolve to the
// VM's root. jicofo and jvb are not Java here: their VMs run real XMPP clients standing in for them
// (test/real/jitsi-client.mjs), so the brewery, the focus login and its failure are real XMPP against the
// real prosody. One deployment for the whole file; the scenarios run in order.
//
// What is NOT real here, and why:
//  * jicofo and jitsi-videobridge (Java, no Debian packages): stand-ins speaking real XMPP (above).
//  * jitsi-prosody-plugins (mod_client_proxy, mod_roster_command; OpenBSD's net/jitsi/prosody-plugins) is not
//    packaged by Debian: the xmpp VM's plugins directory holds a stand-in mod_client_proxy that loads and
//    proxies nothing (test/real/vm.ts; without it prosody logs "Unable to load module 'client_proxy'", which
//    the agent reports as a failed prosody), and the setup
//    action `prosodyctl mod_roster_command subscribe focus.DOMAIN focus@auth.DOMAIN` is answered by the
//    xmpp VM's prosodyctl wrapper without running (test/real/vm.ts), since the real prosodyctl fails on it.
//    So focus.DOMAIN does not proxy to focus@auth (no real conference could be started by a browser).
//  * The host's vmctl/vmd/pfctl/sysctl and rcctl itself are the test doubles (as in e2e-sandbox.test.ts);
//    daemon_user is applied with setpriv(1) in the prosody rc.d script because the rcctl double only records
//    it, and nginx runs below a small supervisor (test/real/foreground.mjs) because nginx's process title
//    overwrites the environment marker by which the rcctl double finds its daemons.
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import forge from "node-forge";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rotateSecret } from "../packages/coordinator/src/secrets/index.js";
import { doubleProcesses } from "./doubles/rcctl/index.js";
import { waitFor } from "./helpers/wait.js";
import { describeStatus, RealDeployment } from "./real/deployment.js";
import { REAL_DIR } from "./real/vm.js";

const run = promisify(execFile);
let d: RealDeployment;

beforeAll(async () => {
  d = await RealDeployment.start({ agentArgs: ["--heal-interval", "2", "--restart-backoff", "1"] });
}, 120_000);
afterAll(async () => {
  await d?.remove();
}, 60_000);

const PROBE = path.join(REAL_DIR, "probe.mjs");
const node = (name: string) => d.node(name);
const secrets = async () =>
  JSON.parse(await readFile(path.join(d.stateDir, "secrets.json"), "utf8")) as Record<string, string>;
const prosodyLog = () => readFile(path.join(node("xmpp").root, "var/prosody/prosody.log"), "utf8");
const signalsOf = async (nodeName: string, component: string) =>
  (await d.status()).nodes.find((n) => n.node === nodeName)?.health.find((h) => h.component === component)
    ?.signals ?? [];

/**
 * The CA certificates of the jicofo VM's rendered truststore (the PKCS#12 file and password its rendered
 * jicofo.in.sh names), decoded with node-forge rather than the coordinator's own reader, as one PEM file.
 */
async function truststoreCaFile(): Promise<string> {
  const root = node("jicofo").root;
  const env = await readFile(path.join(root, "etc/jicofo/jicofo.in.sh"), "utf8");
  const value = (name: string) => new RegExp(`^${name}=(\\S+)$`, "m").exec(env)?.[1] ?? "";
  const der = await readFile(path.join(root, value("JICOFO_TRUSTSTORE")));
  const p12 = forge.pkcs12.pkcs12FromAsn1(
    forge.asn1.fromDer(der.toString("binary")),
    false,
    value("JICOFO_TRUSTSTORE_PASSWORD"),
  );
  const certBag = forge.pki.oids.certBag as string;
  const bags = p12.getBags({ bagType: certBag })[certBag] ?? [];
  const pems = bags.flatMap((b) => (b.cert ? [forge.pki.certificateToPem(b.cert)] : []));
  const file = path.join(d.dir, "probe", "truststore-cas.pem");
  await mkdir(path.join(d.dir, "probe", "empty"), { recursive: true });
  await writeFile(file, pems.join(""), { mode: 0o600 });
  return file;
}

/** A real client login from the VMM host's namespace, trusting only the CAs in `caFile`. */
async function login(caFile: string, username: string, password: string) {
  const r = await d.runOnHost([process.execPath, "--use-openssl-ca", PROBE, "login"], {
    env: { ...process.env, SSL_CERT_FILE: caFile, SSL_CERT_DIR: path.join(d.dir, "probe", "empty") },
    input: JSON.stringify({
      address: node("xmpp").address,
      port: 5222,
      domain: `auth.${d.domain}`,
      username,
      password,
    }),
  });
  expect(r.stderr).toBe("");
  return JSON.parse(r.stdout) as { ok: boolean; jid?: string; kind?: string; detail?: string };
}

/** PIDs of the processes in a VM's network namespace whose command line matches `re`. */
async function processesIn(name: string, re: RegExp): Promise<{ pid: number; cmdline: string }[]> {
  const out: { pid: number; cmdline: string }[] = [];
  for (const pid of await d.topology!.pids(node(name).ns)) {
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => ""))
      .split("\0")
      .filter(Boolean)
      .join(" ");
    if (re.test(cmdline)) out.push({ pid, cmdline });
  }
  return out;
}

/**
 * The lines of the prosody session that logged `marker`, from its "Client connected" to its "Client
 * disconnected" (undefined until that one is written). prosody names sessions after their table's address,
 * which a later session may reuse: the range keeps them apart.
 */
function sessionLines(log: string, marker: string): string[] | undefined {
  const lines = log.split("\n");
  const at = lines.findIndex((l) => l.endsWith(`\tinfo\t${marker}`));
  const id = lines[at]?.split("\t")[0]?.split(" ").pop();
  if (at < 0 || !id) return undefined;
  const mine = (l: string) => l.split("\t")[0]?.endsWith(` ${id}`);
  let start = at;
  while (start > 0 && !(mine(lines[start]!) && lines[start]!.endsWith("\tClient connected"))) start--;
  const end = lines.findIndex((l, i) => i > at && mine(l) && l.includes("\tClient disconnected"));
  return end < 0 ? undefined : lines.slice(start, end + 1).filter(mine);
}

/** Whether a process runs (a zombie, dead but not yet reaped by its new parent, does not). */
async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
  return stat !== "" && !/^\d+ \(.*\) Z /.test(stat);
}

/** Processes whose command line or environment names `dir` (agents, coordinator, daemons of the double). */
async function processesMentioning(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    const [cmdline, environ] = await Promise.all(
      ["cmdline", "environ"].map((f) => readFile(`/proc/${e}/${f}`, "utf8").catch(() => "")),
    );
    if (cmdline?.includes(dir) || environ?.includes(dir)) out.push(`${e} ${cmdline?.replaceAll("\0", " ")}`);
  }
  return out;
}

type Signal = Awaited<ReturnType<typeof signalsOf>>[number];

/** Every signal status shows for the (node, component) pairs while `during` runs, polled every 100 ms. */
async function watchSignals<T>(
  targets: [string, string][],
  during: Promise<T>,
): Promise<{ result: T; seen: { node: string; signal: Signal }[] }> {
  const seen = new Map<string, { node: string; signal: Signal }>();
  let done = false;
  const poll = (async () => {
    while (!done) {
      const st = await d.status().catch(() => null);
      for (const [nodeName, component] of targets) {
        const h = st?.nodes.find((n) => n.node === nodeName)?.health.find((c) => c.component === component);
        for (const signal of h?.signals ?? [])
          seen.set(`${nodeName} ${signal.signal} ${signal.at}`, { node: nodeName, signal });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  try {
    return { result: await during, seen: [...seen.values()] };
  } finally {
    done = true;
    await poll;
  }
}

describe("the paper's deployment with Debian's real prosody and nginx", () => {
  it("push: real prosody and nginx run from the rendered files, users registered with the real prosodyctl", async () => {
    const pushedAt = Date.now();
    const push = await d.push(150);
    expect(push.stdout, `${push.stdout}${push.stderr}\n${describeStatus(await d.status())}`).toMatch(
      /ok: generation 1 rolled out/,
    );
    expect(push.code).toBe(0);
    const status = await d.waitVerdict("conference-ready", 60_000);
    expect(status.verdict.reasons.join("; ")).toMatch(/jicofo on jicofo has 1 bridge in the brewery/);

    // Debian's prosody, started by the agent through rcctl, in the xmpp VM, from the rendered config.
    const xmpp = node("xmpp");
    const prosody = doubleProcesses(xmpp.root).filter((p) => p.cmdline === "lua5.4 /usr/bin/prosody -D");
    expect(prosody).toHaveLength(1);
    expect((await processesIn("xmpp", /^lua5\.4 \/usr\/bin\/prosody -D$/)).map((p) => p.pid)).toEqual([
      prosody[0]!.pid,
    ]);
    // It runs as the config's prosody_user (_prosody of the VM's account database), not as root.
    const uid = Number(/^Uid:\s+(\d+)/m.exec(await readFile(`/proc/${prosody[0]!.pid}/status`, "utf8"))?.[1]);
    const passwd = await readFile(path.join(xmpp.root, "etc/passwd"), "utf8");
    expect(passwd).toMatch(new RegExp(`^_prosody:x:${uid}:`, "m"));
    const log = await prosodyLog();
    expect(log).toMatch(/startup\tinfo\tHello and welcome to Prosody version 0\.12\./);
    // (prosody lists a service's interfaces in no fixed order)
    expect(log).toMatch(/Activated service 'c2s' on [^\n]*\[\*\]:5222/);
    expect(log).toMatch(/Activated service 'http' on [^\n]*\[\*\]:5280/);
    // jitsi-prosody-plugins is not in Debian: the real prosody loads the test's stand-in for the rendered
    // client_proxy component from the plugin_paths the rendered config names.
    expect(log).toMatch(/client_proxy stand-in of the end-to-end test loaded/);
    expect(log).not.toMatch(/Unable to load module/);
    // What prosody sees at /etc/prosody/prosody.cfg.lua (its mount namespace, through /proc/PID/root) is the
    // file the agent rendered, not Debian's.
    const cfg = await readFile(path.join(xmpp.root, "etc/prosody/prosody.cfg.lua"), "utf8");
    expect(cfg).toMatch(/^-- generated by vmmeet/);
    expect(await readFile(`/proc/${prosody[0]!.pid}/root/etc/prosody/prosody.cfg.lua`, "utf8")).toBe(cfg);

    // The setup actions ran Debian's prosodyctl: prosody's internal storage has both accounts, hashed, in
    // files owned by _prosody (prosodyctl, run as root by the agent, switches to the config's prosody_user).
    const { focusPassword, jvbPassword } = await secrets();
    for (const [user, password] of [
      ["focus", focusPassword],
      ["jvb", jvbPassword],
    ] as const) {
      const file = path.join(xmpp.root, "var/prosody/auth%2ejts%2efips%2ede/accounts", `${user}.dat`);
      const dat = await readFile(file, "utf8");
      expect(dat).toMatch(/stored_key/);
      expect(dat).not.toContain(password as string);
      expect((await stat(file)).uid).toBe(uid);
    }
    const actions = JSON.parse(await readFile(path.join(xmpp.state, "actions.json"), "utf8")) as {
      users: Record<string, unknown>;
      roster: Record<string, unknown>;
    };
    expect(Object.keys(actions.users).sort()).toEqual(["focus@auth.jts.fips.de", "jvb@auth.jts.fips.de"]);
    // (the roster subscription was answered by the wrapper: jitsi-prosody-plugins is not in Debian)
    expect(Object.keys(actions.roster)).toEqual(["focus.jts.fips.de focus@auth.jts.fips.de"]);

    // Debian's nginx in the web VM, from the rendered nginx.conf.
    const nginx = await processesIn("web", /^nginx: master process \/usr\/sbin\/nginx -g daemon off;$/);
    expect(nginx).toHaveLength(1);
    const conf = await readFile(path.join(node("web").root, "etc/nginx/nginx.conf"), "utf8");
    expect(conf).toMatch(/^# generated by vmmeet/);
    expect(await readFile(`/proc/${nginx[0]!.pid}/root/etc/nginx/nginx.conf`, "utf8")).toBe(conf);
    expect(await processesIn("web", /^nginx: worker process$/)).toHaveLength(5); // worker_processes 5

    // The jicofo stand-in logged in to the real prosody as focus: prosody's own line, read by the xmpp
    // agent's log tailer, is in the coordinator's status and its verdict.
    expect(await prosodyLog()).toMatch(
      /^\w{3} \d\d \d\d:\d\d:\d\d c2s[0-9a-f]+\tinfo\tAuthenticated as focus@auth\.jts\.fips\.de$/m,
    );
    const sig = await waitFor(
      async () =>
        (await signalsOf("xmpp", "prosody")).find(
          (s) => s.signal === "c2s-authenticated-focus" && Date.parse(s.at) >= pushedAt - 1000,
        ),
      { what: "prosody's c2s-authenticated-focus signal in status", timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(sig.label).toBe("healthy");
    expect(sig.detail).toBe("focus@auth.jts.fips.de");
    expect(sig.explain).toMatch(/jicofo logged in to prosody as focus@auth/);
    const shown = await d.vmmeet("status");
    expect(shown.stdout).toMatch(
      /^deployment: conference-ready \(.*prosody on xmpp has seen focus@auth\.jts\.fips\.de/m,
    );
  }, 180_000);

  it("a client logs in as focus with STARTTLS, trusting only the CA of the rendered truststore", async () => {
    const caFile = await truststoreCaFile();
    // The rendered truststore holds exactly the deployment CA of the coordinator's state directory.
    const ca = (await readFile(path.join(d.stateDir, "ca.crt"), "utf8")).trim();
    expect((await readFile(caFile, "utf8")).trim().replace(/\r\n/g, "\n")).toBe(ca.replace(/\r\n/g, "\n"));

    const before = (await prosodyLog()).length;
    const ok = await login(caFile, "focus", (await secrets()).focusPassword as string);
    expect(ok.ok, JSON.stringify(ok)).toBe(true);
    expect(ok.jid).toMatch(/^focus@auth\.jts\.fips\.de\/\S+$/);
    // prosody's view of that session: TLS, then the login.
    const session = await waitFor(
      async () => sessionLines((await prosodyLog()).slice(before), "Authenticated as focus@auth.jts.fips.de"),
      { what: "prosody's lines of the session", timeoutMs: 10_000 },
    );
    expect(session.map((l) => l.split("\t").slice(1).join(" "))).toEqual([
      "info Client connected",
      expect.stringMatching(/^info Stream encrypted \(TLSv1\.3 with \S+\)$/),
      "info Authenticated as focus@auth.jts.fips.de",
      expect.stringMatching(/^info Client disconnected: /),
    ]);

    // (status is not asserted for this second focus login: the agent sends a status frame when a component's
    // state, explanation or number of signals changes, so a signal seen again, as this one, shows there only
    // with the next change. The first focus login, the jicofo stand-in's, was asserted in status above.)

    // Trusting anything else (here the site's throw-away certificate) fails the TLS handshake.
    const other = path.join(d.dir, "probe", "site.pem");
    await writeFile(other, d.siteCertificate);
    const refused = await login(other, "focus", (await secrets()).focusPassword as string);
    expect(refused).toMatchObject({ ok: false, kind: "pkix" });
  }, 60_000);

  it("an anonymous BOSH client through nginx's /http-bind joins a room on conference.DOMAIN", async () => {
    const since = Date.now();
    const room = `e2e-real-${since}@conference.${d.domain}`;
    const r = await d.runOnHost([process.execPath, PROBE, "bosh"], {
      input: JSON.stringify({
        address: node("web").address,
        port: 443,
        host: d.domain,
        ca: d.siteCertificate,
        room,
        nick: "alice",
      }),
    });
    expect(r.stderr).toBe("");
    const bosh = JSON.parse(r.stdout) as {
      ok: boolean;
      jid?: string;
      codes?: string[];
      saslMechanisms?: string[];
    };
    expect(bosh.ok, r.stdout).toBe(true);
    expect(bosh.saslMechanisms).toContain("ANONYMOUS");
    // prosody 0.12 names anonymous users with util.id.medium() lowercased (mod_auth_anonymous), not a UUID.
    expect(bosh.jid).toMatch(/^[a-z0-9_-]{24}@jts\.fips\.de\/\S+$/);
    expect(bosh.codes).toContain("110"); // the room's presence of ourselves
    // nginx proxied it to prosody at the xmpp VM's address (the rendered proxy_pass).
    // (nginx writes the access log line after the response: waited for)
    await waitFor(
      async () =>
        /\^100\.64\.\d+\.2\^"POST \/http-bind HTTP\/1\.1"\^200\^\d+\^100\.64\.2\.3:5280\^100\.64\.2\.3:5280\^/.test(
          await readFile(path.join(node("web").root, "var/www/logs/access.log"), "utf8"),
        ),
      { what: "nginx's access log line of a proxied /http-bind", timeoutMs: 10_000 },
    );
    // prosody's real BOSH lines, read by the xmpp agent, in status. (Its "Authenticated as <id>@jts.fips.de"
    // is not the rules' bosh-authenticated-anonymous, which expects a UUID, prosody 0.11's anonymous names;
    // 0.12's are util.id.medium(), so the agent classifies the line as c2s-authenticated-user.)
    expect(await prosodyLog()).toMatch(/\tinfo\tNew BOSH session, assigned it sid '[0-9a-f-]+'/);
    const sig = await waitFor(
      async () =>
        (await signalsOf("xmpp", "prosody")).find(
          (s) => s.signal === "bosh-session-new" && Date.parse(s.at) >= since - 1000,
        ),
      { what: "prosody's bosh-session-new signal in status", timeoutMs: 30_000, intervalMs: 100 },
    );
    expect(sig.explain).toMatch(/BOSH session/);
  }, 60_000);

  it("a push with a focus password prosody does not have: the real failure in status, then rollback", async () => {
    // prosodyctl on the xmpp VM stops registering (accepts and does nothing); then the focus password is
    // rotated: jicofo.conf gets the new one, the real prosody keeps the old one.
    const old = (await secrets()).focusPassword as string;
    await d.setProsodyctl({ faulty: true });
    await rotateSecret(d.stateDir, "focusPassword");
    const rotated = (await secrets()).focusPassword as string;
    expect(rotated).not.toBe(old);
    const since = Date.now();
    try {
      // Status is polled while the push runs: the rollback restarts jicofo, after which its earlier
      // signals no longer count (a restart starts a fresh history), so they are caught as they come.
      const { result: push, seen } = await watchSignals(
        [
          ["xmpp", "prosody"],
          ["jicofo", "jicofo"],
        ],
        d.push(30),
      );
      expect(push.code, push.stdout).toBe(1);
      expect(push.stdout).toMatch(/FAILED: generation 2 failed: jicofo: /);
      expect(push.stdout).toMatch(/rolled back to generation 1/);
      const after = seen.filter((x) => Date.parse(x.signal.at) >= since - 1000);
      // The real failure: prosody logged a session that went encrypted and closed without logging in (the
      // paper's wrong-password pattern), the xmpp agent read it, status explained it.
      const failed = after.find((x) => x.node === "xmpp" && x.signal.signal === "c2s-auth-failed-disconnect");
      expect(failed?.signal.label, JSON.stringify(after)).toBe("failed");
      expect(failed?.signal.explain).toMatch(/password prosody rejects/);
      expect(failed?.signal.fix).toMatch(/prosodyctl register focus/);
      // ... and the client's side: the jicofo stand-in's SASL failure, as smack words it.
      const jicofo = after.find((x) => x.node === "jicofo" && x.signal.signal === "xmpp-auth-failed");
      expect(jicofo?.signal.detail, JSON.stringify(after)).toBe("not-authorized");
      // The same, from the outside: prosody has the old password, not the rotated one.
      const caFile = await truststoreCaFile();
      expect(await login(caFile, "focus", rotated)).toMatchObject({
        ok: false,
        kind: "sasl",
        detail: "not-authorized",
      });
      expect((await login(caFile, "focus", old)).ok).toBe(true);
    } finally {
      await d.setProsodyctl({ faulty: false });
    }
    // The rollback restored the working state: jicofo logs in again and finds its bridge.
    const status = await d.waitVerdict("conference-ready", 90_000);
    expect(status.desiredGeneration).toBe(3);
    const back = (await signalsOf("jicofo", "jicofo")).find(
      (s) => s.signal === "brewery-instance-added" && Date.parse(s.at) >= since,
    );
    expect(back?.detail).toMatch(/\/jvb$/);
    const audit = await readFile(path.join(d.stateDir, "audit.log"), "utf8");
    expect(audit).toMatch(/"kind":"push-failed"/);
    expect(audit).toMatch(/"kind":"rollback"/);
  }, 180_000);

  it("day two with the real prosody and nginx: xmppWebsocket on restarts prosody, the clients reconnect, no rollback", async () => {
    const spec = await readFile(d.specFile, "utf8");
    await writeFile(d.specFile, spec.replace(/^xmppWebsocket: false/m, "xmppWebsocket: true"));
    const logBefore = (await prosodyLog()).length;
    const push = await d.push(120);
    expect(push.stdout, push.stdout).not.toMatch(/rolled back|restoring generation/);
    expect(push.code, push.stdout).toBe(0);
    await d.waitVerdict("conference-ready", 90_000);
    // The restart's lines as the agent's health expects them (state.ts PROCESS_BOUNDS): the old process's
    // last line, "Shutdown complete", comes after its SIGTERM and before the new process's greeting.
    const restart = (await prosodyLog())
      .slice(logBefore)
      .split("\n")
      .map((l) =>
        l
          .split("\t")
          .slice(0, 3)
          .join(" ")
          .replace(/^\w{3} \d\d \d\d:\d\d:\d\d /, ""),
      )
      .filter((l) => /Received SIGTERM|Shutdown complete|Hello and welcome/.test(l));
    expect(restart).toEqual([
      "mod_posix warn Received SIGTERM",
      "startup info Shutting down: Received SIGTERM",
      "general info Shutdown complete",
      expect.stringMatching(/^startup info Hello and welcome to Prosody version 0\.12\./),
    ]);
    // The real nginx serves the new location, proxied to the real prosody.
    expect(await readFile(path.join(node("web").root, "etc/nginx/nginx.conf"), "utf8")).toMatch(
      /location = \/xmpp-websocket/,
    );
  }, 180_000);

  it("vmmeet secrets rotate --all: the real prosody takes the new passwords, the old ones stop working", async () => {
    const old = await secrets();
    const r = await d.vmmeet("secrets", "rotate", "--all", "--timeout", "120");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const v of Object.values(old))
      if (typeof v === "string" && v.length >= 16) expect(r.stdout).not.toContain(v);
    await d.waitVerdict("conference-ready", 90_000);
    const now = await secrets();
    expect(now.focusPassword).not.toBe(old.focusPassword);
    // Real XMPP logins against the real prosody, trusting the rebuilt truststore's CA: the new focus and jvb
    // passwords work (the accounts were changed in place), the old ones are refused.
    const caFile = await truststoreCaFile();
    for (const user of ["focus", "jvb"] as const) {
      const key = user === "focus" ? "focusPassword" : "jvbPassword";
      expect((await login(caFile, user, now[key] as string)).ok, user).toBe(true);
      const refused = await login(caFile, user, old[key] as string);
      expect(refused, `${user} with the old password: ${JSON.stringify(refused)}`).toMatchObject({
        ok: false,
        kind: "sasl",
      });
    }
    expect(
      await readdir(path.join(node("xmpp").root, "var/prosody/auth%2ejts%2efips%2ede/accounts")),
    ).toEqual(["focus.dat", "jvb.dat"]);
  }, 240_000);

  it("stop: no process, network namespace or mount of the deployment is left", async () => {
    const topo = d.topology!;
    const real = [
      ...(await processesIn("xmpp", /\/usr\/bin\/prosody/)),
      ...(await processesIn("web", /^nginx: /)),
    ].map((p) => p.pid);
    expect(real.length).toBeGreaterThanOrEqual(7); // prosody, nginx's master and 5 workers
    await d.stop();
    const { stdout } = await run("ip", ["netns", "list"]);
    expect(stdout).not.toContain(topo.prefix);
    for (const pid of real) expect(await alive(pid), `pid ${pid}`).toBe(false);
    expect(await processesMentioning(d.dir)).toEqual([]);
    // The VMs' mounts lived in their private mount namespaces only: none ever showed here.
    expect(await readFile("/proc/self/mountinfo", "utf8")).not.toContain(d.dir);
  }, 60_000);
});
