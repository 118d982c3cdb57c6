// The simulated network. All VMs of a test run on one machine, so a VM address such as 100.64.2.3 is not
// local. Every simulated listener binds an ephemeral loopback port and publishes it as
//   NETDIR/<vm address>/<port the VM would listen on>   (file content: the loopback port, e.g. "41233")
// and a client that wants <address>:<port> (after resolving a host name through ITS OWN ROOT/etc/hosts,
// like a VM's resolver would) reads that file and connects to 127.0.0.1:<loopback port>. No file means
// "connection refused"; a name missing from /etc/hosts means "unknown host".
import fs from "node:fs";
import path from "node:path";
import { inRoot, readIfExists } from "./vm.mjs";

/** ROOT/etc/hosts as name -> first address (what the VM's resolver answers). */
export function readHosts(root) {
  const map = new Map();
  for (const raw of (readIfExists(inRoot(root, "/etc/hosts")) ?? "").split("\n")) {
    const f = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (f.length < 2) continue;
    for (const name of f.slice(1)) if (!map.has(name.toLowerCase())) map.set(name.toLowerCase(), f[0]);
  }
  return map;
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Address a VM would connect to for `host`, or undefined (unknown host). */
export function resolveHost(root, host) {
  if (IPV4.test(host) || host.includes(":")) return host;
  return readHosts(root).get(host.toLowerCase());
}

/**
 * The VM's own addresses: --address options if given, else what ROOT/etc/hosts says for the name in
 * ROOT/etc/myname (its short form too), loopback left out.
 */
export function ownAddresses(root, explicit) {
  if (explicit && explicit.length > 0) return explicit;
  const myname = (readIfExists(inRoot(root, "/etc/myname")) ?? "").trim().toLowerCase();
  if (myname === "") return [];
  const out = new Set();
  for (const raw of (readIfExists(inRoot(root, "/etc/hosts")) ?? "").split("\n")) {
    const f = raw.replace(/#.*/, "").trim().split(/\s+/);
    if (f.length < 2 || f[0].startsWith("127.") || f[0] === "::1") continue;
    const names = f.slice(1).map((n) => n.toLowerCase());
    if (names.includes(myname) || names.includes(myname.split(".")[0])) out.add(f[0]);
  }
  return [...out];
}

/** Publish "address:port is served by 127.0.0.1:localPort" (atomically: readers never see half a file). */
export function publish(netDir, address, port, localPort) {
  const dir = path.join(netDir, address);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = path.join(dir, `.${port}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, `${localPort}\n`);
  fs.renameSync(tmp, path.join(dir, String(port)));
}

/** Withdraw a publication, only if it is still ours (a restarted server may have replaced it). */
export function unpublish(netDir, address, port, localPort) {
  const file = path.join(netDir, address, String(port));
  try {
    if (fs.readFileSync(file, "utf8").trim() === String(localPort)) fs.unlinkSync(file);
  } catch {
    // already gone
  }
}

/** The loopback port serving address:port, or undefined ("connection refused"). */
export function lookup(netDir, address, port) {
  const text = readIfExists(path.join(netDir, address, String(port)));
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isInteger(n) && n > 0 ? n : undefined;
}
