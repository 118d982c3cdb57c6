// Shared pieces of the jicofo/jvb/prosody/nginx SIMULATORS (test doubles, not the real programs): argument
// parsing, readers for the formats vmmeet renders (a HOCON subset, prosody's Lua config, ksh env files,
// /etc/hosts), the simulated network (NETDIR), log line formats and the simulators' own XMPP stand-in.
//
// The simulated network. All VMs of a test run on one machine, so a VM address such as 100.64.2.3 is not
// local. Every simulated listener binds an ephemeral loopback port and publishes it as
//   NETDIR/<vm address>/<port the VM would listen on>   (file content: the loopback port, e.g. "41233")
// and a client that wants <address>:<port> (after resolving a host name through ITS OWN ROOT/etc/hosts,
// like a VM's resolver would) reads that file and connects to 127.0.0.1:<loopback port>. No file means
// "connection refused"; a name missing from /etc/hosts means "unknown host".
//
// The XMPP stand-in: the simulators do NOT speak XMPP and do no TLS. They exchange newline-terminated text
// lines over loopback TCP that model what matters for the deployment's health: which virtual host a client
// asks for, whether the client trusts the certificate prosody would present (the real certificate file is
// sent and the client checks it against the CA certificates of its real PKCS#12 truststore), a SCRAM-style
// login against the salted keys prosodyctl stored (the password never crosses the socket), and MUC
// presence in the brewery room.
//
//   S: SIMXMPP1 prosody-simulator              C: STREAM <domain>
//   S: ERR host-unknown | CERT <base64 DER>    C: TLS ok | TLS alert certificate-unknown
//   C: AUTH <user> <client nonce>              S: CHALLENGE <salt b64> <iterations> <server nonce>
//   C: PROOF <b64>                             S: SUCCESS <full jid> | FAILURE not-authorized
//   C: JOIN <room>/<nick>                      S: JOINED <room> <nick> | JOINERR <room> <condition>
//   S: PRESENCE <room> <nick> available|unavailable (for every occupant, to every occupant)
//   C: LEAVE <room>    C: PING  S: PONG
//   S: ERR system-shutdown (prosody stopping: the stream error it closes every session with)
import {
  createHash,
  createHmac,
  pbkdf2Sync,
  randomBytes,
  timingSafeEqual,
  X509Certificate,
} from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

// ---------------------------------------------------------------------------------------------------
// command line

/**
 * Parse `--name value`, `--name=value` and bare words. Repeated options become arrays only for the
 * names in `multi`.
 */

/**
 * The simulated VM's clock: the machine's, VMMEET_VM_CLOCK_OFFSET_MS off (a VM whose clock is ahead or behind
 * the host's; the rcctl double hands the variable to the daemons it starts). Log lines carry this time, and
 * certificates are checked against it, as on a VM.
 */
export const VM_CLOCK_OFFSET_MS = Number(process.env.VMMEET_VM_CLOCK_OFFSET_MS ?? 0) || 0;
export function vmNow() {
  return new Date(Date.now() + VM_CLOCK_OFFSET_MS);
}
export function parseArgs(argv, { multi = [] } = {}) {
  const out = { _: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("--")) {
      out._.push(a);
      continue;
    }
    let name = a.slice(2);
    let value;
    const eq = name.indexOf("=");
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) {
      value = argv[++i];
    } else {
      value = "true";
    }
    if (multi.includes(name)) out[name] = [...(out[name] ?? []), value];
    else out[name] = value;
  }
  return out;
}

/**
 * A simulator's command line: `--help` prints `help` and exits 0; without --root and --net it prints `help`
 * to stderr and exits 64 (EX_USAGE). --address may repeat.
 */
export function simulatorArgs(help, argv = process.argv.slice(2)) {
  const args = parseArgs(argv, { multi: ["address"] });
  if (args.help) {
    process.stdout.write(help);
    process.exit(0);
  }
  if (!args.root || !args.net) {
    process.stderr.write(help);
    process.exit(64);
  }
  return args;
}

/** A path of the simulated VM ("/etc/jvb/jvb.conf") inside its root. */
export function inRoot(root, p) {
  return path.join(root, p);
}

export function readIfExists(file) {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (e) {
    if (e.code === "ENOENT") return undefined;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------
// HOCON subset: what vmmeet's renderers write for jicofo.conf and jvb.conf (objects, `=`/`:`, dotted and
// quoted keys, strings, numbers, booleans, arrays, # and // comments, repeated objects merged). No
// includes, no substitutions: the simulator refuses them instead of guessing.

function hoconTokens(text) {
  const toks = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\n") {
      toks.push({ t: "nl" });
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if ("{}[]=:,".includes(c)) {
      toks.push({ t: c });
      i++;
    } else if (c === '"') {
      if (text.startsWith('"""', i)) throw new Error("hocon: triple-quoted strings are not supported");
      let s = "";
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") {
          const e = text[i + 1];
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
        } else s += text[i++];
      }
      if (text[i] !== '"') throw new Error("hocon: unterminated string");
      i++;
      toks.push({ t: "str", v: s, quoted: true });
    } else if (c === "$" && text[i + 1] === "{") {
      throw new Error("hocon: substitutions are not supported by the simulator");
    } else {
      let s = "";
      while (i < text.length && !/[\s{}[\]=:,#"]/.test(text[i]) && !text.startsWith("//", i)) s += text[i++];
      toks.push({ t: "str", v: s, quoted: false });
    }
  }
  return toks;
}

function hoconScalar(words) {
  if (words.length === 1 && !words[0].quoted) {
    const v = words[0].v;
    if (v === "true" || v === "yes" || v === "on") return true;
    if (v === "false" || v === "no" || v === "off") return false;
    if (v === "null") return null;
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  }
  return words.map((w) => w.v).join(" ");
}

function mergeInto(target, key, value) {
  const old = target[key];
  if (
    old &&
    typeof old === "object" &&
    !Array.isArray(old) &&
    value &&
    typeof value === "object" &&
    !Array.isArray(value)
  ) {
    for (const [k, v] of Object.entries(value)) mergeInto(old, k, v);
  } else {
    target[key] = value;
  }
}

export function parseHocon(text) {
  const toks = hoconTokens(text);
  let p = 0;
  const peek = () => toks[p];
  const skipNl = () => {
    while (peek() && (peek().t === "nl" || peek().t === ",")) p++;
  };
  const value = () => {
    while (peek()?.t === "nl") p++;
    const t = peek();
    if (!t) throw new Error("hocon: value expected");
    if (t.t === "{") {
      p++;
      const o = object("}");
      return o;
    }
    if (t.t === "[") {
      p++;
      const arr = [];
      for (;;) {
        skipNl();
        if (peek()?.t === "]") {
          p++;
          return arr;
        }
        arr.push(value());
      }
    }
    const words = [];
    while (peek() && peek().t === "str") words.push(toks[p++]);
    if (words.length === 0) throw new Error(`hocon: unexpected '${t.t}'`);
    return hoconScalar(words);
  };
  const object = (end) => {
    const o = {};
    for (;;) {
      skipNl();
      const t = peek();
      if (!t) {
        if (end === null) return o;
        throw new Error("hocon: missing '}'");
      }
      if (t.t === end) {
        p++;
        return o;
      }
      if (t.t !== "str") throw new Error(`hocon: key expected, got '${t.t}'`);
      p++;
      const keyPath = t.quoted ? [t.v] : t.v.split(".");
      let v;
      if (peek()?.t === "{") {
        p++;
        v = object("}");
      } else if (peek()?.t === "=" || peek()?.t === ":") {
        p++;
        v = value();
      } else {
        throw new Error(`hocon: '=' or '{' expected after ${t.v}`);
      }
      let target = o;
      for (const k of keyPath.slice(0, -1)) {
        if (!target[k] || typeof target[k] !== "object") target[k] = {};
        target = target[k];
      }
      mergeInto(target, keyPath[keyPath.length - 1], v);
    }
  };
  skipNl();
  if (peek()?.t === "{") {
    p++;
    return object("}");
  }
  return object(null);
}

/** Value at a dotted path ("jicofo.xmpp.client.hostname") or undefined. */
export function getPath(obj, dotted) {
  let cur = obj;
  for (const k of dotted.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[k];
  }
  return cur;
}

// ---------------------------------------------------------------------------------------------------
// ksh environment files (jicofo.in.sh, jvb.in.sh): NAME=value lines, '...' literal, "..." with $NAME
// expansion of names set before, `export` ignored.

export function parseKshEnv(text) {
  const env = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim().replace(/^export\s+/, "");
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let rest = m[2];
    let val = "";
    while (rest.length > 0 && !/^\s/.test(rest)) {
      if (rest[0] === "'") {
        const j = rest.indexOf("'", 1);
        if (j < 0) throw new Error(`ksh: unterminated quote in ${m[1]}`);
        val += rest.slice(1, j);
        rest = rest.slice(j + 1);
      } else if (rest[0] === '"') {
        let j = 1;
        while (j < rest.length && rest[j] !== '"') {
          if (rest[j] === "\\" && j + 1 < rest.length) {
            val += rest[j + 1];
            j += 2;
          } else if (rest[j] === "$") {
            const v = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/.exec(rest.slice(j));
            if (v) {
              val += env[v[1]] ?? "";
              j += v[0].length;
            } else val += rest[j++];
          } else val += rest[j++];
        }
        rest = rest.slice(j + 1);
      } else if (rest[0] === "#") {
        break;
      } else {
        const w = /^[^\s'"]+/.exec(rest)[0];
        val += w.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (_, n) => env[n] ?? "");
        rest = rest.slice(w.length);
      }
    }
    env[m[1]] = val;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------------
// Lua subset for prosody.cfg.lua and prosody's account files: assignments, VirtualHost/Component lines,
// `return { ... }`, tables with `key = v`, `["key"] = v` and positional items, -- comments.

function luaTokens(text) {
  const toks = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith("--[[", i)) {
      const j = text.indexOf("]]", i + 4);
      i = j < 0 ? text.length : j + 2;
    } else if (text.startsWith("--", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === '"' || c === "'") {
      let s = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\") {
          const e = text[i + 1];
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
        } else s += text[i++];
      }
      i++;
      toks.push({ t: "str", v: s });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i));
      toks.push({ t: "num", v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      toks.push({ t: "id", v: m[0] });
      i += m[0].length;
    } else if ("{}[]=;,".includes(c)) {
      toks.push({ t: c });
      i++;
    } else {
      throw new Error(`lua: unexpected character '${c}'`);
    }
  }
  return toks;
}

function luaParser(text) {
  const toks = luaTokens(text);
  let p = 0;
  const peek = (k = 0) => toks[p + k];
  const expect = (t) => {
    if (peek()?.t !== t) throw new Error(`lua: '${t}' expected`);
    return toks[p++];
  };
  const value = () => {
    const t = toks[p++];
    if (!t) throw new Error("lua: value expected");
    if (t.t === "str" || t.t === "num") return t.v;
    if (t.t === "id") {
      if (t.v === "true") return true;
      if (t.v === "false") return false;
      if (t.v === "nil") return null;
      throw new Error(`lua: expressions are not supported by the simulator (${t.v})`);
    }
    if (t.t === "{") {
      const tbl = {};
      const list = [];
      while (peek() && peek().t !== "}") {
        if (peek().t === "id" && peek(1)?.t === "=") {
          const k = toks[p].v;
          p += 2;
          tbl[k] = value();
        } else if (peek().t === "[") {
          p++;
          const k = value();
          expect("]");
          expect("=");
          tbl[k] = value();
        } else {
          list.push(value());
        }
        if (peek()?.t === ";" || peek()?.t === ",") p++;
      }
      expect("}");
      if (list.length > 0 && Object.keys(tbl).length === 0) return list;
      if (list.length > 0) tbl[""] = list;
      return tbl;
    }
    throw new Error(`lua: unexpected '${t.t}'`);
  };
  return { toks, peek, value, next: () => toks[p++], done: () => p >= toks.length, expect };
}

/** `return { ["k"] = v; ... }` (prosody's util/datamanager files) -> object. */
export function parseLuaReturn(text) {
  const lp = luaParser(text);
  const t = lp.next();
  if (t?.t !== "id" || t.v !== "return") throw new Error("lua: 'return' expected");
  return lp.value();
}

/**
 * prosody.cfg.lua -> { global: {k: v}, hosts: [{name, settings}], components: [{name, type, settings}] }.
 * Settings after a VirtualHost/Component line belong to it, as in prosody.
 */
export function parseProsodyConfig(text) {
  const lp = luaParser(text);
  const cfg = { global: {}, hosts: [], components: [] };
  let section = cfg.global;
  while (!lp.done()) {
    const t = lp.next();
    if (t.t === ";") continue;
    if (t.t !== "id") throw new Error(`prosody config: statement expected, got '${t.t}'`);
    if (t.v === "VirtualHost") {
      const name = lp.expect("str").v;
      const host = { name, settings: {} };
      cfg.hosts.push(host);
      section = host.settings;
    } else if (t.v === "Component") {
      const name = lp.expect("str").v;
      const type = lp.peek()?.t === "str" ? lp.next().v : "component";
      const comp = { name, type, settings: {} };
      cfg.components.push(comp);
      section = comp.settings;
    } else {
      lp.expect("=");
      section[t.v] = lp.value();
    }
  }
  return cfg;
}

// ---------------------------------------------------------------------------------------------------
// name resolution and the simulated network

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

// ---------------------------------------------------------------------------------------------------
// log formats

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n) => String(n).padStart(2, "0");

/**
 * A Jitsi component's rendered env file (jicofo.in.sh, jvb.in.sh) and the HOCON config it names
 * (PREFIX_CONF, else `defaultConf`). A config that does not parse ends the process with the JVM's
 * ConfigException, logged from `where` (exit 1).
 */
export function loadJitsiConfig(root, log, { inSh, prefix, defaultConf, where }) {
  const env = parseKshEnv(readIfExists(inRoot(root, inSh)) ?? "");
  const confPath = env[`${prefix}_CONF`] || defaultConf;
  try {
    return { env, conf: parseHocon(readIfExists(inRoot(root, confPath)) ?? "") };
  } catch (e) {
    log.severe(1, where, "Failed to load the configuration:", undefined, [
      `com.typesafe.config.ConfigException$Parse: ${confPath}: ${e.message}`,
    ]);
    process.exit(1);
  }
}

/**
 * The CA certificates of the truststore the env file names (PREFIX_TRUSTSTORE, PREFIX_TRUSTSTORE_PASSWORD),
 * loaded once at start as the JVM does; one it cannot read is logged from `where` as Java words it and
 * leaves nothing trusted (every TLS login then fails).
 */
export async function loadJitsiTruststore(root, log, env, { prefix, where }) {
  const storePath = env[`${prefix}_TRUSTSTORE`] || "/etc/ssl/jitsi.store";
  try {
    return await readTruststore(inRoot(root, storePath), env[`${prefix}_TRUSTSTORE_PASSWORD`] ?? "");
  } catch (e) {
    const text =
      e.code === "ENOENT"
        ? `java.io.FileNotFoundException: ${storePath} (No such file or directory)`
        : e.code === "BADPASS"
          ? "java.io.IOException: keystore password was incorrect"
          : `java.io.IOException: ${e.message}`;
    log.severe(1, where, `Failed to load the truststore ${storePath}:`, undefined, [text]);
    return [];
  }
}

/** Jitsi's own layout (logging.properties of the jitsi packages): `Jicofo 2022-09-16 14:45:24.260 INFO: [35] ...`. */
export function jitsiLine(prefix, level, thread, where, msg, context) {
  const d = vmNow();
  const stamp =
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
  return `${prefix} ${stamp} ${level}: [${thread}] ${context ? `${context} ` : ""}${where}: ${msg}`;
}

/** A Jitsi logger printing to stdout (rc.subr's daemon_logger sends it to syslog). */
export function jitsiLogger(prefix) {
  const out = (level, thread, where, msg, context, extra = []) => {
    process.stdout.write(`${[jitsiLine(prefix, level, thread, where, msg, context), ...extra].join("\n")}\n`);
  };
  return {
    info: (t, w, m, c) => out("INFO", t, w, m, c),
    warn: (t, w, m, c, extra) => out("WARNING", t, w, m, c, extra),
    severe: (t, w, m, c, extra) => out("SEVERE", t, w, m, c, extra),
  };
}

/** prosody's file log layout: `Sep 16 14:37:01 c2s60a5b549900\tinfo\tAuthenticated as focus@auth.DOMAIN`. */
export function prosodyLine(source, level, msg) {
  const d = vmNow();
  const stamp = `${MONTHS[d.getMonth()]} ${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${stamp} ${source}\t${level}\t${msg}`;
}

/** nginx's error_log layout: `2024/01/31 12:00:00 [error] 123#0: *5 message`. */
export function nginxLine(level, msg, conn) {
  const d = vmNow();
  const stamp = `${d.getFullYear()}/${two(d.getMonth() + 1)}/${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${stamp} [${level}] ${process.pid}#0: ${conn === undefined ? "" : `*${conn} `}${msg}`;
}

// ---------------------------------------------------------------------------------------------------
// SCRAM-style login (RFC 5802's key derivation with SHA-1, as prosody's internal_hashed stores it:
// salt, iteration_count, stored_key, server_key; the password itself is never stored).

export const SCRAM_ITERATIONS = 10000;

function hmac(key, data) {
  return createHmac("sha1", key).update(data).digest();
}
function sha1(data) {
  return createHash("sha1").update(data).digest();
}
function xor(a, b) {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}
function clientKeyOf(password, salt, iterations) {
  return hmac(pbkdf2Sync(password, salt, iterations, 20, "sha1"), "Client Key");
}

/** What prosodyctl register stores. */
export function scramCredentials(
  password,
  salt = randomBytes(16).toString("hex"),
  iterations = SCRAM_ITERATIONS,
) {
  const salted = pbkdf2Sync(password, salt, iterations, 20, "sha1");
  return {
    salt,
    iteration_count: iterations,
    stored_key: sha1(hmac(salted, "Client Key")).toString("hex"),
    server_key: hmac(salted, "Server Key").toString("hex"),
  };
}

/** The client's proof for `authMessage` (the two nonces). */
export function scramProof(password, salt, iterations, authMessage) {
  const clientKey = clientKeyOf(password, salt, iterations);
  return xor(clientKey, hmac(sha1(clientKey), authMessage));
}

export function scramVerify(storedKeyHex, authMessage, proof) {
  const stored = Buffer.from(storedKeyHex, "hex");
  if (proof.length !== stored.length) return false;
  const clientKey = xor(proof, hmac(stored, authMessage));
  return timingSafeEqual(sha1(clientKey), stored);
}

/** prosody util/datamanager encode(): every byte that is not a letter or digit -> %xx. */
export function prosodyEncode(s) {
  return Array.from(Buffer.from(s, "utf8"))
    .map((b) =>
      /[A-Za-z0-9]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

export function accountFile(root, dataPath, host, user) {
  return inRoot(
    root,
    path.posix.join(dataPath, prosodyEncode(host), "accounts", `${prosodyEncode(user)}.dat`),
  );
}

// ---------------------------------------------------------------------------------------------------
// truststores: the real PKCS#12 file, read with node-forge (an implementation independent of the
// coordinator's writer).

/**
 * CA certificates (PEM) of a PKCS#12 truststore. Throws { code: "ENOENT" } for a missing file and
 * { code: "BADPASS" } when the MAC does not verify (Java: "keystore password was incorrect").
 */
export async function readTruststore(file, password) {
  const der = fs.readFileSync(file);
  const { default: forge } = await import("node-forge");
  let p12;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(der.toString("binary")), false, password);
  } catch (e) {
    const err = new Error(String(e.message ?? e));
    err.code = /MAC|password/i.test(String(e.message)) ? "BADPASS" : "BADFILE";
    throw err;
  }
  const bags = p12.getBags({ bagType: forge.pki.oids.certBag })[forge.pki.oids.certBag] ?? [];
  return bags
    .map((b) => (b.cert ? forge.pki.certificateToPem(b.cert) : undefined))
    .filter((pem) => pem !== undefined);
}

/** Whether a CA of `caPems` issued and signed the certificate (DER), and it is valid now. */
export function trustedBy(certDer, caPems) {
  let cert;
  try {
    cert = new X509Certificate(certDer);
  } catch {
    return false;
  }
  const now = vmNow().getTime();
  if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) return false;
  return caPems.some((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/** PEM (first certificate) -> DER. */
export function pemToDer(pem) {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error("no certificate in PEM");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

// ---------------------------------------------------------------------------------------------------
// line-protocol plumbing

/** Calls onLine for each "\n"-terminated line arriving on the socket. */
export function onLines(socket, onLine) {
  let buf = "";
  socket.setEncoding("utf8");
  socket.on("data", (d) => {
    buf += d;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
      nl = buf.indexOf("\n");
    }
  });
}

export function send(socket, ...words) {
  if (!socket.destroyed && socket.writable) socket.write(`${words.join(" ")}\n`);
}

/** A failed XMPP login attempt as the simulator's client sees it. */
export class LoginError extends Error {
  constructor(kind, detail) {
    super(`${kind}${detail ? `: ${detail}` : ""}`);
    this.kind = kind; // unknown-host | refused | host-unknown | pkix | sasl | closed | tls-failed
    this.detail = detail;
  }
}

/**
 * Log in to the simulated prosody like smack would: resolve, connect, check the certificate against the
 * truststore's CAs, authenticate. Resolves to a session { jid, socket, join(room, nick), on(...) }.
 */
export function xmppLogin(o) {
  const { root, netDir, hostname, port, domain, username, password, cas, disableVerification } = o;
  return new Promise((resolve, reject) => {
    const address = resolveHost(root, hostname);
    if (address === undefined) return reject(new LoginError("unknown-host", hostname));
    const local = lookup(netDir, address, port);
    if (local === undefined) return reject(new LoginError("refused", `${hostname}:${port}`));
    const socket = net.connect({ host: "127.0.0.1", port: local });
    const listeners = { presence: [], close: [] };
    let stage = "greeting";
    let clientNonce = "";
    let settled = false;
    const fail = (kind, detail) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new LoginError(kind, detail));
    };
    const pendingJoins = new Map();
    socket.on("error", (e) => fail(e.code === "ECONNREFUSED" ? "refused" : "closed", `${hostname}:${port}`));
    socket.on("close", () => {
      if (!settled) return fail("closed", "connection closed by the server");
      for (const [, p] of pendingJoins) p.resolve({ ok: false, condition: "connection closed" });
      pendingJoins.clear();
      for (const f of listeners.close) f(session.streamError);
    });
    const session = {
      jid: undefined,
      socket,
      on(event, f) {
        listeners[event].push(f);
      },
      join(room, nick) {
        return new Promise((res) => {
          pendingJoins.set(room.toLowerCase(), { resolve: res });
          send(socket, "JOIN", `${room}/${nick}`);
        });
      },
      close() {
        socket.end();
      },
    };
    onLines(socket, (line) => {
      const [cmd, ...args] = line.split(" ");
      if (stage === "greeting") {
        if (cmd !== "SIMXMPP1") return fail("closed", "not a prosody simulator");
        stage = "stream";
        send(socket, "STREAM", domain);
      } else if (stage === "stream") {
        if (cmd === "ERR") return fail(args[0] === "host-unknown" ? "host-unknown" : "tls-failed", args[0]);
        if (cmd !== "CERT") return fail("closed", line);
        const der = Buffer.from(args[0] ?? "", "base64");
        if (!disableVerification && !trustedBy(der, cas)) {
          send(socket, "TLS", "alert", "certificate-unknown");
          socket.end();
          settled = true;
          return reject(new LoginError("pkix"));
        }
        send(socket, "TLS", "ok");
        clientNonce = randomBytes(12).toString("hex");
        stage = "auth";
        send(socket, "AUTH", username, clientNonce);
      } else if (stage === "auth") {
        if (cmd !== "CHALLENGE") return fail("closed", line);
        const [salt, iterations, serverNonce] = args;
        const proof = scramProof(
          password,
          Buffer.from(salt, "base64").toString("utf8"),
          Number(iterations),
          `${clientNonce},${serverNonce}`,
        );
        stage = "proof";
        send(socket, "PROOF", proof.toString("base64"));
      } else if (stage === "proof") {
        if (cmd === "SUCCESS") {
          stage = "session";
          settled = true;
          session.jid = args[0];
          resolve(session);
        } else {
          // smack closes the connection after a SASL failure; prosody logs the close.
          socket.end();
          settled = true;
          reject(new LoginError("sasl", args[0] ?? "not-authorized"));
        }
      } else if (cmd === "ERR") {
        // A stream error in an established session (prosody shutting down: system-shutdown).
        session.streamError = args[0];
      } else if (cmd === "JOINED" || cmd === "JOINERR") {
        const p = pendingJoins.get((args[0] ?? "").toLowerCase());
        pendingJoins.delete((args[0] ?? "").toLowerCase());
        p?.resolve(cmd === "JOINED" ? { ok: true } : { ok: false, condition: args[1] });
      } else if (cmd === "PRESENCE") {
        for (const f of listeners.presence) f(args[0], args[1], args[2] === "available");
      }
    });
  });
}

/** Exponential backoff for reconnects: 200 ms, doubling, capped. */
export function backoff(maxMs) {
  let next = 200;
  return {
    next() {
      const d = next;
      next = Math.min(next * 2, maxMs);
      return d;
    },
    reset() {
      next = 200;
    },
  };
}

/** A minimal HTTP health endpoint (/about/health) on 127.0.0.1, published in NETDIR for each address. */
export async function healthServer({ port, healthy, onRequest, publishAs, netDir, addresses }) {
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (url !== "/about/health") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const r = healthy();
    onRequest?.(r);
    res.writeHead(r.ok ? 200 : 500, { "content-type": r.ok ? "application/json" : "text/plain" });
    res.end(r.ok ? "{}" : `${r.reason}\n`);
  });
  await new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(port, "127.0.0.1", res);
  });
  const local = server.address().port;
  for (const a of addresses) publish(netDir, a, publishAs, local);
  return {
    server,
    port: local,
    close() {
      for (const a of addresses) unpublish(netDir, a, publishAs, local);
      server.close();
    },
  };
}

/** Exit cleanly on SIGTERM/SIGINT (rc.subr's stop), running `cleanup` first. */
export function onStop(cleanup, signals = ["SIGTERM", "SIGINT"]) {
  for (const s of signals) {
    process.on(s, () => {
      // cleanup may return a promise (prosody closes its sessions with a stream error first).
      let done;
      try {
        done = Promise.resolve(cleanup());
      } catch {
        done = Promise.resolve();
      }
      done.finally(() => process.exit(0));
    });
  }
}

/**
 * The real programs' reconnect timing (release 9646), in simulated seconds. `scale` is how many real
 * seconds a simulated one takes (tests run at 0.1: ten times faster, same sequence). Neither program ever
 * gives up reconnecting, so neither simulator does.
 *
 * jicofo: its first login is retried every 5 s (XmppProvider.start: RetryStrategy with SimpleRetryTask(0,
 * 5000)); once logged in, smack's ReconnectionManager takes over (enabled per default by XmppProvider; no
 * fixed delay set at 9646), whose RANDOM_INCREASING_DELAY policy waits randomBase seconds before each of the
 * first 7 attempts, randomBase * 6 before attempts 8 to 13 and randomBase * 30 after (the count starts
 * again at each drop), with randomBase = new Random().nextInt(13) + 2 (2 to 14) drawn once per
 * ReconnectionManager, that is once per connection: jicofo makes one XMPPTCPConnection per XmppProvider
 * and keeps it for its whole life, so one jicofo process waits the same delay after every drop. It tells
 * its listeners every second how long is left (jicofo logs each: "XMPP reconnecting in: N seconds.", then
 * 0 once more before the attempt). Sources: jitsi/jicofo jicofo-common/.../xmpp/XmppProvider.kt at
 * stable/jitsi-meet_9646 (pom.xml: smack.version 4.4.8); igniterealtime/Smack
 * smack-core/src/main/java/org/jivesoftware/smack/ReconnectionManager.java at tag 4.4.8 (randomBase,
 * timeDelay, run). From stable/jitsi-meet_9909 on jicofo sets smack's FIXED_DELAY of 2 s instead (jicofo
 * commit a470222a9, "Enable quicker reconnect"); the simulator prints 9646's lines and keeps 9646's timing.
 * `random` is the draw (default Math.random; the simulator passes random.mjs simRandom("jicofo"), which
 * VMMEET_SIM_SEED makes reproducible).
 *
 * jvb: jicoco's MucClient (1.1-141-g30ec741, jvb 9646) disables smack's reconnection and runs its
 * connect-and-login task every 5 s for ever (SimpleRetryTask(0, 5000, true, ...)): it connects if not
 * connected, logs in and joins the MUCs if not logged in. A drop is therefore noticed at the next tick,
 * 0 to 5 s later. Source: jitsi/jicoco jicoco/src/main/java/org/jitsi/xmpp/mucclient/MucClient.java.
 */
export const RECONNECT = {
  jicofo: (scale, random = Math.random) => {
    const randomBase = 2 + Math.floor(random() * 13);
    return {
      initialMs: 5000 * scale,
      tickMs: 1000 * scale,
      /** Simulated seconds before reconnect attempt n (1, 2, ...). */
      delaySeconds: (n) => (n > 13 ? randomBase * 30 : n > 7 ? randomBase * 6 : randomBase),
    };
  },
  jvb: (scale) => ({ periodMs: 5000 * scale }),
};

/**
 * Keep a login to the simulated prosody up. Without `retry`: exponential backoff up to backoffMaxMs for
 * every attempt (test/real's stand-ins). With `retry`, the real programs' timing (RECONNECT):
 *   { initialMs, tickMs, delaySeconds(n), onCountdown(secondsLeft), onReconnectFailed(err) }  jicofo: a
 *      fixed retry until the first login, then smack's countdown and increasing delay after each drop
 *   { periodMs }  jvb: one attempt per period, whether it never logged in or lost its login
 * On failure of a first login onFailure(err) is called; on success onSession(session); when a session
 * closes, onClosed() and the reconnection starts (so a restarted prosody gets its clients back).
 */
export function keepLoggedIn({ login, onFailure, onSession, onClosed, backoffMaxMs, retry }) {
  const b = backoff(backoffMaxMs ?? 5000);
  let stopped = false;
  let timer;
  let current;
  let everLoggedIn = false;
  const started = Date.now();
  const later = (fn, ms) => {
    if (!stopped) timer = setTimeout(fn, ms);
  };
  /** jvb's task runs on a fixed grid from its start: the next tick, not a full period after a drop. */
  const nextTick = () => retry.periodMs - ((Date.now() - started) % retry.periodMs);
  /** Smack's reconnection thread: count down delaySeconds(n) a second at a time, then try once. */
  const reconnect = (n) => {
    let left = retry.delaySeconds(n);
    const tick = () => {
      left -= 1;
      retry.onCountdown?.(left);
      if (left > 0) return later(tick, retry.tickMs);
      retry.onCountdown?.(0);
      attempt(n);
    };
    later(tick, retry.tickMs);
  };
  const attempt = async (n = 0) => {
    if (stopped) return;
    let session;
    try {
      session = await login();
    } catch (e) {
      if (stopped) return;
      if (retry?.delaySeconds && everLoggedIn) {
        retry.onReconnectFailed?.(e);
        return reconnect(n + 1);
      }
      onFailure(e);
      return later(attempt, !retry ? b.next() : retry.periodMs ? nextTick() : retry.initialMs);
    }
    if (stopped) {
      session.close();
      return;
    }
    b.reset();
    everLoggedIn = true;
    current = session;
    session.on("close", (streamError) => {
      current = undefined;
      if (stopped) return;
      onClosed(streamError);
      if (retry?.delaySeconds) reconnect(1);
      else later(attempt, retry ? nextTick() : b.next());
    });
    await onSession(session);
  };
  attempt();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      current?.close();
    },
  };
}

const STREAM_ERRORS =
  "You can read more about the meaning of this stream error at http://xmpp.org/rfcs/rfc6120.html#streams-error-conditions";

/**
 * Why smack says a connection closed: prosody's stream error when it shut down (system-shutdown), a reset
 * connection otherwise. { message (the exception's message), exception (its line in the log) }.
 */
export function closedError(streamError) {
  if (streamError === undefined)
    return { message: "Connection reset", exception: "java.net.SocketException: Connection reset" };
  const message = `${streamError} ${STREAM_ERRORS}`;
  return { message, exception: `org.jivesoftware.smack.XMPPException$StreamErrorException: ${message}` };
}

/**
 * jicofo's side of the brewery as both jicofo stand-ins (the simulator here and test/real's XMPP client) log
 * it: the bridges in the room, jicofo's "Added/Removed brewery instance" lines, its /about/health answer
 * (500 without a bridge, logged once when it turns bad) and the room join and connection-loss lines.
 */
export function jicofoBrewery(log, conf) {
  const brewery = String(getPath(conf, "jicofo.bridge.brewery-jid") ?? "").toLowerCase();
  const breweryCtx = `[type=bridge brewery=${brewery.split("@")[0] || "jvbbrewery"}]`;
  /** Bridges in the brewery: "room/nick". */
  const bridges = new Set();
  let healthWasOk = true;
  // Lines and their order as jicofo 9646 logs them (BaseBrewery.java, BridgeSelector.kt at
  // stable/jitsi-meet_9646): the brewery's removal, then the selector's.
  const remove = (jid) => {
    if (!bridges.delete(jid)) return;
    log.info(35, "BaseBrewery.removeInstance#359", `Removed brewery instance: ${jid}`, breweryCtx);
    log.info(35, "BridgeSelector.removeJvbAddress#109", `Removing JVB: ${jid}`);
    log.warn(35, "BridgeSelector.removeJvbAddress#112", `Lost a bridge: ${jid}`);
  };
  return {
    brewery,
    bridges,
    healthy: () =>
      bridges.size > 0
        ? { ok: true }
        : { ok: false, reason: `No operational bridges available (total bridge count: ${bridges.size})` },
    /** jicofo's health checker logs a failed check; the stand-ins log when the result turns bad. */
    onHealthRequest: (r) => {
      if (!r.ok && healthWasOk) {
        log.severe(30, "JicofoHealthChecker.check#101", "Health check failed in PT0.001S:", undefined, [
          `java.lang.RuntimeException: ${r.reason}`,
        ]);
      }
      healthWasOk = r.ok;
    },
    /** A presence in the brewery room (jicofo's own nick excluded by the caller). */
    presence: (room, nick, available) => {
      if (room !== brewery) return;
      const jid = `${room}/${nick}`;
      if (!available) return remove(jid);
      if (bridges.has(jid)) return;
      bridges.add(jid);
      log.info(35, "BaseBrewery.addInstance#347", `Added brewery instance: ${jid}`, breweryCtx);
      log.info(
        35,
        "BridgeSelector.addJvbAddress#96",
        `Added new videobridge: Bridge[jid=${jid}, version=2.0.9646, relayId=null, region=null, correctedStress=0.00]`,
      );
    },
    /** The result of joining the brewery room. */
    joined: (r) => {
      if (r.ok) log.info(32, "BaseBrewery.start#177", "Joined the room.", `[room=${brewery}]`);
      else
        log.severe(32, "BaseBrewery.start#181", "Failed to create room.", breweryCtx, [
          `org.jivesoftware.smack.XMPPException$XMPPErrorException: XMPP error reply received from ${brewery}: XMPPError: ${r.condition} - cancel`,
        ]);
    },
    /**
     * Losing the XMPP connection: jicofo 9646 logs it, stops being registered, and its brewery leaves the
     * room and drops every bridge (BaseBrewery.registrationChanged(false) -> stop()).
     */
    closed: (ctx, streamError) => {
      const e = closedError(streamError);
      log.severe(
        25,
        "XmppProvider$connectionListener$1.connectionClosedOnError#113",
        `XMPP connection closed on error: ${e.message}`,
        ctx,
        [e.exception],
      );
      log.info(35, "BaseBrewery.stop#204", "Left the room.", breweryCtx);
      for (const jid of [...bridges]) remove(jid);
    },
  };
}
