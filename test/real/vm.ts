// One VM of the real end-to-end deployment: a temp root (the agent's --root, where it writes the rendered
// files) seen by the VM's processes at the paths the renderers use. The rendered files name OpenBSD paths
// (/etc/prosody/prosody.cfg.lua, /var/prosody, /var/www, /etc/ssl/jitsi.fullchain.pem); the renderers stay
// as they are and the environment is adapted instead, as test/validators/nginx.ts does for `nginx -t`: the
// VM's agent runs in a private mount namespace (unshare -m) inside the VM's network namespace, where
//  * /etc, /var and /run get an overlay whose upper layer is a tmpfs of that namespace, so what the VM
//    changes there (the account database, /etc/hosts, nginx's /run/nginx.pid, the mount points below)
//    never reaches the machine's disk, and disappears with the namespace;
//  * the VM's directories are bind-mounted at the paths the rendered files name (ROOT/etc/prosody on
//    /etc/prosody, ROOT/var/prosody on /var/prosody, ...), and /etc/hosts is a symlink to the rendered
//    ROOT/etc/hosts (a symlink, not a bind mount, because the agent replaces files by rename);
//  * /etc/passwd and /etc/group are the VM's account database ROOT/etc/passwd and ROOT/etc/group: Debian's
//    accounts plus the ones OpenBSD and its packages have (wheel, www, _prosody, _jicofo, _jvb). The agent
//    resolves owners from the same files (without --lenient-accounts), so prosody.cfg.lua really is
//    root:_prosody 0640 and prosody, running as _prosody, really reads it through its group.
// The rc.d scripts run the REAL Debian prosody and nginx; jicofo and jvb are real XMPP clients standing in
// for the Java programs (jitsi-client.mjs). Every process the agent starts inherits both namespaces.
import { execFile } from "node:child_process";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PROSODY, PROSODY_PLUGINS } from "@vmmeet/shared";
import { writeRcScript } from "../doubles/rcctl/index.js";
import { repoRoot } from "../validators/paths.js";
import { whichTool } from "../validators/run.js";

const run = promisify(execFile);

export const REAL_DIR = path.join(repoRoot(), "test/real");
const FOREGROUND = path.join(REAL_DIR, "foreground.mjs");
const LAUNCHER = path.join(REAL_DIR, "jitsi-launcher.mjs");

export type VmRole = "web" | "xmpp" | "jicofo" | "jvb";

/** The real programs the test runs, with the Debian package each comes from (.ci/run installs them). */
export const REAL_PROGRAMS: Readonly<Record<string, string>> = {
  "/usr/bin/prosody": "prosody",
  "/usr/bin/prosodyctl": "prosody",
  "/usr/sbin/nginx": "nginx-light",
  "lua5.4": "lua5.4",
  ip: "iproute2",
  unshare: "util-linux",
  setpriv: "util-linux",
  mount: "mount",
  openssl: "openssl",
};

/**
 * Throws (the test then FAILS, it never skips) when a real program is missing or the test does not run as
 * root (network namespaces, mounts and setpriv need it; CI runs .ci/run as root).
 */
export function requireRealPrograms(): void {
  const missing = Object.entries(REAL_PROGRAMS).filter(([p]) => whichTool(p) === undefined);
  if (missing.length > 0) {
    throw new Error(
      `the real end-to-end test needs ${missing.map(([p, pkg]) => `${p} (Debian package ${pkg})`).join(", ")}: ` +
        "run the apt-get lines of .ci/run as root",
    );
  }
  if (process.getuid?.() !== 0) {
    throw new Error(
      "the real end-to-end test needs root (ip netns, unshare -m, mount, setpriv); CI runs as root",
    );
  }
}

/** Accounts OpenBSD's base system and the packages create, added to Debian's in the VMs' databases. */
const OPENBSD_ACCOUNTS = ["www", "_prosody", "_jicofo", "_jvb"] as const;

function parseDb(text: string): { names: Set<string>; ids: Set<number> } {
  const names = new Set<string>();
  const ids = new Set<number>();
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 3 || !f[0]) continue;
    names.add(f[0]);
    ids.add(Number(f[2]));
  }
  return { names, ids };
}

/** The numeric ids given to the OpenBSD accounts (the same in every VM of a run). */
export interface AccountIds {
  uid: Record<(typeof OPENBSD_ACCOUNTS)[number], number>;
}

/**
 * ROOT/etc/passwd and ROOT/etc/group: Debian's (so root, nobody, ... resolve as on the machine) plus
 * OpenBSD's wheel (gid 0, as on OpenBSD) and the accounts of OPENBSD_ACCOUNTS, each with its own group, at
 * ids the machine does not use.
 */
export async function writeAccounts(root: string): Promise<AccountIds> {
  const passwd = await readFile("/etc/passwd", "utf8");
  const group = await readFile("/etc/group", "utf8");
  const p = parseDb(passwd);
  const g = parseDb(group);
  const uid = {} as AccountIds["uid"];
  let next = 64300;
  const extraPasswd: string[] = [];
  const extraGroup: string[] = g.names.has("wheel") ? [] : ["wheel:x:0:root"];
  for (const name of OPENBSD_ACCOUNTS) {
    while (p.ids.has(next) || g.ids.has(next)) next++;
    uid[name] = next;
    if (!p.names.has(name))
      extraPasswd.push(`${name}:x:${next}:${next}:${name} (vmmeet VM):/nonexistent:/usr/sbin/nologin`);
    if (!g.names.has(name)) extraGroup.push(`${name}:x:${next}:`);
    next++;
  }
  const withLines = (text: string, lines: string[]) =>
    `${text.endsWith("\n") ? text : `${text}\n`}${lines.map((l) => `${l}\n`).join("")}`;
  await mkdir(path.join(root, "etc"), { recursive: true });
  await writeFile(path.join(root, "etc/passwd"), withLines(passwd, extraPasswd), { mode: 0o644 });
  await writeFile(path.join(root, "etc/group"), withLines(group, extraGroup), { mode: 0o644 });
  return { uid };
}

/** Single-quote for /bin/sh. */
export function sq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Directories of ROOT bind-mounted at the VM's paths, per role. */
function bindsOf(role: VmRole): [string, string][] {
  switch (role) {
    case "xmpp":
      // prosody's data_path: the rendered config sets none, so prosody uses its compiled-in default, which
      // is /var/prosody in OpenBSD's package and /var/lib/prosody in Debian's (`prosodyctl about`). Both
      // are the VM's /var/prosody here, so accounts land in ROOT/var/prosody/<host>/accounts, where the
      // agent looks for them (packages/agent/src/actions/prosody.ts).
      // The jitsi plugins' directory the rendered plugin_paths names (net/jitsi/prosody-plugins), holding the
      // test's stand-in for mod_client_proxy (installRealProsody).
      return [
        ["etc/prosody", "/etc/prosody"],
        ["var/prosody", "/var/prosody"],
        ["var/prosody", "/var/lib/prosody"],
        [PLUGINS_DIR.slice(1), PLUGINS_DIR],
      ];
    case "web":
      return [
        ["etc/nginx", "/etc/nginx"],
        ["etc/ssl", "/etc/ssl"],
        ["var/www", "/var/www"],
      ];
    default:
      return [];
  }
}

/**
 * Write DIR/enter-NAME.sh: run as `unshare -m --propagation private /bin/sh SCRIPT CMD...` inside the VM's
 * network namespace, it builds the VM's filesystem view (top of this file) and execs CMD.
 */
export async function writeEnterScript(o: {
  dir: string;
  name: string;
  role: VmRole;
  root: string;
}): Promise<string> {
  const ovl = path.join(o.dir, "ovl", o.name);
  await mkdir(ovl, { recursive: true });
  for (const base of ["/etc", "/var", "/run", "/usr/local"]) {
    if (o.root === base || o.root.startsWith(`${base}/`) || ovl.startsWith(`${base}/`)) {
      throw new Error(`the VM root ${o.root} must not lie under ${base}, which the VM overlays`);
    }
  }
  const lines = [
    "#!/bin/sh",
    `# The filesystem view of VM ${o.name} (written by test/real/vm.ts; see there). Runs in a private mount`,
    "# namespace: nothing mounted here is seen outside it.",
    "set -eu",
    "mount --make-rprivate /",
    `mount -t tmpfs -o mode=0700 vmmeet-vm ${sq(ovl)}`,
  ];
  // /usr/local too: the plugins' mount point is made there, in the overlay, never on the machine itself.
  ["/etc", "/var", "/run", "/usr/local"].forEach((base, i) => {
    const up = path.join(ovl, `u${i}`);
    const wk = path.join(ovl, `w${i}`);
    lines.push(
      `mkdir -p ${sq(up)} ${sq(wk)}`,
      `mount -t overlay vmmeet-vm${i} -o ${sq(`lowerdir=${base},upperdir=${up},workdir=${wk}`)} ${base}`,
    );
  });
  lines.push(
    `cp ${sq(path.join(o.root, "etc/passwd"))} /etc/passwd`,
    `cp ${sq(path.join(o.root, "etc/group"))} /etc/group`,
    "rm -f /etc/hosts",
    `ln -s ${sq(path.join(o.root, "etc/hosts"))} /etc/hosts`,
  );
  for (const [from, to] of bindsOf(o.role)) {
    const src = path.join(o.root, from);
    await mkdir(src, { recursive: true });
    lines.push(`mkdir -p ${sq(to)}`, `mount --bind ${sq(src)} ${sq(to)}`);
  }
  lines.push('exec "$@"', "");
  const script = path.join(o.dir, `enter-${o.name}.sh`);
  await writeFile(script, lines.join("\n"), { mode: 0o755 });
  return script;
}

/** argv that runs CMD in the VM: its network namespace, then its mount namespace. */
export function inVm(ns: string, enterScript: string, cmd: readonly string[]): string[] {
  return [
    "ip",
    "netns",
    "exec",
    ns,
    "unshare",
    "-m",
    "--propagation",
    "private",
    "/bin/sh",
    enterScript,
    ...cmd,
  ];
}

/**
 * The xmpp VM's prosodyctl (give it to the agent as --prosodyctl): Debian's REAL prosodyctl, which finds the
 * rendered config at /etc/prosody/prosody.cfg.lua because the agent runs in the VM's mount namespace, and
 * switches to the config's prosody_user (_prosody) itself. `faulty`: `register` is accepted and does
 * nothing (fault injection: prosody keeps the old password).
 */
export function prosodyctlWrapper({ faulty = false } = {}): string {
  return [
    "#!/bin/sh",
    "# prosodyctl of the xmpp VM (test/real/vm.ts): Debian's real prosodyctl.",
    ...(faulty
      ? [
          "# FAULT INJECTED by the test: register is accepted and does nothing.",
          "case $1 in register) exit 0 ;; esac",
        ]
      : []),
    "# mod_roster_command comes with jitsi-prosody-plugins (OpenBSD: net/jitsi/prosody-plugins), which Debian",
    "# does not package: the real prosodyctl fails with \"Failed to load module 'roster_command'\". Said, not run.",
    'if [ "$1" = mod_roster_command ]; then',
    '  echo "prosodyctl (test/real): mod_roster_command needs jitsi-prosody-plugins, not packaged by Debian: not run" >&2',
    "  exit 0",
    "fi",
    'exec /usr/bin/prosodyctl "$@"',
    "",
  ].join("\n");
}

/** Where net/jitsi/prosody-plugins installs jitsi's prosody modules (the rendered plugin_paths). */
const PLUGINS_DIR = PROSODY_PLUGINS.dir.value;

/**
 * A stand-in for jitsi-prosody-plugins' mod_client_proxy, which Debian does not package: the rendered
 * configuration loads it as the focus.DOMAIN component. Without it the real prosody logs "Unable to load
 * module 'client_proxy'", which the agent rightly reports as a failed prosody. This one loads and proxies
 * nothing, so no real conference can be started through focus.DOMAIN here.
 */
export const CLIENT_PROXY_STAND_IN = [
  "-- mod_client_proxy stand-in of vmmeet's end-to-end test (test/real/vm.ts): jitsi-prosody-plugins is not",
  "-- packaged by Debian. It loads and proxies nothing.",
  'module:log("info", "client_proxy stand-in of the end-to-end test loaded; it proxies nothing");',
  "",
].join("\n");

/** Where net/prosody installs prosodyctl, relative to the VM root. */
export const PROSODYCTL_PATH = PROSODY.prosodyctl.value.slice(1);

/** The xmpp VM: the prosody rc.d script (real prosody) and the prosodyctl wrapper; returns the wrapper. */
export async function installRealProsody(root: string, ids: AccountIds): Promise<string> {
  // What pkg_add prosody leaves: /var/prosody owned by _prosody (its data, pid file and logs go there).
  const data = path.join(root, "var/prosody");
  await mkdir(data, { recursive: true });
  await run("chown", [`${ids.uid._prosody}:${ids.uid._prosody}`, data]);
  await run("chmod", ["0750", data]);
  // net/prosody's PLIST makes /etc/prosody/certs (its certs/Makefile and openssl.cnf go there); prosody 0.12
  // indexes that directory at start and logs an error when it is missing.
  await mkdir(path.join(root, "etc/prosody/certs"), { recursive: true });
  // As net/prosody's rc.d script: `daemon="/usr/local/sbin/prosody -D"` (self-daemonizing), daemon_user
  // _prosody, pexp "${MODLUA_BIN} ${daemon}" (net/prosody pkg/prosody.rc). The rcctl double records
  // daemon_user without switching, and prosody refuses to run as root (mod_posix), so setpriv(1) does
  // what rc.subr's su does. The daemonized prosody's command line is "lua5.4 /usr/bin/prosody -D".
  await writeRcScript(root, "prosody", {
    daemon: "/usr/bin/setpriv --reuid=_prosody --regid=_prosody --init-groups /usr/bin/prosody -D",
    user: "_prosody",
    bg: false,
    timeout: 15,
    pexp: "lua5.4 /usr/bin/prosody -D",
  });
  const plugins = path.join(root, PLUGINS_DIR);
  await mkdir(plugins, { recursive: true });
  await writeFile(path.join(plugins, "mod_client_proxy.lua"), CLIENT_PROXY_STAND_IN, { mode: 0o644 });
  const wrapper = path.join(root, PROSODYCTL_PATH);
  await mkdir(path.dirname(wrapper), { recursive: true });
  await writeFile(wrapper, prosodyctlWrapper(), { mode: 0o755 });
  return wrapper;
}

/**
 * The web VM: a throw-away certificate for the site (tls.mode files: the admin puts it there), the
 * mime.types the nginx package ships beside nginx.conf, nginx's log directory, and the nginx rc.d script
 * (real nginx below foreground.mjs, see there). Returns the certificate (PEM) for the test's clients.
 */
export async function installRealNginx(root: string, domain: string): Promise<string> {
  const cert = path.join(root, "etc/ssl/jitsi.fullchain.pem");
  const key = path.join(root, "etc/ssl/private/jitsi.key");
  await mkdir(path.dirname(key), { recursive: true, mode: 0o700 });
  await run("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-subj",
    `/CN=${domain}`,
    "-addext",
    `subjectAltName=DNS:${domain}`,
    "-days",
    "2",
    "-keyout",
    key,
    "-out",
    cert,
  ]);
  await mkdir(path.join(root, "etc/nginx"), { recursive: true });
  await copyFile("/etc/nginx/mime.types", path.join(root, "etc/nginx/mime.types"));
  for (const d of ["var/www/logs", "var/www/jitsi-meet", "var/www/htdocs"]) {
    await mkdir(path.join(root, d), { recursive: true });
  }
  // OpenBSD's nginx rc.d script: rc_stop_signal (QUIT: graceful), reload = HUP. pexp is the supervisor's
  // command line as the kernel shows it (the shell has removed the quotes of 'daemon off;').
  const node = process.execPath;
  await writeRcScript(root, "nginx", {
    daemon: `${node} ${FOREGROUND} /usr/sbin/nginx -g 'daemon off;'`,
    pexp: `${node} ${FOREGROUND} /usr/sbin/nginx -g daemon off;`,
    stopSignal: "QUIT",
    user: "root",
    timeout: 15,
  });
  return readFile(cert, "utf8");
}

/** The jicofo or jvb VM: the rc.d script runs the stand-in's launcher (like net/jitsi's jicofo.sh). */
export async function installJitsiStandIn(root: string, role: "jicofo" | "jvb"): Promise<void> {
  // As net/jitsi's rc.d scripts: daemon_logger=daemon.info, rc_bg=YES, rc_reload=NO.
  await writeRcScript(root, role, {
    daemon: `${process.execPath} ${LAUNCHER} --role ${role} --root ${root}`,
    logger: "daemon.info",
    reload: false,
    user: `_${role}`,
    timeout: 10,
  });
}
