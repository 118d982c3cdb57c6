// The web node's Let's Encrypt certificate (tls.mode acme): its first start and its renewal, which an
// OpenBSD admin otherwise does by hand. The chicken-and-egg: nginx refuses to start while the files of
// ssl_certificate / ssl_certificate_key are missing, and acme-client(1) needs nginx running to answer the
// http-01 challenge from its challengedir (RFC 8555 section 8.3). So, in one apply:
//   1. before nginx is (re)started, ensurePlaceholder(): a missing (or unreadable) certificate or a missing
//      key is replaced by a self-signed placeholder made with `openssl req -x509` (LibreSSL's openssl is in
//      OpenBSD base), key 0600 root:wheel, certificate 0644. STATE/acme.json keeps its fingerprint, which
//      is how the agent later knows it still serves its own placeholder;
//   2. after nginx runs, ensureCertificate(): while the certificate is that placeholder, or expires within
//      renewBeforeDays, `acme-client -v DOMAIN` runs. acme-client(1) EXIT STATUS: 0 = a certificate was
//      written, 2 = nothing to do (still valid), 1 = failure. After 0, `rcctl reload nginx` makes nginx
//      serve the new certificate (it reads its certificates at start and reload only), through the
//      service owner like every service action: checked after it, and told to the health monitor.
// acme-client failing (DNS not pointing here yet, Let's Encrypt's rate limits, the network) must not fail
// the apply: that would roll the whole push back for something outside the node. Its item is "skipped",
// marked deferred, with acme-client's last stderr lines as the detail (acme-client prints URLs and states,
// never key material), and the healer runs the check again later (heal/healer.ts).
import { X509Certificate } from "node:crypto";
import { chmod, lstat, mkdtemp, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic, writeJsonAtomic } from "@vmmeet/node";
import type { SetupAction } from "@vmmeet/shared";
import type { Logger } from "pino";
import type { AccountResolver } from "../reconcile/accounts.js";
import { resolveUnderRoot } from "../reconcile/paths.js";
import type { ServiceLife } from "../services/life.js";
import { isNotFound, readJson } from "../state/store.js";
import { type CommandRunner, lastLines } from "./runner.js";
import type { ActionItem } from "./types.js";

export type AcmeAction = Extract<SetupAction, { kind: "acme-certificate" }>;

const DAY_MS = 86_400_000;
/** The placeholder's validity: nginx needs a certificate, nobody should keep this one. */
export const PLACEHOLDER_DAYS = 30;
/** Name of the agent's record in its state directory. */
export const ACME_STATE_FILE = "acme.json";

/** What the agent remembers per domain (STATE/acme.json). */
export interface AcmeRecord {
  /** X509Certificate.fingerprint256 of the self-signed placeholder the agent wrote. */
  placeholder?: string;
  /** acme-client wrote a certificate that nginx has not been reloaded for yet (a failed reload). */
  reload?: true;
}

export interface AcmeOptions {
  /** Prefix of every managed path ("/" on the VM). */
  root: string;
  /** The agent's state directory (0700): acme.json is kept there. */
  stateDir: string;
  runner: CommandRunner;
  accounts: AccountResolver;
  /** openssl(1) for the placeholder (default /usr/bin/openssl, LibreSSL in OpenBSD base). */
  openssl?: string;
  /** acme-client(1) (default /usr/sbin/acme-client, OpenBSD base). */
  acmeClient?: string;
  /** How long acme-client may take (default 90 s, inside the coordinator's 120 s wait for an apply). */
  acmeTimeoutMs?: number;
  now?: () => number;
  log?: Logger;
}

interface CertInfo {
  fingerprint: string;
  validTo: number;
}

export class AcmeActions {
  readonly openssl: string;
  readonly acmeClient: string;
  readonly #options: AcmeOptions;
  readonly #now: () => number;

  constructor(options: AcmeOptions) {
    this.#options = options;
    this.openssl = options.openssl ?? "/usr/bin/openssl";
    this.acmeClient = options.acmeClient ?? "/usr/sbin/acme-client";
    this.#now = options.now ?? Date.now;
  }

  /**
   * Before nginx is (re)started: a self-signed certificate (and key, unless one is there) when nginx would
   * otherwise not start. Also makes the challenge directory. Returns an item only when it acted or failed.
   */
  async ensurePlaceholder(a: AcmeAction): Promise<ActionItem | null> {
    const item = { kind: "action", action: a.kind, target: a.domain } as const;
    // acme-client does not create its challengedir (OpenBSD base ships /var/www/acme).
    await resolveUnderRoot(this.#options.root, path.posix.join(a.challengeDir, ".vmmeet-probe"), true);
    const cert = await resolveUnderRoot(this.#options.root, a.certificate, true);
    const key = await this.#resolveKey(a.key);
    const current = await readCertificate(cert.target);
    const haveKey = await isFile(key.target);
    if (current.info && haveKey) return null;

    // Both files are made in a fresh 0700 directory beside the key, so the key is never readable by others,
    // then renamed into place (key first: a crash in between leaves a key and no certificate, and the next
    // apply makes a certificate for that key).
    const tmp = await mkdtemp(path.join(key.parent, ".vmmeet-acme-"));
    try {
      const tmpCert = path.join(tmp, "cert.pem");
      const tmpKey = path.join(tmp, "key.pem");
      const base = ["req", "-new", "-x509", "-days", String(PLACEHOLDER_DAYS), "-subj", `/CN=${a.domain}`];
      // An existing key is kept (acme-client made it, or an admin put it there): only the certificate is
      // missing. Should openssl refuse that key, a new one is made after all.
      let reuse = haveKey;
      let r = reuse
        ? await this.#openssl([...base, "-key", key.target, "-out", tmpCert])
        : { code: -1, stdout: "", stderr: "" };
      if (r.code !== 0) {
        reuse = false;
        r = await this.#openssl([
          ...base,
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          tmpKey,
          "-out",
          tmpCert,
        ]);
      }
      if (r.code !== 0)
        return {
          ...item,
          status: "failed",
          detail: `openssl req exited ${r.code}: ${lastLines(r.stderr, 500)}`,
        };
      const pem = await readFile(tmpCert);
      const info = certInfo(pem);
      const ids = { uid: this.#options.accounts.uid("root"), gid: this.#options.accounts.gid("wheel") };
      if (!reuse) await writeFileAtomic(key.target, await readFile(tmpKey), { mode: 0o600, ...ids });
      await writeFileAtomic(cert.target, pem, { mode: 0o644, ...ids });
      const st = await this.readState();
      st[a.domain] = { placeholder: info.fingerprint };
      await this.#writeState(st);
      this.#options.log?.info(
        { domain: a.domain, certificate: a.certificate, newKey: !reuse },
        "wrote a self-signed placeholder certificate",
      );
      return {
        ...item,
        status: "done",
        detail: `wrote a self-signed placeholder certificate${reuse ? " for the existing key" : " and key"} (valid until ${iso(info.validTo)}) so that nginx can start; acme-client replaces it`,
      };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /**
   * After nginx runs: acme-client when the certificate is the placeholder or expires within
   * renewBeforeDays, then an nginx reload when it wrote a new one. Never "failed" for acme-client's sake.
   */
  async ensureCertificate(a: AcmeAction, nginxRunning: boolean, services: ServiceLife): Promise<ActionItem> {
    const item = { kind: "action", action: a.kind, target: a.domain } as const;
    const deferred = (detail: string): ActionItem => {
      this.#options.log?.warn({ domain: a.domain, detail }, "certificate not obtained; tried again later");
      return { ...item, status: "skipped", deferred: true, detail: `${detail}; tried again later` };
    };
    const { target } = await resolveUnderRoot(this.#options.root, a.certificate, false);
    const st = await this.readState();
    const rec = st[a.domain] ?? {};
    const before = await readCertificate(target);
    if (!before.info) return deferred(`no usable certificate at ${a.certificate} (${before.problem})`);
    const placeholder = rec.placeholder === before.info.fingerprint;
    const renewFrom = before.info.validTo - a.renewBeforeDays * DAY_MS;
    if (!placeholder && this.#now() < renewFrom) {
      if (rec.reload && nginxRunning)
        return this.#reload(a, st, services, `certificate valid until ${iso(before.info.validTo)}`);
      return {
        ...item,
        status: "skipped",
        detail: `valid until ${iso(before.info.validTo)}; renewed from ${iso(renewFrom)}`,
      };
    }
    const serves = placeholder
      ? "nginx serves the self-signed placeholder"
      : `the certificate stays valid until ${iso(before.info.validTo)}`;
    if (!nginxRunning)
      return deferred(
        `nginx is not running, and acme-client's http-01 challenge needs it to serve ${a.challengeDir}; ${serves}`,
      );
    // -F for the placeholder: acme-client judges an existing certificate by its names and remaining
    // validity (acme-client(1) -F: "force certificate renewal, even if it's too soon"); the agent's own
    // self-signed one must always be replaced.
    const args = placeholder ? ["-F", "-v", a.domain] : ["-v", a.domain];
    this.#options.log?.info({ domain: a.domain, placeholder }, "running acme-client");
    let r: Awaited<ReturnType<CommandRunner["run"]>>;
    try {
      r = await this.#options.runner.run(this.acmeClient, args, {
        timeoutMs: this.#options.acmeTimeoutMs ?? 90_000,
      });
    } catch (e) {
      return deferred(`${(e as Error).message}; ${serves}`);
    }
    if (r.code === 2 && !placeholder) {
      return {
        ...item,
        status: "skipped",
        detail: `acme-client: nothing to do yet (certificate valid until ${iso(before.info.validTo)})`,
      };
    }
    if (r.code !== 0) {
      const why = lastLines(r.stderr, 500) || lastLines(r.stdout, 500) || "no output";
      return deferred(`acme-client exited ${r.code}: ${why}; ${serves}`);
    }
    const after = await readCertificate(target);
    if (!after.info || after.info.fingerprint === before.info.fingerprint)
      return deferred(
        `acme-client exited 0, but ${a.certificate} is ${after.info ? "unchanged" : after.problem}; ${serves}`,
      );
    // Recorded before the reload: a failed reload (or a crash) is retried by the next apply or check.
    st[a.domain] = { reload: true };
    await this.#writeState(st);
    this.#options.log?.info(
      { domain: a.domain, validTo: iso(after.info.validTo) },
      "acme-client wrote a certificate",
    );
    return this.#reload(a, st, services, `new certificate, valid until ${iso(after.info.validTo)}`);
  }

  /** STATE/acme.json; an unreadable one counts as empty (at worst acme-client runs once more). */
  async readState(): Promise<Record<string, AcmeRecord>> {
    try {
      const raw = await readJson(this.#stateFile());
      return typeof raw === "object" && raw !== null && !Array.isArray(raw)
        ? (raw as Record<string, AcmeRecord>)
        : {};
    } catch (e) {
      this.#options.log?.warn({ err: (e as Error).message }, "acme.json unreadable, ignored");
      return {};
    }
  }

  async #reload(
    a: AcmeAction,
    st: Record<string, AcmeRecord>,
    services: ServiceLife,
    what: string,
  ): Promise<ActionItem> {
    const item = { kind: "action", action: a.kind, target: a.domain } as const;
    // Checked after it: nginx exiting on the new certificate is a failed reload, not "done".
    const r = await services.reload("nginx");
    if (!r.ok)
      return {
        ...item,
        status: "failed",
        detail: `${what}, but nginx: ${r.detail} (retried by the next apply)`,
      };
    st[a.domain] = {};
    await this.#writeState(st);
    return { ...item, status: "done", detail: `${what}; nginx reloaded` };
  }

  #openssl(args: string[]) {
    return this.#options.runner.run(this.openssl, args, { timeoutMs: 60_000 });
  }

  #stateFile(): string {
    return path.join(this.#options.stateDir, ACME_STATE_FILE);
  }

  #writeState(st: Record<string, AcmeRecord>): Promise<void> {
    return writeJsonAtomic(this.#stateFile(), st);
  }

  /** The key's directory is /etc/ssl/private, 0700 on OpenBSD: made so when it is missing. */
  async #resolveKey(key: string): Promise<{ parent: string; target: string }> {
    const existing = await resolveUnderRoot(this.#options.root, key, false);
    if (existing.parent !== null) return { parent: existing.parent, target: existing.target };
    const made = await resolveUnderRoot(this.#options.root, key, true);
    const parent = made.parent as string;
    await chmod(parent, 0o700);
    return { parent, target: made.target };
  }
}

function certInfo(pem: Buffer): CertInfo {
  // The first certificate of a full chain is the site's own.
  const x = new X509Certificate(pem);
  return { fingerprint: x.fingerprint256, validTo: Date.parse(x.validTo) };
}

async function readCertificate(p: string): Promise<{ info: CertInfo | null; problem: string }> {
  let pem: Buffer;
  try {
    pem = await readFile(p);
  } catch (e) {
    if (isNotFound(e)) return { info: null, problem: "missing" };
    throw e;
  }
  try {
    const info = certInfo(pem);
    if (Number.isNaN(info.validTo)) return { info: null, problem: "no readable expiry date" };
    return { info, problem: "" };
  } catch {
    return { info: null, problem: "not a PEM certificate" };
  }
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isFile();
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

function iso(t: number): string {
  return new Date(t).toISOString();
}
