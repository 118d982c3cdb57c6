// rc.conf and rc.conf.local as rc.subr reads them, for the rcctl TEST DOUBLE (not OpenBSD code).
// "ref §N" = section N of docs/openbsd-rc.md.
import fs from "node:fs";
import { inRoot } from "./fake-root.mjs";

const CONF_SPECIAL_KEYS = new Set([
  "accounting",
  "amd_master",
  "check_quotas",
  "ipsec",
  "library_aslr",
  "multicast",
  "nfs_server",
  "pexp",
  "pf",
  "pkg_scripts",
  "shlib_dirs",
  "spamd_black",
]);

/**
 * rc.subr's _rc_parse_conf (ref §1): key=value lines only, keys lower-cased and limited to
 * *_execdir|flags|logger|rtable|timeout|user and a few specials; text after '#' dropped; one level of
 * surrounding quotes stripped; no shell expansion. Later files/lines override earlier ones.
 */
export function parseConfText(text, into = new Map()) {
  for (const raw of text.split("\n")) {
    const l = raw.replace(/^[ \t]+|[ \t]+$/g, "");
    if (!/^[^#=][^=]*=/.test(l)) continue;
    const eq = l.indexOf("=");
    const key = l
      .slice(0, eq)
      .replace(/[ \t]+$/, "")
      .toLowerCase();
    if (key === "") continue;
    if (!/_(execdir|flags|logger|rtable|timeout|user)$/.test(key) && !CONF_SPECIAL_KEYS.has(key)) continue;
    let val = l.slice(eq + 1).replace(/^[ \t]+/, "");
    const hash = val.indexOf("#");
    if (hash >= 0) val = val.slice(0, hash);
    val = val.replace(/[ \t]+$/, "");
    if (
      val.length >= 2 &&
      ((val.startsWith('"') && val.endsWith('"')) || (val.startsWith("'") && val.endsWith("'")))
    ) {
      val = val.slice(1, -1);
    }
    into.set(key, val);
  }
  return into;
}

export function readConf(root, files = ["/etc/rc.conf", "/etc/rc.conf.local"]) {
  const conf = new Map();
  for (const f of files) {
    let text;
    try {
      text = fs.readFileSync(inRoot(root, f), "utf8");
    } catch (e) {
      if (e.code === "ENOENT") continue;
      throw e;
    }
    parseConfText(text, conf);
  }
  return conf;
}
