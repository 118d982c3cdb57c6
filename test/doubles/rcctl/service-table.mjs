// rcctl's view of the services of a fake root, for the rcctl TEST DOUBLE (not OpenBSD code): which exist,
// which are base daemons, specials or package scripts, rc.conf(.local) as last read, and the values
// `rcctl get` and `rcctl getdef` report. "ref §N" = section N of docs/openbsd-rc.md.
import fs from "node:fs";
import { inRoot } from "./fake-root.mjs";
import { BASE_DAEMONS, NAME_RE, SPECIALS } from "./openbsd-facts.mjs";
import { harnessErr, rcctlErr } from "./output.mjs";
import { readConf } from "./rc-conf.mjs";
import { evalRcScript, ScriptError } from "./rc-script.mjs";

export const byteOrder = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

export class ServiceTable {
  /** rc.conf then rc.conf.local, as last read (reloadConf after every write and before every action). */
  conf = new Map();

  /** `root`: the fake root, resolved and laid out (fake-root.mjs). */
  constructor(root) {
    this.root = root;
    this.reloadConf();
  }

  reloadConf() {
    this.conf = readConf(this.root);
  }

  scriptPath(svc) {
    return inRoot(this.root, `/etc/rc.d/${svc}`);
  }

  isScript(svc) {
    try {
      const st = fs.statSync(this.scriptPath(svc));
      return st.isFile() && (st.mode & 0o111) !== 0;
    } catch {
      return false;
    }
  }

  isSpecial(svc) {
    return Object.hasOwn(SPECIALS, svc);
  }

  isAvail(svc) {
    return NAME_RE.test(svc) && (this.isScript(svc) || this.isSpecial(svc));
  }

  /** rcctl: "service X does not exist" (exit 2), checked before any action (ref §1). */
  mustExist(svc) {
    if (!this.isAvail(svc)) rcctlErr(`service ${svc} does not exist`, 2);
  }

  /** rcctl decides "base" by grepping start_daemon lines in /etc/rc; a fake root may ship one. */
  isBase(svc) {
    let rc;
    try {
      rc = fs.readFileSync(inRoot(this.root, "/etc/rc"), "utf8");
    } catch {
      return BASE_DAEMONS.has(svc);
    }
    return rc.split("\n").some((l) => {
      const m = /^\s*start_daemon\s+(.*)$/.exec(l);
      return m?.[1]?.split(/\s+/).includes(svc) ?? false;
    });
  }

  /** daemon_class: a login class named like the script in login.conf(.d), else "daemon" (ref §2). */
  loginClass(svc) {
    if (fs.existsSync(inRoot(this.root, `/etc/login.conf.d/${svc}`))) return svc;
    try {
      const lc = fs.readFileSync(inRoot(this.root, "/etc/login.conf"), "utf8");
      if (new RegExp(`^(${svc}[:|]|[^#][^:]*\\|${svc}[:|])`, "m").test(lc)) return svc;
    } catch {
      // no login.conf
    }
    return "daemon";
  }

  pkgScripts() {
    return (this.conf.get("pkg_scripts") ?? "").split(/\s+/).filter(Boolean);
  }

  /** The executable rc.d scripts with valid names, in byte order. */
  listScripts() {
    let names;
    try {
      names = fs.readdirSync(inRoot(this.root, "/etc/rc.d"));
    } catch {
      return [];
    }
    return names.filter((n) => NAME_RE.test(n) && this.isScript(n)).sort(byteOrder);
  }

  /** The script's variables (rc-script.mjs evalRcScript); what the double cannot parse exits 3. */
  evalScript(svc, how) {
    try {
      return evalRcScript(fs.readFileSync(this.scriptPath(svc), "utf8"), {
        name: svc,
        daemonClass: "daemon",
        ...how,
      });
    } catch (e) {
      if (e instanceof ScriptError) harnessErr(`/etc/rc.d/${svc}: ${e.message}`);
      throw e;
    }
  }

  /** rcctl getdef: rc.d script defaults; status from /etc/rc.conf for base daemons, off for packages. */
  getdef(svc) {
    const rcConf = readConf(this.root, ["/etc/rc.conf"]);
    if (this.isSpecial(svc)) {
      const v = rcConf.get(svc) ?? SPECIALS[svc];
      return { status: v === "NO" ? 1 : 0, special: v };
    }
    const status = !this.isBase(svc) || rcConf.get(`${svc}_flags`) === "NO" ? 1 : 0;
    const d = this.evalScript(svc, { mode: "defaults" });
    const vals = {
      class: "daemon",
      execdir: d.daemon_execdir,
      flags: d.daemon_flags,
      logger: d.daemon_logger,
      rtable: d.daemon_rtable,
      timeout: d.daemon_timeout,
      user: d.daemon_user,
    };
    return { status, vals };
  }

  /** rcctl get: a package daemon not in pkg_scripts has flags NO; else X_flags, else the default. */
  get(svc) {
    if (this.isSpecial(svc)) {
      const v = this.conf.get(svc) ?? SPECIALS[svc];
      return { status: v === "NO" ? 1 : 0, special: v };
    }
    const def = this.getdef(svc).vals;
    let flags = !this.isBase(svc) && !this.pkgScripts().includes(svc) ? "NO" : "";
    if (flags === "") flags = this.conf.get(`${svc}_flags`) ?? "";
    if (flags === "") flags = def.flags;
    const pick = (v) => {
      const c = this.conf.get(`${svc}_${v}`) ?? "";
      return c !== "" ? c : def[v];
    };
    const vals = {
      class: this.loginClass(svc),
      execdir: pick("execdir"),
      flags,
      logger: pick("logger"),
      rtable: pick("rtable"),
      timeout: pick("timeout"),
      user: pick("user"),
    };
    return { status: flags === "NO" ? 1 : 0, vals };
  }
}
