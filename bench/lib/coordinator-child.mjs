#!/usr/bin/env node
// The coordinator daemon in a process of its own, for the fleet benchmark: its RSS is read from /proc
// without the benchmark's own memory in it, and "restart" is a real process exit and a new process.
//
//   coordinator-child.mjs STATE_DIR PORT [--insecure]      (PORT 0: any free port)
//
// Talks to its parent over IPC: sends {type: "ready", port, adminSocket} once listening, then answers
//   {cmd: "connected", nodes}                 -> {count}: how many of `nodes` are connected
//   {cmd: "fanout", nodes, generation, desired, timeoutMs}
//        -> {ms: [per node: ms until its apply-result, or null], errors: [first few], totalMs}
// through the core's fleet.request, the path every rollout stage takes to send a desired state.
import pino from "pino";
import { pkg } from "./packages.mjs";

const { CoordinatorDaemon } = await import(pkg("coordinator/dist/index.js"));

const [stateDir, portText, ...rest] = process.argv.slice(2);
const daemon = new CoordinatorDaemon({
  stateDir,
  listen: { host: "127.0.0.1", port: Number(portText ?? 0) },
  logger: pino({ level: "silent" }),
  ...(rest.includes("--insecure") ? { insecure: true } : {}),
});
await daemon.start();
process.send?.({ type: "ready", port: daemon.port, adminSocket: daemon.adminSocket });

async function fanout({ nodes, generation, desired, timeoutMs }) {
  const fleet = daemon.core.fleet;
  const start = performance.now();
  const errors = [];
  const ms = await Promise.all(
    nodes.map((node) =>
      fleet
        .request(node, { type: "desired", generation, desired: { ...desired, node } }, timeoutMs)
        .then((reply) => {
          if (reply.type !== "apply-result" || !reply.ok) {
            if (errors.length < 5) errors.push(`${node}: ${reply.error ?? reply.type}`);
            return null;
          }
          return performance.now() - start;
        })
        .catch((err) => {
          if (errors.length < 5) errors.push(`${node}: ${err.message}`);
          return null;
        }),
    ),
  );
  return { ms, errors, totalMs: performance.now() - start };
}

process.on("message", async (msg) => {
  try {
    if (msg.cmd === "connected") {
      const count = msg.nodes.filter((n) => daemon.core.fleet.connected(n)).length;
      process.send?.({ reply: msg.seq, count });
    } else if (msg.cmd === "fanout") {
      process.send?.({ reply: msg.seq, ...(await fanout(msg)) });
    }
  } catch (err) {
    process.send?.({ reply: msg.seq, error: err.message });
  }
});

const stop = () => {
  daemon.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGTERM", stop);
process.once("disconnect", stop);
