#!/usr/bin/env node
// Many agents in one process for the fleet benchmark: each one is the agent's own AgentTransport
// (packages/agent/dist/transport/client.js: hello, welcome, heartbeat, reconnect with its capped backoff
// and jitter) over wss:// with a client certificate from the real enrollment endpoint. What they do with a
// desired state is scripted: acknowledge it at once (apply-result ok) and send a snapshot, as an agent does
// after every apply. They apply nothing: the benchmark measures the coordinator and the protocol.
//
// Driven over IPC by the parent:
//   {cmd: "enroll", url, tokens: [{node, token}], caHash} -> {enrolled: n}
//       GET /enroll/ca (accepted only with the pinned hash), then POST /enroll per node. One RSA key
//       serves every node of this process (the coordinator signs a certificate per node for it); an agent
//       makes its own key, which would only add key generation time to the benchmark's setup.
//   {cmd: "start", url, desired}       -> {started: n}   connect every node (the snapshot describes `desired`)
//   {cmd: "count"}                     -> {open: n, reconnects: n}
//   {cmd: "stop"}                      -> {stopped: n}
import { generateKeyPair, sign, X509Certificate } from "node:crypto";
import https from "node:https";
import pino from "pino";
import { pkg } from "./packages.mjs";

const { AgentTransport } = await import(pkg("agent/dist/transport/client.js"));
const { pinnedServerIdentity } = await import(pkg("agent/dist/enroll/pin.js"));
const { entryDigest, pemFingerprint } = await import(pkg("node/dist/index.js"));

const logger = pino({ level: "silent" });
const agents = new Map();
let material = null;

function request(url, { method, body, ca, caHash }) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        headers: body ? { "content-type": "application/json" } : {},
        ...(ca ? { ca, checkServerIdentity: pinnedServerIdentity(caHash) } : { rejectUnauthorized: false }),
        agent: false,
        timeout: 60_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => resolve({ status: res.statusCode, text }));
      },
    );
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

async function enrollAll({ url, tokens, caHash }) {
  const base = `https://${new URL(url).host}`;
  const caRes = await request(`${base}/enroll/ca`, { method: "GET" });
  const ca = caRes.text;
  if (pemFingerprint(ca) !== caHash) throw new Error("the coordinator's CA is not the pinned one");
  const keys = await new Promise((resolve, reject) =>
    generateKeyPair(
      "rsa",
      {
        modulusLength: 2048,
        publicKeyEncoding: { type: "spki", format: "pem" },
        privateKeyEncoding: { type: "pkcs8", format: "pem" },
      },
      (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey })),
    ),
  );
  material = { ca, caHash, key: keys.privateKey, certs: new Map() };
  let next = 0;
  const worker = async () => {
    while (next < tokens.length) {
      const { node, token } = tokens[next++];
      const id = token.split(".")[0];
      const signature = sign("sha256", Buffer.from(`vmmeet-enroll:v1:${node}:${id}`), keys.privateKey);
      const res = await request(`${base}/enroll`, {
        method: "POST",
        ca,
        caHash,
        body: JSON.stringify({
          node,
          token,
          publicKeyPem: keys.publicKey,
          signature: signature.toString("base64"),
        }),
      });
      if (res.status !== 200)
        throw new Error(`enrollment of ${node}: ${res.status} ${res.text.slice(0, 200)}`);
      const certPem = JSON.parse(res.text).certPem;
      new X509Certificate(certPem); // readable, or throw
      material.certs.set(node, certPem);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { enrolled: material.certs.size };
}

/** What an agent reports for a desired state it holds: files as written, services running, healthy. */
function statusFor(desired, generation) {
  const since = new Date().toISOString();
  return {
    generation,
    applying: null,
    files: desired.files.map((f) => ({
      path: f.path,
      sha256: entryDigest(f),
      mode: f.mode,
      owner: f.owner,
      group: f.group,
    })),
    services: desired.services.map((s) => ({
      name: s.name,
      enabled: true,
      running: true,
      flags: s.flags,
      state: "ok",
      restarts: 0,
    })),
    health: [{ component: "jvb", state: "healthy", explain: "scripted", since, signals: [] }],
    metrics: {
      at: since,
      load1: 0.1,
      memUsedBytes: 1.2e9,
      memTotalBytes: 4.2e9,
      disks: [{ mount: "/", usedBytes: 2.1e9, sizeBytes: 5.3e9 }],
      netErrors: 0,
    },
  };
}

function startAll({ url, desired }) {
  for (const [node, cert] of material.certs) {
    const a = { node, generation: 0, desired: { ...desired, node }, open: false, transport: null };
    a.transport = new AgentTransport({
      url,
      node,
      role: "jvb",
      agentVersion: "bench",
      generation: () => a.generation,
      logger,
      tls: { ca: material.ca, cert, key: material.key, caHash: material.caHash },
    });
    a.transport.on("state", (s) => {
      a.open = s === "open";
    });
    a.transport.on("open", () =>
      a.transport.send({ type: "snapshot", status: statusFor(a.desired, a.generation) }),
    );
    a.transport.on("frame", (f) => {
      if (f.type === "desired") {
        a.generation = f.generation;
        a.desired = f.desired;
        a.transport.send({
          type: "apply-result",
          replyTo: f.id,
          generation: f.generation,
          ok: true,
          unchanged: false,
          items: f.desired.files.map((file) => ({ kind: "file", target: file.path, status: "written" })),
        });
        a.transport.send({ type: "snapshot", status: statusFor(a.desired, a.generation) });
      } else if (f.type === "snapshot-request") {
        a.transport.send({ type: "snapshot", replyTo: f.id, status: statusFor(a.desired, a.generation) });
      }
    });
    agents.set(node, a);
    a.transport.start();
  }
  return { started: agents.size };
}

process.on("message", async (msg) => {
  try {
    let out;
    if (msg.cmd === "enroll") out = await enrollAll(msg);
    else if (msg.cmd === "start") out = startAll(msg);
    else if (msg.cmd === "count") {
      let open = 0;
      let reconnects = 0;
      for (const a of agents.values()) {
        if (a.open) open++;
        reconnects += a.transport.reconnects;
      }
      out = { open, reconnects };
    } else if (msg.cmd === "stop") {
      await Promise.all([...agents.values()].map((a) => a.transport.stop()));
      out = { stopped: agents.size };
    }
    process.send?.({ reply: msg.seq, ...out });
  } catch (err) {
    process.send?.({ reply: msg.seq, error: err.message });
  }
});
process.once("disconnect", () => process.exit(0));
process.send?.({ type: "ready" });
