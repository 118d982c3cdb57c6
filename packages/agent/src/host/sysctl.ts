// sysctl.conf(5) on the VMM host: /etc/rc applies it only at boot, so the agent sets the values with
// sysctl(8) as well as writing the file (the paper's net.inet.ip.forwarding=1, section VI.A: without it the
// host routes nothing and every VM is cut off until the next reboot).

/** One `name=value` line of sysctl.conf. */
export interface SysctlSetting {
  name: string;
  value: string;
}

// MIB names are dotted lower-case words; values of the settings vmmeet writes are numbers or plain words.
// Anything else is refused rather than passed to sysctl (execFile: no shell, but still no surprises).
const NAME_RE = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$/;
const VALUE_RE = /^[A-Za-z0-9_.,:/+-]{1,256}$/;

/**
 * The settings of a sysctl.conf text: `#` starts a comment (sysctl.conf(5)), blank lines are skipped.
 * Pure. Lines that are not a plain `name=value` come back in `invalid` (with their 1-based line number).
 */
export function parseSysctlConf(text: string): { settings: SysctlSetting[]; invalid: string[] } {
  const settings: SysctlSetting[] = [];
  const invalid: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = (raw.split("#")[0] ?? "").trim();
    if (line === "") return;
    const eq = line.indexOf("=");
    const name = eq > 0 ? line.slice(0, eq).trim() : "";
    const value = eq > 0 ? line.slice(eq + 1).trim() : "";
    if (!NAME_RE.test(name) || !VALUE_RE.test(value)) invalid.push(`line ${i + 1}: ${line.slice(0, 80)}`);
    else settings.push({ name, value });
  });
  return { settings, invalid };
}
