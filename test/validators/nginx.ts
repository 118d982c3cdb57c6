// checkNginx: the real `nginx -t` on a rendered nginx.conf, without touching the machine's /etc.
//
// A rendered web-VM nginx.conf names things that exist only on the OpenBSD VM: TLS files
// (`ssl_certificate /etc/ssl/jitsi-fips.fullchain.pem`), log files under its prefix, upstream host names
// from the VM's /etc/hosts (`proxy_pass http://xmpp:5280/...`). nginx resolves upstream names and loads
// the certificate/key pair while testing, so plain `nginx -t` fails on them ("host not found in upstream
// "xmpp"", "cannot load certificate", docs/jitsi-config-notes.md section 1). We keep the rendered text byte for
// byte (so nginx's messages and line numbers are the renderer's) and change the machine instead, inside a
// private mount namespace (`unshare -m`) that dies with the check:
//  * the nearest existing directory above every faked/written absolute path (e.g. /etc/ssl) gets an
//    overlay whose upper layer is a tmpfs, so a throw-away self-signed pair can be written at the exact
//    path nginx reads and log files nginx opens land in the tmpfs, never on the real disk;
//  * a private copy of /etc/hosts (and /etc/passwd, /etc/group when a `user` directive names an account
//    Debian lacks, e.g. OpenBSD's `www`) is bind-mounted over the real one.
// We chose this over rewriting absolute paths into a temp prefix because rewriting changes what is
// tested (quoting, line lengths, include resolution). `nginx -t` never binds listening sockets
// (docs/jitsi-config-notes.md section 1 checked it), so `listen 443` needs nothing. Needs root (CI runs as root).
import { getDiffieHellman } from "node:crypto";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import { type NginxDirective, parseNginxConf } from "../../packages/coordinator/src/render/grammar/nginx.js";
import { type CheckResult, joinOutput, requireTool, runProgram, withTempDir } from "./run.js";

export type { NginxDirective };

export interface NginxOptions {
  /** Host name -> address for the private /etc/hosts (e.g. { xmpp: "100.64.2.3" }). */
  hosts?: Record<string, string>;
  /**
   * Extra absolute paths to fake (for files named only in included files). A path ending in `.key` or
   * lying under a `private/` directory gets the key, any other the certificate. Paths named by
   * ssl_certificate, ssl_certificate_key, ssl_trusted_certificate, ssl_client_certificate, ssl_dhparam
   * and their proxy_ssl_* forms are found in the text and faked without being listed here.
   */
  certPaths?: string[];
  /**
   * Upstream host names in proxy_pass/fastcgi_pass/.../upstream `server` that are not IP addresses and
   * not in `hosts` are mapped to 127.0.0.1 (reported in `autoHosts`) unless this is true, in which case
   * they are looked up in the machine's real /etc/hosts and DNS, as on a VM.
   */
  strictHosts?: boolean;
  /**
   * Treat the text as a site snippet (server/upstream/map blocks only) and wrap it in
   * `events {} http { include mime.types; include site.conf; }`. Default: wrap when the text has neither a
   * top-level `http` nor `events` block.
   */
  wrap?: boolean;
  /** Extra files placed beside nginx.conf, by relative name (for relative `include`s). */
  files?: Record<string, string>;
}

export interface NginxResult extends CheckResult {
  /** nginx's exit code (null when killed). */
  code: number | null;
  /** Line of the first `[emerg]` message, when nginx names one. */
  line?: number;
  /** Every name written to the private /etc/hosts, with its address (given + auto). */
  mappedHosts: Record<string, string>;
  /** Names that were not in `hosts` and were mapped to 127.0.0.1. */
  autoHosts: string[];
  /** Absolute paths that were faked (certificate, key, DH parameters) inside the namespace. */
  fakedFiles: string[];
  /** Whether the text was wrapped as a site snippet (then messages name site.conf). */
  wrapped: boolean;
}

/**
 * The directive tree, read by vmmeet's own nginx grammar in its tolerant form: it is used only to find what
 * must be faked, so it never reports syntax errors (the real nginx does that) and stops quietly at the
 * first structural problem.
 */
export function parseNginx(text: string): NginxDirective[] {
  return parseNginxConf(text, { tolerant: true });
}

function* walk(ds: NginxDirective[], parent?: NginxDirective): Generator<[NginxDirective, NginxDirective?]> {
  for (const d of ds) {
    yield [d, parent];
    if (d.children) yield* walk(d.children, d);
  }
}

const CERT_DIRECTIVES = new Set([
  "ssl_certificate",
  "ssl_trusted_certificate",
  "ssl_client_certificate",
  "proxy_ssl_certificate",
  "proxy_ssl_trusted_certificate",
  "grpc_ssl_certificate",
  "grpc_ssl_trusted_certificate",
]);
const KEY_DIRECTIVES = new Set([
  "ssl_certificate_key",
  "proxy_ssl_certificate_key",
  "grpc_ssl_certificate_key",
]);
const PASS_DIRECTIVES = new Set([
  "proxy_pass",
  "fastcgi_pass",
  "uwsgi_pass",
  "scgi_pass",
  "grpc_pass",
  "memcached_pass",
]);

/** Host part of `http://host:port/x`, `host:port`, `[v6]:port`; undefined for unix sockets/variables. */
function hostOf(target: string): string | undefined {
  if (target.includes("$") || target.startsWith("unix:")) return undefined;
  let rest = target.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  if (rest.startsWith("unix:")) return undefined;
  rest = rest.split("/")[0] ?? "";
  if (rest.startsWith("[")) return undefined; // IPv6 literal
  const host = rest.replace(/:\d*$/, "");
  return host.length > 0 && isIP(host) === 0 ? host : undefined;
}

/** What the config names that the check has to provide, found by parsing (pure). */
export function nginxNeeds(directives: NginxDirective[]): {
  certs: string[];
  keys: string[];
  dhparams: string[];
  logs: string[];
  hosts: string[];
  users: { user: string; group: string }[];
  hasPid: boolean;
  relativeIncludes: string[];
} {
  const upstreams = new Set<string>();
  for (const [d] of walk(directives)) if (d.name === "upstream" && d.args[0]) upstreams.add(d.args[0]);
  const certs = new Set<string>();
  const keys = new Set<string>();
  const dhparams = new Set<string>();
  const logs = new Set<string>();
  const hosts = new Set<string>();
  const users: { user: string; group: string }[] = [];
  const relativeIncludes = new Set<string>();
  let hasPid = false;
  const usable = (v: string | undefined): v is string =>
    v !== undefined && !v.includes("$") && !/^(data|engine|store):/.test(v);
  for (const [d, parent] of walk(directives)) {
    const a0 = d.args[0];
    if (CERT_DIRECTIVES.has(d.name) && usable(a0)) certs.add(a0);
    else if (KEY_DIRECTIVES.has(d.name) && usable(a0)) keys.add(a0);
    else if (d.name === "ssl_dhparam" && usable(a0)) dhparams.add(a0);
    else if ((d.name === "error_log" || d.name === "access_log") && usable(a0)) {
      if (a0 !== "off" && a0 !== "stderr" && !/^(syslog|memory):/.test(a0)) logs.add(a0);
    } else if (PASS_DIRECTIVES.has(d.name) && a0 !== undefined) {
      const h = hostOf(a0);
      if (h !== undefined && !upstreams.has(h)) hosts.add(h);
    } else if (d.name === "server" && parent?.name === "upstream" && a0 !== undefined) {
      const h = hostOf(a0);
      if (h !== undefined) hosts.add(h);
    } else if (d.name === "user" && parent === undefined && a0 !== undefined) {
      users.push({ user: a0, group: d.args[1] ?? a0 });
    } else if (d.name === "pid" && parent === undefined) {
      hasPid = true;
    } else if (d.name === "include" && a0 !== undefined && !a0.startsWith("/") && !/[*?[]/.test(a0)) {
      relativeIncludes.add(a0);
    }
  }
  return {
    certs: [...certs],
    keys: [...keys],
    dhparams: [...dhparams],
    logs: [...logs],
    hosts: [...hosts],
    users,
    hasPid,
    relativeIncludes: [...relativeIncludes],
  };
}

/** The nearest existing directory at or above `dir` (on the real filesystem). */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!existsSync(d)) d = path.dirname(d);
  return d;
}

/** Drop directories that lie inside another one of the set: one overlay covers its whole subtree. */
function outermost(dirs: string[]): string[] {
  const uniq = [...new Set(dirs)].sort();
  return uniq.filter((d) => !uniq.some((o) => o !== d && (o === "/" || d.startsWith(`${o}/`))));
}

/** Single-quote for /bin/sh. */
function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** DER length octets. */
function derLen(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** PEM "DH PARAMETERS" for RFC 3526 group 14 (2048-bit MODP): a public constant, no slow generation. */
function dhParamsPem(): string {
  const dh = getDiffieHellman("modp14");
  const int = (b: Buffer): Buffer => {
    const v = (b[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b;
    return Buffer.concat([Buffer.from([0x02]), derLen(v.length), v]);
  };
  const body = Buffer.concat([int(dh.getPrime()), int(dh.getGenerator())]);
  const der = Buffer.concat([Buffer.from([0x30]), derLen(body.length), body]);
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN DH PARAMETERS-----\n${b64.trimEnd()}\n-----END DH PARAMETERS-----\n`;
}

function accountExists(file: string, name: string): boolean {
  return readFileSync(file, "utf8")
    .split("\n")
    .some((l) => l.split(":")[0] === name);
}

/**
 * Run the real `nginx -t -p TMP/ -c TMP/nginx.conf -g 'pid TMP/nginx.pid;'` on `confText` inside a
 * private mount namespace (see the top of this file). Needs root, nginx, unshare, mount and openssl.
 */
export async function checkNginx(confText: string, opts: NginxOptions = {}): Promise<NginxResult> {
  const nginx = requireTool("nginx");
  const unshare = requireTool("unshare");
  requireTool("mount");
  const openssl = requireTool("openssl");
  if (process.getuid?.() !== 0) {
    throw new Error("checkNginx needs root: it uses unshare -m and mount (CI runs .ci/run as root)");
  }
  const directives = parseNginx(confText);
  const wrapped = opts.wrap ?? !directives.some((d) => d.name === "http" || d.name === "events");
  const needs = nginxNeeds(directives);

  return withTempDir("nginx", async (tmp) => {
    const prefix = `${tmp}/`;
    await mkdir(path.join(tmp, "logs"));
    await mkdir(path.join(tmp, "ov"));
    if (wrapped) {
      await writeFile(path.join(tmp, "site.conf"), confText);
      await writeFile(
        path.join(tmp, "nginx.conf"),
        "events {}\nhttp {\n    include mime.types;\n    include site.conf;\n}\n",
      );
    } else {
      await writeFile(path.join(tmp, "nginx.conf"), confText);
    }
    // Relative includes resolve against the conf dir (tmp): provide Debian's stock files (mime.types,
    // fastcgi_params, ...) the way they sit beside /etc/nginx/nginx.conf, unless the caller gives its own.
    const includes = wrapped ? ["mime.types", ...needs.relativeIncludes] : needs.relativeIncludes;
    for (const rel of includes) {
      const stock = path.join("/etc/nginx", rel);
      if (opts.files?.[rel] === undefined && existsSync(stock)) {
        await mkdir(path.dirname(path.join(tmp, rel)), { recursive: true });
        copyFileSync(stock, path.join(tmp, rel));
      }
    }
    for (const [rel, content] of Object.entries(opts.files ?? {})) {
      await mkdir(path.dirname(path.join(tmp, rel)), { recursive: true });
      await writeFile(path.join(tmp, rel), content);
    }

    // The throw-away pair: one EC key and a self-signed certificate for it, so every certificate path
    // and every key path hold a matching pair (nginx -t checks that the key fits the certificate).
    const gen = await runProgram(
      openssl,
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=vmmeet-validator",
        "-days",
        "2",
        "-keyout",
        path.join(tmp, "fake.key"),
        "-out",
        path.join(tmp, "fake.crt"),
      ],
      { cwd: tmp },
    );
    if (gen.code !== 0)
      throw new Error(`openssl could not make the throw-away certificate: ${joinOutput(gen)}`);
    await writeFile(path.join(tmp, "fake.dh"), dhParamsPem());

    const isKeyPath = (p: string): boolean => p.endsWith(".key") || p.split("/").includes("private");
    const fakes = new Map<string, string>(); // path -> source file in tmp
    for (const c of needs.certs) fakes.set(c, "fake.crt");
    for (const k of needs.keys) fakes.set(k, "fake.key");
    for (const d of needs.dhparams) fakes.set(d, "fake.dh");
    for (const p of opts.certPaths ?? [])
      if (!fakes.has(p)) fakes.set(p, isKeyPath(p) ? "fake.key" : "fake.crt");

    const script: string[] = [
      "set -e",
      "mount --make-rprivate /",
      `mount -t tmpfs vmmeet-ov ${sq(`${tmp}/ov`)}`,
    ];
    const relFakes: [string, string][] = [];
    const absFakes: [string, string][] = [];
    for (const [p, src] of fakes) (path.isAbsolute(p) ? absFakes : relFakes).push([p, src]);
    const absLogs = needs.logs.filter((l) => path.isAbsolute(l));
    const relLogs = needs.logs.filter((l) => !path.isAbsolute(l));
    // Every absolute path nginx will read (fakes) or create (logs) gets an overlay on the nearest existing
    // directory above it; nested candidates collapse into the outermost one.
    const lowers = outermost(
      [...absFakes.map(([p]) => p), ...absLogs].map((p) => nearestExisting(path.dirname(p))),
    );
    if (lowers.includes("/")) {
      return {
        ok: false,
        output: `checkNginx: refusing to overlay / for ${[...fakes.keys(), ...absLogs].join(", ")}`,
        code: null,
        mappedHosts: {},
        autoHosts: [],
        fakedFiles: [],
        wrapped,
      };
    }
    lowers.forEach((lower, n) => {
      const up = `${tmp}/ov/u${n}`;
      const wk = `${tmp}/ov/w${n}`;
      script.push(
        `mkdir -p ${sq(up)} ${sq(wk)}`,
        `mount -t overlay vmmeet-ov${n} -o ${sq(`lowerdir=${lower},upperdir=${up},workdir=${wk}`)} ${sq(lower)}`,
      );
    });
    for (const [p, src] of absFakes) {
      script.push(`mkdir -p ${sq(path.dirname(p))}`, `cp ${sq(path.join(tmp, src))} ${sq(p)}`);
    }
    for (const l of absLogs) script.push(`mkdir -p ${sq(path.dirname(l))}`);
    for (const [p, src] of relFakes) {
      await mkdir(path.dirname(path.join(tmp, p)), { recursive: true });
      copyFileSync(path.join(tmp, src), path.join(tmp, p));
    }
    for (const l of relLogs) await mkdir(path.dirname(path.join(tmp, l)), { recursive: true });

    // Private /etc/hosts: our lines first, so they win over anything the machine maps.
    const mappedHosts: Record<string, string> = { ...(opts.hosts ?? {}) };
    const autoHosts: string[] = [];
    if (!opts.strictHosts) {
      for (const h of needs.hosts) {
        if (mappedHosts[h] === undefined && h !== "localhost") {
          mappedHosts[h] = "127.0.0.1";
          autoHosts.push(h);
        }
      }
    }
    const realHosts = existsSync("/etc/hosts") ? readFileSync("/etc/hosts", "utf8") : "";
    const hostLines = Object.entries(mappedHosts).map(([name, addr]) => `${addr} ${name}\n`);
    await writeFile(path.join(tmp, "hosts"), `${hostLines.join("")}${realHosts}`);
    script.push(`mount --bind ${sq(`${tmp}/hosts`)} /etc/hosts`);

    // `user www;` (OpenBSD's account) makes nginx -t as root fail with getpwnam() on Debian: add the
    // named accounts to private copies of /etc/passwd and /etc/group.
    const missingUsers = needs.users.filter((u) => !accountExists("/etc/passwd", u.user));
    const missingGroups = [...new Set(needs.users.map((u) => u.group))].filter(
      (g) => !accountExists("/etc/group", g),
    );
    if (missingUsers.length > 0) {
      const extra = missingUsers.map(
        (u, n) => `${u.user}:x:${64000 + n}:${64000 + n}::/nonexistent:/usr/sbin/nologin\n`,
      );
      await writeFile(path.join(tmp, "passwd"), readFileSync("/etc/passwd", "utf8") + extra.join(""));
      script.push(`mount --bind ${sq(`${tmp}/passwd`)} /etc/passwd`);
    }
    if (missingGroups.length > 0) {
      const extra = missingGroups.map((g, n) => `${g}:x:${64000 + n}:\n`);
      await writeFile(path.join(tmp, "group"), readFileSync("/etc/group", "utf8") + extra.join(""));
      script.push(`mount --bind ${sq(`${tmp}/group`)} /etc/group`);
    }

    // -e stderr: nginx opens its compiled-in error log (/var/log/nginx/error.log) before reading the
    // config; keep that off the real disk too. `pid` is given with -g unless the config sets one itself
    // (nginx would reject the duplicate); nginx -t does not write the pid file either way.
    const nginxArgs = ["-t", "-e", "stderr", "-p", prefix, "-c", `${tmp}/nginx.conf`];
    if (!needs.hasPid) nginxArgs.push("-g", `pid ${tmp}/nginx.pid;`);
    script.push(`exec ${[nginx, ...nginxArgs].map(sq).join(" ")}`);
    await writeFile(path.join(tmp, "run.sh"), `${script.join("\n")}\n`);

    const r = await runProgram(unshare, ["-m", "--propagation", "private", "/bin/sh", `${tmp}/run.sh`], {
      cwd: tmp,
    });
    const output = joinOutput(r);
    const emerg = /\[emerg\][^\n]*?:(\d+)\s*$/m.exec(output);
    return {
      ok: r.code === 0 && /test is successful/.test(output),
      output,
      code: r.code,
      ...(emerg?.[1] !== undefined ? { line: Number(emerg[1]) } : {}),
      mappedHosts,
      autoHosts,
      fakedFiles: absFakes.map(([p]) => p),
      wrapped,
    };
  });
}
