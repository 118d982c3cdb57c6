#!/usr/bin/env node
// prosody SIMULATOR: a test double of prosody for simulated VMs, NOT prosody and NOT an XMPP server. It
// reads the rendered prosody.cfg.lua, the accounts prosodyctl-simulator.mjs stored and the auth
// certificate, serves the simulators' line protocol (xmpp-stand-in.mjs) on a loopback port published in NETDIR, and
// writes prosody's file log lines for what it sees (the paper, section XVII): a login ("Client connected",
// "Stream encrypted (...)", "Authenticated as focus@auth.DOMAIN"), a wrong password ("Stream encrypted" then
// "Client disconnected: connection closed"), a client whose truststore lacks the CA ("Client disconnected:
// sslv3 alert certificate unknown"). It keeps the MUC rooms of `Component "..." "muc"` hosts and tells every
// occupant who joins and leaves (jicofo learns the brewery's bridges from that).
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { prosodyLine } from "./log-lines.mjs";
import { onStop, simulatorArgs } from "./process-lifecycle.mjs";
import { accountFile, SCRAM_ITERATIONS, scramVerify } from "./prosody-accounts.mjs";
import { parseLuaReturn, parseProsodyConfig } from "./prosody-lua.mjs";
import { ownAddresses, publish, unpublish } from "./simulated-network.mjs";
import { pemToDer } from "./truststore.mjs";
import { inRoot, readIfExists } from "./vm.mjs";
import { onLines, send } from "./xmpp-stand-in.mjs";

const HELP = `prosody-simulator: a test double of prosody (not prosody, does not speak XMPP)
usage: prosody-simulator.mjs --root DIR --net DIR [--config /etc/prosody/prosody.cfg.lua] [--address A]...
  --root     the simulated VM's root (config, accounts, certificates and logs are read/written under it)
  --net      the simulated network directory (NETDIR/<address>/<port> holds the loopback port)
  --address  this VM's address (default: ROOT/etc/myname looked up in ROOT/etc/hosts)
`;

const args = simulatorArgs(HELP);
const ROOT = path.resolve(args.root);
const NET = path.resolve(args.net);
const CONFIG = args.config ?? "/etc/prosody/prosody.cfg.lua";

const RANK = { debug: 0, info: 1, warn: 2, error: 3 };
let cfg;
let sinks = [];
let certs = new Map(); // host -> DER of its certificate, or an error text
let dataPath = "/var/prosody";

function log(source, level, msg) {
  const line = `${prosodyLine(source, level, msg)}\n`;
  if (sinks.length === 0) process.stdout.write(line);
  for (const s of sinks) {
    if (RANK[level] >= RANK[s.level]) {
      try {
        fs.mkdirSync(path.dirname(s.file), { recursive: true });
        fs.appendFileSync(s.file, line);
      } catch {
        // an unwritable log is skipped, as prosody does after reporting it once
      }
    }
  }
}

function loadConfig() {
  const text = readIfExists(inRoot(ROOT, CONFIG));
  if (text === undefined)
    throw new Error(`Couldn't load the config file ${CONFIG}: No such file or directory`);
  const c = parseProsodyConfig(text);
  // log = "file" | { level = "file", ... }: a sink gets its level and above (prosody's shorthand form).
  const logOpt = c.global.log;
  const s = [];
  if (typeof logOpt === "string") s.push({ level: "info", file: inRoot(ROOT, logOpt) });
  else if (logOpt && typeof logOpt === "object") {
    for (const [level, file] of Object.entries(logOpt)) {
      if (RANK[level] !== undefined && typeof file === "string" && file.startsWith("/"))
        s.push({ level, file: inRoot(ROOT, file) });
    }
  }
  cfg = c;
  sinks = s;
  dataPath = typeof c.global.data_path === "string" ? c.global.data_path : "/var/prosody";
  certs = new Map();
  for (const h of c.hosts) {
    const file = h.settings.ssl?.certificate;
    if (typeof file !== "string") continue;
    const pem = readIfExists(inRoot(ROOT, file));
    if (pem === undefined) {
      certs.set(h.name, { error: true });
      log(
        "certmanager",
        "error",
        `SSL/TLS: Failed to load '${file}': Check that the path is correct, and the file exists. (for ${h.name})`,
      );
      continue;
    }
    try {
      certs.set(h.name, { der: pemToDer(pem) });
    } catch {
      certs.set(h.name, { error: true });
      log("certmanager", "error", `SSL/TLS: Failed to load '${file}': not a certificate (for ${h.name})`);
    }
  }
}

try {
  loadConfig();
} catch (e) {
  process.stderr.write(`prosody-simulator: ${e.message}\n`);
  process.exit(1);
}

const addresses = ownAddresses(ROOT, args.address);
if (addresses.length === 0) {
  process.stderr.write(
    "prosody-simulator: cannot tell this VM's address (ROOT/etc/myname + ROOT/etc/hosts, or --address)\n",
  );
  process.exit(1);
}

log("startup", "info", `prosody-simulator (a test double, not prosody) reading ${CONFIG}`);
log("startup", "info", "Hello and welcome to Prosody version 0.12.4");

const ports = (v, d) =>
  Array.isArray(v) ? v.filter((n) => Number.isInteger(n)) : Number.isInteger(v) ? [v] : d;
const c2sPorts = ports(cfg.global.c2s_ports, [5222]);
const httpPorts = ports(cfg.global.http_ports, [5280]);

// ---------------------------------------------------------------------------------------------------
// MUC rooms: room jid (lower case) -> Map(nick -> session)

const rooms = new Map();
const sessions = new Set();

function writeRegistry() {
  const out = {};
  for (const [room, occ] of rooms) out[room] = [...occ.keys()];
  const file = inRoot(ROOT, path.posix.join(dataPath, "simulator-muc.json"));
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(`${file}.tmp`, `${JSON.stringify({ rooms: out }, null, 2)}\n`);
    fs.renameSync(`${file}.tmp`, file);
  } catch {
    // the registry is a convenience for tests; prosody's service does not depend on it
  }
}

function broadcast(room, nick, state) {
  const occ = rooms.get(room);
  if (!occ) return;
  for (const [, s] of occ) send(s.socket, "PRESENCE", room, nick, state);
}

function leaveAll(session) {
  for (const [room, occ] of rooms) {
    for (const [nick, s] of occ) {
      if (s !== session) continue;
      occ.delete(nick);
      broadcast(room, nick, "unavailable");
    }
    if (occ.size === 0) rooms.delete(room);
  }
  writeRegistry();
}

function readAccount(host, user) {
  const text = readIfExists(accountFile(ROOT, dataPath, host, user));
  if (text === undefined) return undefined;
  try {
    const a = parseLuaReturn(text);
    return typeof a.stored_key === "string" && typeof a.salt === "string" ? a : undefined;
  } catch {
    return undefined;
  }
}

function handleClient(socket) {
  // prosody names c2s sessions after the session table's address: "c2s" and hex digits.
  const id = `c2s${randomBytes(6).toString("hex").slice(0, 11)}`;
  const s = { id, socket, host: undefined, encrypted: false, user: undefined, jid: undefined, ended: false };
  sessions.add(s);
  log(id, "info", "Client connected");
  const end = (reason) => {
    if (!s.ended) log(id, "info", `Client disconnected: ${reason}`);
    s.ended = true;
    socket.destroy();
  };
  socket.on("error", () => {});
  socket.on("close", () => {
    sessions.delete(s);
    if (!s.ended) log(id, "info", "Client disconnected: connection closed");
    s.ended = true;
    leaveAll(s);
  });
  let challenge;
  onLines(socket, (line) => {
    const [cmd, ...a] = line.split(" ");
    if (cmd === "STREAM") {
      const host = cfg.hosts.find((h) => h.name.toLowerCase() === (a[0] ?? "").toLowerCase());
      if (!host) {
        send(socket, "ERR", "host-unknown");
        return end("host-unknown");
      }
      s.host = host.name;
      const cert = certs.get(host.name);
      if (!cert || cert.error) {
        send(socket, "ERR", "tls-failed");
        return end("ssl handshake failed");
      }
      send(socket, "CERT", cert.der.toString("base64"));
    } else if (cmd === "TLS") {
      if (a[0] === "ok") {
        s.encrypted = true;
        log(id, "info", "Stream encrypted (TLSv1.3 with TLS_AES_256_GCM_SHA384)");
      } else {
        // The client's TLS stack aborts with a fatal alert; prosody 0.12 reports OpenSSL's wording.
        return end("sslv3 alert certificate unknown");
      }
    } else if (cmd === "AUTH" && s.encrypted && s.user === undefined) {
      const [user, clientNonce] = a;
      const acct = readAccount(s.host, user ?? "");
      const serverNonce = randomBytes(12).toString("hex");
      // Unknown users get a made-up challenge, so a client cannot tell them from a wrong password.
      const salt = acct?.salt ?? randomBytes(16).toString("hex");
      const iterations = acct?.iteration_count ?? SCRAM_ITERATIONS;
      challenge = { user, acct, authMessage: `${clientNonce},${serverNonce}` };
      send(
        socket,
        "CHALLENGE",
        Buffer.from(salt, "utf8").toString("base64"),
        String(iterations),
        serverNonce,
      );
    } else if (cmd === "PROOF" && challenge) {
      const { user, acct, authMessage } = challenge;
      challenge = undefined;
      const proof = Buffer.from(a[0] ?? "", "base64");
      if (acct && scramVerify(acct.stored_key, authMessage, proof)) {
        s.user = user;
        s.jid = `${user}@${s.host}/${randomBytes(6).toString("hex")}`;
        log(id, "info", `Authenticated as ${user}@${s.host}`);
        send(socket, "SUCCESS", s.jid);
      } else {
        send(socket, "FAILURE", "not-authorized");
      }
    } else if (cmd === "JOIN" && s.user !== undefined) {
      const full = a[0] ?? "";
      const slash = full.indexOf("/");
      const room = (slash < 0 ? full : full.slice(0, slash)).toLowerCase();
      const nick = slash < 0 ? "" : full.slice(slash + 1);
      const domain = room.split("@")[1] ?? "";
      const muc = cfg.components.find((c) => c.type === "muc" && c.name.toLowerCase() === domain);
      if (!muc || nick === "" || !room.includes("@")) return send(socket, "JOINERR", room, "item-not-found");
      const occ = rooms.get(room) ?? new Map();
      if (occ.has(nick) && occ.get(nick) !== s) return send(socket, "JOINERR", room, "conflict");
      rooms.set(room, occ);
      send(socket, "JOINED", room, nick);
      for (const [other] of occ) if (other !== nick) send(socket, "PRESENCE", room, other, "available");
      occ.set(nick, s);
      broadcast(room, nick, "available");
      writeRegistry();
    } else if (cmd === "LEAVE" && s.user !== undefined) {
      const room = (a[0] ?? "").toLowerCase();
      const occ = rooms.get(room);
      for (const [nick, o] of occ ?? []) {
        if (o !== s) continue;
        occ.delete(nick);
        broadcast(room, nick, "unavailable");
      }
      writeRegistry();
    } else if (cmd === "PING") {
      send(socket, "PONG");
    }
  });
  send(socket, "SIMXMPP1", "prosody-simulator");
}

// ---------------------------------------------------------------------------------------------------
// listeners

const published = [];

async function listen(server, port, what) {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const local = server.address().port;
  for (const a of addresses) {
    publish(NET, a, port, local);
    published.push([a, port, local]);
  }
  log("portmanager", "info", `Activated service '${what}' on [*]:${port}, [::]:${port}`);
}

for (const port of c2sPorts) await listen(net.createServer(handleClient), port, "c2s");
for (const port of httpPorts) {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (url === "/http-bind" && req.method === "GET") {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("It works! Now point your BOSH client to this URL (prosody-simulator).\n");
    } else if (url === "/http-bind" && req.method === "POST") {
      req.resume();
      res.writeHead(200, { "content-type": "text/xml; charset=utf-8" });
      res.end(
        "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='item-not-found'/>",
      );
    } else {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("Not found\n");
    }
  });
  await listen(server, port, "http");
}
writeRegistry();

const pidfile = typeof cfg.global.pidfile === "string" ? inRoot(ROOT, cfg.global.pidfile) : undefined;
if (pidfile) {
  fs.mkdirSync(path.dirname(pidfile), { recursive: true });
  fs.writeFileSync(pidfile, `${process.pid}\n`);
}

process.on("SIGHUP", () => {
  log("general", "info", "Reloading configuration file");
  try {
    loadConfig();
  } catch (e) {
    log("general", "error", `Error reloading config file: ${e.message}`);
  }
});

// A SIGTERM's lines, in prosody 0.12's order (Debian 0.12.3: mod_posix.lua line 132, util/startup.lua lines
// 350, 640, 635 and 643): the signal, the reason, then, once every session is closed, the main loop's end.
// "Shutdown complete" is the last line of the process: the agent takes what the old process logged up to it
// as the old process's (packages/agent/src/health/state.ts PROCESS_BOUNDS).
onStop(async () => {
  log("mod_posix", "warn", "Received SIGTERM");
  log("startup", "info", "Shutting down: Received SIGTERM");
  for (const [a, port, local] of published) unpublish(NET, a, port, local);
  // prosody closes every client session with the system-shutdown stream error (mod_c2s, server-stopping),
  // which its clients' smack reports as the reason the connection closed.
  const closing = [...sessions].map(
    (s) =>
      new Promise((resolve) => {
        s.socket.once("close", resolve);
        send(s.socket, "ERR", "system-shutdown");
        s.socket.end();
        setTimeout(() => {
          s.socket.destroy();
          resolve();
        }, 300).unref();
      }),
  );
  await Promise.all(closing);
  log("general", "info", "Shutting down...");
  log("general", "info", "Shutdown status: Cleaning up");
  rooms.clear();
  writeRegistry();
  // mod_posix removes the pidfile on server-stopped, before the last line.
  if (pidfile) fs.rmSync(pidfile, { force: true });
  log("general", "info", "Shutdown complete");
});
