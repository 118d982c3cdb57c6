// rcctl set, enable and disable for the rcctl TEST DOUBLE (not OpenBSD code): rc.conf.local written the way
// rcctl writes it. "ref §N" = section N of docs/openbsd-rc.md.
import fs from "node:fs";
import { inRoot } from "./fake-root.mjs";
import { rcctlErr } from "./output.mjs";
import { byteOrder } from "./service-table.mjs";
import { parsePriority } from "./syslog.mjs";

/**
 * rcctl's rcconf_edit_begin/end (ref §1): edit a copy, `sort -u` it, install it only if it changed
 * (atomically: temp file in /etc + rename), remove the file when it ends up empty. `table` is the
 * ServiceTable (service-table.mjs), whose rc.conf is read again afterwards.
 */
export function editLocal(table, fn) {
  const file = inRoot(table.root, "/etc/rc.conf.local");
  let old = null;
  try {
    old = fs.readFileSync(file, "utf8");
  } catch (e) {
    if (e.code !== "ENOENT") throw e;
  }
  const lines = old === null || old === "" ? [] : old.replace(/\n$/, "").split("\n");
  const next = [...new Set(fn(lines))].sort(byteOrder);
  const text = next.length > 0 ? `${next.join("\n")}\n` : "";
  if (text === "") {
    if (old !== null) fs.rmSync(file);
  } else if (text !== old) {
    const tmp = inRoot(table.root, `/etc/rc.conf.local.${process.pid}.${Date.now()}`);
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    fs.renameSync(tmp, file);
  }
  table.reloadConf();
}

function pkgScriptsAppend(table, svc) {
  const cur = table.conf.get("pkg_scripts") ?? "";
  if (cur !== "" && cur.split(/\s+/).includes(svc)) return;
  editLocal(table, (lines) =>
    cur === ""
      ? [...lines, `pkg_scripts=${svc}`]
      : [...lines.filter((l) => !l.startsWith("pkg_scripts=")), `pkg_scripts=${cur} ${svc}`],
  );
}

function pkgScriptsRm(table, svc) {
  if ((table.conf.get("pkg_scripts") ?? "") === "") return;
  const word = new RegExp(`\\b${svc}\\b`, "g");
  editLocal(table, (lines) =>
    lines.flatMap((l) => {
      if (!/^pkg_scripts\b/.test(l)) return [l];
      const s = l
        .replace(word, "")
        .replace(/['"]/g, "")
        .replace(/ *= */, "=")
        .replace(/ {2,}/g, " ")
        .replace(/ $/, "");
      return s.endsWith("=") ? [] : [s];
    }),
  );
}

function validate(root, v, value) {
  if (value === "") return;
  if (v === "timeout" && (!/^[0-9]+$/.test(value) || Number(value) <= 0)) {
    rcctlErr(`"${value}" is not a positive integer`);
  }
  if (v === "user") {
    let passwd = null;
    try {
      passwd = fs.readFileSync(inRoot(root, "/etc/passwd"), "utf8");
    } catch {
      // no passwd in the fake root: every user "exists"
    }
    if (passwd !== null && !passwd.split("\n").some((l) => l.startsWith(`${value}:`))) {
      rcctlErr(`user "${value}" does not exist`);
    }
  }
  if (v === "logger" && !parsePriority(value)) rcctlErr(`"${value}" is not a valid syslog priority`);
  if (v === "execdir" && !value.startsWith("/")) rcctlErr(`"${value}" is not an absolute path`);
  if (v === "rtable" && !/^[0-9]+$/.test(value)) rcctlErr(`"${value}" is not a valid routing table`);
}

/** rcctl's svc_set (ref §1): enable/disable are "set X status on|off". */
export function svcSet(table, svc, varIn, valueIn) {
  let v = varIn;
  let value = valueIn;
  if (v === "status" && value === "on") {
    v = "flags";
    value = table.conf.get(`${svc}_flags`) ?? ""; // keep existing flags
    if (value === "NO") value = "";
    if (!table.isBase(svc) && !table.isSpecial(svc)) pkgScriptsAppend(table, svc);
  } else if (v === "status" && value === "off") {
    if (!table.isBase(svc) && !table.isSpecial(svc)) pkgScriptsRm(table, svc);
    const defOn = table.getdef(svc).status === 0;
    if (table.isSpecial(svc)) {
      editLocal(table, (lines) => [
        ...lines.filter((l) => !l.startsWith(`${svc}=`)),
        ...(defOn ? [`${svc}=NO`] : []),
      ]);
    } else {
      // every X_execdir/flags/logger/rtable/timeout/user line goes; re-enabling does not restore them
      const re = new RegExp(`^${svc}_(class|execdir|flags|logger|rtable|timeout|user)=`);
      editLocal(table, (lines) => [
        ...lines.filter((l) => !re.test(l)),
        ...(defOn ? [`${svc}_flags=NO`] : []),
      ]);
    }
    return;
  } else if (table.get(svc).status !== 0) {
    rcctlErr(`${svc} is not enabled`);
  }
  if (table.isSpecial(svc)) {
    const defOn = table.getdef(svc).status === 0;
    editLocal(table, (lines) => [
      ...lines.filter((l) => !l.startsWith(`${svc}=`)),
      ...(defOn ? [] : [`${svc}=YES`]),
    ]);
    return;
  }
  validate(table.root, v, value);
  const def = table.getdef(svc);
  if (value !== "" && value === def.vals[v]) value = ""; // the script's default is not written
  if (value.startsWith(" ")) value = `"${value}"`; // protect leading blanks
  // a base daemon that is off by default stays enabled through an explicit (maybe empty) X_flags line
  const keepEmpty = v === "flags" && table.isBase(svc) && def.status !== 0;
  editLocal(table, (lines) => [
    ...lines.filter((l) => !l.startsWith(`${svc}_${v}=`)),
    ...(value !== "" || keepEmpty ? [`${svc}_${v}=${value}`] : []),
  ]);
}
