// /etc/hosts (hosts(5)): `ADDRESS NAME...` lines and `#` comments. The first line naming a host wins, as
// the resolver reads it; names compare case-insensitively. The format has no syntax error a resolver
// reports: a line it cannot use is passed over.

/** Each name (lower case) with the address its first line gives. */
export function parseHostsFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const [address, ...names] = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (!address) continue;
    for (const name of names) if (!out.has(name.toLowerCase())) out.set(name.toLowerCase(), address);
  }
  return out;
}
