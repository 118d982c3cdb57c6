#!/usr/bin/env node
// prosodyctl SIMULATOR: a test double of prosodyctl (not prosody's). Stores accounts where prosody's
// internal_hashed provider keeps them, DATA/<host>/accounts/<user>.dat with every name encoded like
// util/datamanager (auth.example.org -> auth%2eexample%2eorg), as a Lua table of the salted SCRAM keys
// (salt, iteration_count, stored_key, server_key): the password itself is never written. The agent's
// prosody-user action checks for that file (packages/agent/src/actions/prosody.ts).
//
//   prosodyctl-simulator.mjs --root DIR [--config FILE] register USER HOST PASSWORD
//   prosodyctl-simulator.mjs --root DIR deluser USER@HOST
//   prosodyctl-simulator.mjs --root DIR mod_roster_command subscribe PROXY USER@HOST
//   prosodyctl-simulator.mjs --root DIR status
import fs from "node:fs";
import path from "node:path";
import { accountFile, prosodyEncode, scramCredentials } from "./prosody-accounts.mjs";
import { parseLuaReturn, parseProsodyConfig } from "./prosody-lua.mjs";
import { inRoot, readIfExists } from "./vm.mjs";

const HELP = `prosodyctl-simulator: a test double of prosodyctl (not prosody's)
usage: prosodyctl-simulator.mjs --root DIR [--config /etc/prosody/prosody.cfg.lua] COMMAND
  register USER HOST PASSWORD               create the account or reset its password
  deluser USER@HOST                          delete the account
  mod_roster_command subscribe PROXY JID     record a roster subscription
  status                                     exit 0 when prosody-simulator runs (pidfile)
`;

// Options come first (the wrapper adds --root), then prosodyctl's own command line untouched: a password
// may start with "--".
const argv = process.argv.slice(2);
const opts = {};
while (argv[0]?.startsWith("--")) {
  const a = argv.shift();
  if (a === "--help") {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const eq = a.indexOf("=");
  if (eq >= 0) opts[a.slice(2, eq)] = a.slice(eq + 1);
  else opts[a.slice(2)] = argv.shift();
}
if (!opts.root || argv.length === 0) {
  process.stderr.write(HELP);
  process.exit(64);
}
const ROOT = path.resolve(opts.root);
const CONFIG = opts.config ?? "/etc/prosody/prosody.cfg.lua";

function die(msg, code = 1) {
  process.stderr.write(`${msg}\n`);
  process.exit(code);
}

function config() {
  const text = readIfExists(inRoot(ROOT, CONFIG));
  if (text === undefined) die(`Couldn't load the config file ${CONFIG}: No such file or directory`);
  try {
    return parseProsodyConfig(text);
  } catch (e) {
    die(`A problem occurred while reading the config file ${CONFIG}: ${e.message}`);
  }
}

const cfg = config();
const dataPath = typeof cfg.global.data_path === "string" ? cfg.global.data_path : "/var/prosody";
const hostExists = (host) => cfg.hosts.some((h) => h.name === host);

function writeAtomic(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

function luaTable(obj) {
  const lines = Object.keys(obj)
    .sort()
    .map((k) => {
      const v = obj[k];
      const val =
        typeof v === "number"
          ? String(v)
          : typeof v === "object"
            ? luaTable(v).trimEnd()
            : JSON.stringify(String(v));
      return `\t[${JSON.stringify(k)}] = ${val};`;
    });
  return `{\n${lines.join("\n")}\n}`;
}

function splitJid(jid) {
  const at = (jid ?? "").indexOf("@");
  if (at <= 0) die(`invalid JID: ${jid}`);
  return [jid.slice(0, at), jid.slice(at + 1)];
}

const [cmd, ...rest] = argv;
switch (cmd) {
  case "register": {
    const [user, host, password] = rest;
    if (!user || !host || password === undefined) die("usage: prosodyctl register USER HOST [PASSWORD]");
    if (!hostExists(host)) die("The given hostname does not exist in the config");
    writeAtomic(accountFile(ROOT, dataPath, host, user), `return ${luaTable(scramCredentials(password))};\n`);
    break;
  }
  case "deluser": {
    const [user, host] = splitJid(rest[0]);
    const file = accountFile(ROOT, dataPath, host, user);
    if (!fs.existsSync(file)) die("The given user does not exist");
    fs.rmSync(file);
    break;
  }
  case "mod_roster_command": {
    const [sub, proxy, jid] = rest;
    if (sub !== "subscribe" || !proxy || !jid)
      die("usage: prosodyctl mod_roster_command subscribe PROXY JID");
    const [user, host] = splitJid(jid);
    if (!fs.existsSync(accountFile(ROOT, dataPath, host, user))) die(`No such user: ${jid}`);
    const file = inRoot(
      ROOT,
      path.posix.join(dataPath, prosodyEncode(host), "roster", `${prosodyEncode(user)}.dat`),
    );
    const existing = readIfExists(file);
    const roster = existing === undefined ? {} : parseLuaReturn(existing);
    roster[proxy] = { subscription: "both" };
    writeAtomic(file, `return ${luaTable(roster)};\n`);
    break;
  }
  case "status": {
    const pidfile = typeof cfg.global.pidfile === "string" ? inRoot(ROOT, cfg.global.pidfile) : undefined;
    const pid = Number((pidfile && readIfExists(pidfile))?.trim());
    let running = false;
    if (Number.isInteger(pid) && pid > 0) {
      try {
        process.kill(pid, 0);
        running = true;
      } catch {
        running = false;
      }
    }
    process.stdout.write(running ? `Prosody is running with PID ${pid}\n` : "Prosody is not running\n");
    process.exit(running ? 0 : 1);
    break;
  }
  default:
    die(`prosodyctl-simulator: unsupported command ${cmd}\n${HELP}`, 64);
}
