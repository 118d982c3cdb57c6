#!/usr/bin/env node
// A service stand-in for the benchmarks: started by the rcctl test double in place of prosody, jicofo, jvb,
// nginx, vmd or syslogd. It starts at once (the benchmarks measure vmmeet, not a JVM's start time) and
// holds the loopback ports the agent's health probes connect to, so that the rollout's health gates see a
// running service:
//
//   sleeper.mjs NAME [--ports 5222,5280] [--http 8888] [anything else rc.conf.local adds, ignored]
//
// --ports: plain TCP listeners on 127.0.0.1 (connections are closed at once); --http: a listener answering
// every request with 200 (jicofo's /about/health). A port already taken is reported on stderr and skipped:
// the benchmark then fails at its health gate and says why, instead of this process dying unnoticed.
import http from "node:http";
import net from "node:net";

const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const ports = (opt("--ports") ?? "").split(",").filter(Boolean).map(Number);
const httpPort = opt("--http") === undefined ? null : Number(opt("--http"));

const onError = (port) => (err) => {
  process.stderr.write(`sleeper ${argv[0] ?? "?"}: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
};
for (const port of ports) {
  const server = net.createServer((sock) => sock.destroy());
  server.on("error", onError(port));
  server.listen(port, "127.0.0.1");
}
if (httpPort !== null) {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end('{"status":"ok"}\n');
  });
  server.on("error", onError(httpPort));
  server.listen(httpPort, "127.0.0.1");
}
setInterval(() => {}, 60_000);
process.on("SIGTERM", () => process.exit(0));
