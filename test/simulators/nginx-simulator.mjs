#!/usr/bin/env node
// nginx SIMULATOR: a tiny test double of nginx for the simulated web VM, NOT nginx (plain HTTP even on
// the "ssl" port, no TLS). It reads the rendered nginx.conf (listen ports, ssl_certificate files,
// error_log, access_log with its log_format, `location ... { proxy_pass http://ADDR:PORT/...; }`),
// serves every listen port through NETDIR, proxies /http-bind (and other proxy_pass locations) to the
// upstream found in NETDIR, and writes nginx's error_log lines ("connect() failed (111: Connection
// refused) while connecting to upstream, ...") when the upstream is not there. Like nginx, it refuses to
// start when an ssl_certificate file is missing ([emerg] cannot load certificate).
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { nginxLine } from "./log-lines.mjs";
import { onStop, simulatorArgs } from "./process-lifecycle.mjs";
import { lookup, ownAddresses, publish, unpublish } from "./simulated-network.mjs";
import { inRoot, readIfExists, vmNow } from "./vm.mjs";

const HELP = `nginx-simulator: a test double of nginx (not nginx; plain HTTP only)
usage: nginx-simulator.mjs --root DIR --net DIR [--config /etc/nginx/nginx.conf] [--address A]...
`;

const args = simulatorArgs(HELP);
const ROOT = path.resolve(args.root);
const NET = path.resolve(args.net);
const CONFIG = args.config ?? "/etc/nginx/nginx.conf";
// OpenBSD's nginx is built with --prefix=/var/www: relative log paths are below it.
const PREFIX = "/var/www";

/** nginx.conf -> directive tree [{ name, args, block? }]. */
function parseNginx(text) {
  const toks = [];
  const re = /\s+|#[^\n]*|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([{};])|([^\s{};'"#]+)/gy;
  while (re.lastIndex < text.length) {
    const m = re.exec(text);
    if (m === null) break;
    if (m[1] !== undefined || m[2] !== undefined) toks.push({ w: m[1] ?? m[2] });
    else if (m[3]) toks.push({ p: m[3] });
    else if (m[4]) toks.push({ w: m[4] });
  }
  let i = 0;
  const block = () => {
    const out = [];
    while (i < toks.length) {
      const t = toks[i++];
      if (t.p === "}") return out;
      if (t.p) continue;
      const d = { name: t.w, args: [] };
      while (i < toks.length && toks[i].w !== undefined) d.args.push(toks[i++].w);
      const end = toks[i++];
      if (end?.p === "{") d.block = block();
      out.push(d);
    }
    return out;
  };
  return block();
}

const text = readIfExists(inRoot(ROOT, CONFIG));
if (text === undefined) {
  process.stderr.write(`nginx: [emerg] open() "${CONFIG}" failed (2: No such file or directory)\n`);
  process.exit(1);
}
const conf = parseNginx(text);
const find = (list, name) => (list ?? []).filter((d) => d.name === name);
const abs = (p) => (p.startsWith("/") ? p : path.posix.join(PREFIX, p));
const errorLog = inRoot(ROOT, abs(find(conf, "error_log")[0]?.args[0] ?? "logs/error.log"));
let connSeq = 0;

function logError(level, msg, conn) {
  try {
    fs.mkdirSync(path.dirname(errorLog), { recursive: true });
    fs.appendFileSync(errorLog, `${nginxLine(level, msg, conn)}\n`);
  } catch {
    // nginx goes on when it cannot write its log
  }
}

const httpBlock = find(conf, "http")[0]?.block ?? [];
const formats = new Map([
  [
    "combined",
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"',
  ],
]);
for (const d of find(httpBlock, "log_format")) formats.set(d.args[0], d.args.slice(1).join(""));
const access = find(httpBlock, "access_log")[0];
const accessLog = access && access.args[0] !== "off" ? inRoot(ROOT, abs(access.args[0])) : undefined;
const accessFormat = formats.get(access?.args[1] ?? "combined") ?? formats.get("combined");

/** nginx's $time_local: 21/Nov/2024:06:12:09 +0000 */
function timeLocal(d = vmNow()) {
  const two = (n) => String(n).padStart(2, "0");
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
    d.getMonth()
  ];
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? "-" : "+"}${two(Math.floor(Math.abs(off) / 60))}${two(Math.abs(off) % 60)}`;
  return `${two(d.getDate())}/${mon}/${d.getFullYear()}:${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
}

function logAccess(vars) {
  if (!accessLog) return;
  const line = accessFormat.replace(/\$(\w+)/g, (_, v) =>
    vars[v] === undefined || vars[v] === "" ? "-" : String(vars[v]),
  );
  try {
    fs.mkdirSync(path.dirname(accessLog), { recursive: true });
    fs.appendFileSync(accessLog, `${line}\n`);
  } catch {
    // as above
  }
}

const servers = find(httpBlock, "server").map((s) => ({
  names: find(s.block, "server_name")[0]?.args ?? [],
  ports: [...new Set(find(s.block, "listen").map((d) => Number(/(\d+)$/.exec(d.args[0])?.[1])))].filter(
    Number.isInteger,
  ),
  certs: [...find(s.block, "ssl_certificate"), ...find(s.block, "ssl_certificate_key")].map((d) => d.args[0]),
  locations: find(s.block, "location").map((l) => ({
    match: l.args.length > 1 ? l.args[0] : "",
    path: l.args[l.args.length - 1],
    proxy: find(l.block, "proxy_pass")[0]?.args[0],
    ret: find(l.block, "return")[0]?.args,
  })),
}));

for (const s of servers) {
  for (const c of s.certs) {
    if (!fs.existsSync(inRoot(ROOT, c))) {
      const msg = `cannot load certificate "${c}": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory)`;
      logError("emerg", msg);
      process.stderr.write(`nginx: [emerg] ${msg}\n`);
      process.exit(1);
    }
  }
}

function pickLocation(s, url) {
  let best;
  for (const l of s.locations) {
    if (l.match === "=" && url === l.path) return l;
    if (l.match === "" || l.match === "^~") {
      if (url.startsWith(l.path) && (!best || l.path.length > best.path.length)) best = l;
    }
  }
  return best;
}

function handler(server) {
  return (req, res) => {
    const conn = ++connSeq;
    const url = (req.url ?? "/").split("?")[0];
    const request = `${req.method} ${req.url} HTTP/${req.httpVersion}`;
    const host = req.headers.host ?? server.names[0] ?? "";
    const done = (status, upstream, body = "") => {
      if (res.headersSent) return;
      res.writeHead(status, { "content-type": "text/plain" });
      res.end(body);
      logAccess({
        time_local: timeLocal(),
        remote_addr: "127.0.0.1",
        request,
        status,
        body_bytes_sent: Buffer.byteLength(body),
        upstream_addr: upstream,
        proxy_host: upstream,
      });
    };
    const loc = pickLocation(server, url);
    if (loc?.ret) {
      res.writeHead(Number(loc.ret[0]), {
        location: (loc.ret[1] ?? "").replace("$host", host).replace("$request_uri", req.url ?? "/"),
      });
      res.end();
      logAccess({
        time_local: timeLocal(),
        remote_addr: "127.0.0.1",
        request,
        status: loc.ret[0],
        body_bytes_sent: 0,
      });
      return;
    }
    if (loc?.proxy) {
      const m = /^http:\/\/([^/:]+):(\d+)(\/.*)?$/.exec(loc.proxy);
      const upstream = m ? `${m[1]}:${m[2]}` : loc.proxy;
      const local = m ? lookup(NET, m[1], Number(m[2])) : undefined;
      const refuse = () => {
        logError(
          "error",
          `connect() failed (111: Connection refused) while connecting to upstream, client: 127.0.0.1, server: ${server.names[0] ?? ""}, request: "${request}", upstream: "${loc.proxy}", host: "${host}"`,
          conn,
        );
        done(502, upstream, "502 Bad Gateway\n");
      };
      if (local === undefined) return refuse();
      const up = http.request(
        {
          host: "127.0.0.1",
          port: local,
          method: req.method,
          path: (m[3] ?? url) + (req.url?.slice(url.length) ?? ""),
          headers: req.headers,
        },
        (ur) => {
          const chunks = [];
          ur.on("data", (c) => chunks.push(c));
          ur.on("end", () => done(ur.statusCode ?? 502, upstream, Buffer.concat(chunks).toString("utf8")));
        },
      );
      up.on("error", refuse);
      req.pipe(up);
      return;
    }
    done(200, undefined, "jitsi-meet (served by nginx-simulator)\n");
  };
}

const addresses = ownAddresses(ROOT, args.address);
const published = [];
const listeners = [];
for (const s of servers) {
  for (const port of s.ports) {
    const srv = http.createServer(handler(s));
    await new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(0, "127.0.0.1", resolve);
    });
    listeners.push(srv);
    for (const a of addresses) {
      publish(NET, a, port, srv.address().port);
      published.push([a, port, srv.address().port]);
    }
  }
}
logError(
  "notice",
  `nginx-simulator (a test double, not nginx) serving ports ${servers.flatMap((s) => s.ports).join(", ")}`,
);

// rc.d's nginx stops with QUIT (graceful) and reloads with HUP.
onStop(() => {
  for (const [a, port, local] of published) unpublish(NET, a, port, local);
  for (const l of listeners) l.close();
}, ["SIGTERM", "SIGINT", "SIGQUIT"]);
process.on("SIGHUP", () =>
  logError("notice", "signal process started (reload: the simulator keeps its configuration)"),
);
