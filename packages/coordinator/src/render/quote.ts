// Quoting for the formats vmmeet renders. Spec values are already restricted to safe characters by the
// schema (packages/shared/src/spec/); these functions are the second line of defence and refuse, rather
// than silently mangle, anything that would still break out of its context.

function refuseControl(value: string, where: string): void {
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new Error(`refusing to render a control character into ${where}`);
}

/** A Lua double-quoted string literal (prosody.cfg.lua). */
export function lua(value: string): string {
  refuseControl(value, "prosody.cfg.lua");
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A HOCON quoted string (jicofo.conf, jvb.conf): JSON string syntax. */
export function hocon(value: string): string {
  refuseControl(value, "a HOCON file");
  return JSON.stringify(value);
}

/** A single-quoted JavaScript string (config.js). */
export function js(value: string): string {
  refuseControl(value, "config.js");
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** A ksh assignment value (*.in.sh): single-quoted unless plainly safe. */
export function sh(value: string): string {
  refuseControl(value, "a ksh file");
  return /^[A-Za-z0-9_./:=@%+-]*$/.test(value) ? value : `'${value.replace(/'/g, "'\\''")}'`;
}

/** A token that nginx, pf or vm.conf take bare: letters, digits and a few punctuation characters only. */
export function bare(value: string, where: string): string {
  if (!/^[A-Za-z0-9_.:/\-[\]*]+$/.test(value))
    throw new Error(`refusing to render ${JSON.stringify(value)} into ${where}`);
  return value;
}

/** A java.util.Properties value: no leading blanks, escapes for '\\' and line breaks refused. */
export function prop(value: string): string {
  refuseControl(value, "a .properties file");
  return value.replace(/\\/g, "\\\\").replace(/^\s+/, "");
}
