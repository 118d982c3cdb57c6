// Enrollment and agent authentication end to end, through real sockets: a live coordinator (`vmmeet
// serve`, TLS by default), live agents (`vmmeet-agent --join`), the CLI, and raw websocket clients that
// present no certificate, a foreign one, another node's or a revoked one. Every refusal must close with its
// code and leave an audit entry; the agent must trust only the pinned CA and never send its token elsewhere.
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import https from "node:https";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { loadOrCreateMaterial, parseSpecText } from "@vmmeet/coordinator";
import { CloseCode, PROTOCOL_VERSION } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { createCa, issueClientCert } from "../packages/coordinator/src/secrets/index.js";
import { fixturesDir } from "./fixtures/material.js";
import {
  collectSecrets,
  OutputRecorder,
  scanOutputs,
  startAgent,
  startCoordinator,
} from "./helpers/secret-scan.js";
import { waitFor } from "./helpers/wait.js";

const rec = new OutputRecorder();
let dir: string;
let state: string;
let url: string;
let caPem: string;
const tokens: string[] = [];
const agentStates: string[] = [];

interface TokenAnswer {
  node: string;
  token: string;
  tokenId: string;
  expiresAt: string;
  caHash: string;
}

async function token(node: string, ttl?: string): Promise<TokenAnswer> {
  const r = await rec.cli(
    ["agents", "token", node, "--state", state, "--json", ...(ttl ? ["--ttl", ttl] : [])],
    dir,
  );
  expect(r.code, r.err).toBe(0);
  const t = JSON.parse(r.out) as TokenAnswer;
  tokens.push(t.token);
  return t;
}

interface AuditLine {
  kind: string;
  node?: string;
  result?: string;
  message: string;
}
const audit = async (): Promise<AuditLine[]> =>
  (await readFile(path.join(state, "audit.log"), "utf8").catch(() => ""))
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine);
const auditHas = (pred: (a: AuditLine) => boolean, what: string) =>
  waitFor(async () => (await audit()).find(pred), { what: what });

const mode = async (p: string) => (await stat(p)).mode & 0o777;

/** A raw websocket client: TLS trusting the deployment CA, optional client certificate, one hello. */
function rawHello(
  node: string,
  cert?: { cert: string; key: string },
): Promise<{ code: number; frames: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { ca: caPem, ...(cert ? { cert: cert.cert, key: cert.key } : {}) });
    const frames: string[] = [];
    ws.on("open", () =>
      ws.send(
        JSON.stringify({
          type: "hello",
          protocol: PROTOCOL_VERSION,
          node,
          role: null,
          agentVersion: "raw",
          generation: 0,
        }),
      ),
    );
    ws.on("message", (d) => frames.push(d.toString()));
    ws.on("close", (code) => resolve({ code, frames }));
    ws.on("error", reject);
  });
}

async function sandbox(name: string) {
  const base = await mkdtemp(path.join(dir, `${name}-`));
  const root = path.join(base, "root");
  await mkdir(root, { recursive: true });
  agentStates.push(path.join(base, "state"));
  return { state: path.join(base, "state"), root };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-sec-enroll-"));
  const specText = await readFile(path.join(fixturesDir, "paper-7648.yaml"), "utf8");
  await writeFile(path.join(dir, "vmmeet.yaml"), specText);
  state = path.join(dir, ".vmmeet");
  const parsed = parseSpecText(specText, "vmmeet.yaml");
  if (!parsed.ok) throw new Error("fixture spec invalid");
  await loadOrCreateMaterial(state, parsed.spec);
  caPem = await readFile(path.join(state, "ca.crt"), "utf8");
  const coord = await startCoordinator(rec, { dir, state, args: ["--heartbeat", "1"] });
  url = coord.url;
  expect(url).toMatch(/^wss:\/\//);
});

afterAll(async () => {
  await rec.stopAll();
  // Nothing any process or command printed holds a secret; only `agents token` shows its own token.
  const secrets = await collectSecrets({ coordinatorState: state, agentStates, tokens });
  // The scan is only as good as its list: passwords, the CA's, prosody's, the server's and agents' keys, tokens.
  for (const label of [
    "secrets.json focusPassword",
    "ca.key line",
    "auth.key line",
    "coordinator.key line",
    "/enroll/agent.key line",
    "join token",
  ])
    expect(
      secrets.some((s) => s.label.includes(label)),
      label,
    ).toBe(true);
  const findings = scanOutputs(
    rec.outputs,
    secrets,
    (out, s) => out.startsWith("vmmeet agents token") && s.startsWith("join token"),
  );
  await rm(dir, { recursive: true, force: true });
  expect(findings).toEqual([]);
});

describe("enrollment", () => {
  let jicofo: { state: string; root: string };
  let agentA: ReturnType<typeof startAgent>;
  let t1: TokenAnswer;

  it("enrolls with a one-time token and then connects with mutual TLS; keys and state stay private", async () => {
    t1 = await token("jicofo");
    expect(t1.caHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    jicofo = await sandbox("jicofo");
    agentA = startAgent(rec, {
      node: "jicofo",
      url,
      ...jicofo,
      join: { token: t1.token, caHash: t1.caHash },
    });
    await waitFor(() => /connected to coordinator/.test(agentA.output()), {
      what: "agent connected",
      timeoutMs: 20_000,
    });
    await auditHas((a) => a.kind === "agent-enrolled" && a.node === "jicofo", "enrollment audited");

    // State directories 0700, private keys and the enrollment files 0600, on both sides.
    expect(await mode(jicofo.state)).toBe(0o700);
    expect(await mode(path.join(jicofo.state, "enroll"))).toBe(0o700);
    for (const f of ["agent.key", "agent.crt", "ca.crt", "enrollment.json"]) {
      const st = await stat(path.join(jicofo.state, "enroll", f));
      expect(st.mode & 0o777, f).toBe(0o600);
      expect(st.uid, f).toBe(process.getuid?.());
    }
    expect(await mode(state)).toBe(0o700);
    for (const f of ["enroll.json", "coordinator.key", "ca.key", "secrets.json"])
      expect(await mode(path.join(state, f)), f).toBe(0o600);
    // The token is stored as a hash, never in clear, on either side.
    const secretHalf = t1.token.split(".")[1]!;
    expect(await readFile(path.join(state, "enroll.json"), "utf8")).not.toContain(secretHalf);
    expect(await readFile(path.join(jicofo.state, "enroll", "enrollment.json"), "utf8")).not.toContain(
      secretHalf,
    );

    const list = await rec.cli(["agents", "list", "--state", state, "--json"], dir);
    const rows = JSON.parse(list.out) as { node: string; connected: boolean; enrollment: string }[];
    expect(rows.find((r) => r.node === "jicofo")).toMatchObject({ connected: true, enrollment: "enrolled" });
  });

  it("refuses a reused token, but a restart with the same --join flags reconnects without spending it again", async () => {
    const other = await sandbox("reuse");
    const b = startAgent(rec, {
      node: "jicofo",
      url,
      ...other,
      join: { token: t1.token, caHash: t1.caHash },
      args: ["--enroll-only"],
    });
    expect(await b.exit).toBe(1);
    expect(b.output()).toMatch(/join token [0-9a-f]{12} was already used/);
    await auditHas((a) => a.kind === "enroll-refused" && a.result === "used", "reuse audited");

    await agentA.stop();
    const before = (await audit()).filter((a) => a.kind === "enroll-refused").length;
    agentA = startAgent(rec, {
      node: "jicofo",
      url,
      ...jicofo,
      join: { token: t1.token, caHash: t1.caHash },
    });
    await waitFor(() => /connected to coordinator/.test(agentA.output()), {
      what: "agent reconnected",
      timeoutMs: 20_000,
    });
    expect(agentA.output()).toMatch(/already enrolled with this join token/);
    expect((await audit()).filter((a) => a.kind === "enroll-refused").length).toBe(before);
  });

  it("refuses a token for another node, an expired or unknown token; a wrong CA hash stops the agent before it sends the token", async () => {
    const t2 = await token("jvb");
    const web = await sandbox("web");
    const wrongNode = startAgent(rec, {
      node: "web",
      url,
      ...web,
      join: { token: t2.token, caHash: t2.caHash },
      args: ["--enroll-only"],
    });
    expect(await wrongNode.exit).toBe(1);
    expect(wrongNode.output()).toMatch(/is for node "jvb", not "web"/);
    await auditHas(
      (a) => a.kind === "enroll-refused" && a.result === "wrong-node" && a.node === "web",
      "wrong node",
    );

    const jvb = await sandbox("jvb");
    const badPin = `sha256:${"0".repeat(64)}`;
    const pinned = startAgent(rec, {
      node: "jvb",
      url,
      ...jvb,
      join: { token: t2.token, caHash: badPin },
      args: ["--enroll-only"],
    });
    expect(await pinned.exit).toBe(1);
    expect(pinned.output()).toMatch(/not the pinned sha256:0{64}: .*the token was not sent/);
    // The token is still unspent: the same agent with the right hash enrolls with it.
    const good = startAgent(rec, {
      node: "jvb",
      url,
      ...jvb,
      join: { token: t2.token, caHash: t2.caHash },
      args: ["--enroll-only"],
    });
    expect(await good.exit, good.output()).toBe(0);

    const t3 = await token("xmpp", "1s");
    await waitFor(() => Date.now() > Date.parse(t3.expiresAt) + 50, {
      what: "the token expired",
      timeoutMs: 5000,
    });
    const xmpp = await sandbox("xmpp");
    const expired = startAgent(rec, {
      node: "xmpp",
      url,
      ...xmpp,
      join: { token: t3.token, caHash: t3.caHash },
      args: ["--enroll-only"],
    });
    expect(await expired.exit).toBe(1);
    expect(expired.output()).toMatch(/join token [0-9a-f]{12} expired at/);
    await auditHas((a) => a.kind === "enroll-refused" && a.result === "expired", "expired token");

    const forged = `${"a".repeat(12)}.${"B".repeat(43)}`;
    const unknown = startAgent(rec, {
      node: "xmpp",
      url,
      ...xmpp,
      join: { token: forged, caHash: t3.caHash },
      args: ["--enroll-only"],
    });
    expect(await unknown.exit).toBe(1);
    expect(unknown.output()).toMatch(/unknown join token/);
    await auditHas((a) => a.kind === "enroll-refused" && a.result === "unknown", "unknown token");
  });

  it("refuses hellos without a certificate, with a foreign one or another node's (4003), and revoked ones (4004)", async () => {
    const none = await rawHello("jicofo");
    expect(none.code).toBe(CloseCode.unauthorized);
    expect(none.frames.join("")).toMatch(/no client certificate/);
    await auditHas((a) => a.kind === "agent-refused" && /no-certificate/.test(a.message), "no certificate");

    const foreignCa = createCa("not the deployment CA", new Date());
    const issued = issueClientCert(foreignCa, "jicofo", new Date(), 30);
    const foreign = await rawHello("jicofo", { cert: issued.certPem, key: issued.keyPem });
    expect(foreign.code).toBe(CloseCode.unauthorized);
    expect(foreign.frames.join("")).toMatch(/not accepted/);
    await auditHas(
      (a) => a.kind === "agent-refused" && /untrusted-certificate/.test(a.message),
      "foreign CA",
    );

    const mine = {
      cert: await readFile(path.join(jicofo.state, "enroll", "agent.crt"), "utf8"),
      key: await readFile(path.join(jicofo.state, "enroll", "agent.key"), "utf8"),
    };
    const impersonation = await rawHello("jvb", mine);
    expect(impersonation.code).toBe(CloseCode.unauthorized);
    expect(impersonation.frames.join("")).toMatch(
      /certificate is for node \\"jicofo\\", the hello says \\"jvb\\"/,
    );
    await auditHas(
      (a) => a.kind === "agent-refused" && a.node === "jvb" && a.result === "4003",
      "wrong node",
    );

    // Revocation closes the live link with 4004; the agent stops retrying and keeps running offline.
    const revoked = await rec.cli(["agents", "revoke", "jicofo", "--state", state], dir);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toMatch(/revoked the certificate of jicofo \(sha256:[0-9a-f]{64}\); disconnected it/);
    await waitFor(() => /"code":4004/.test(agentA.output()), {
      what: "agent told it is revoked",
      timeoutMs: 10_000,
    });
    // The agent logs the close and then that it gives up: two lines, which may reach the pipe apart.
    await waitFor(() => /not reconnecting/.test(agentA.output()), {
      what: "agent giving up",
      timeoutMs: 10_000,
    });
    const out = agentA.output();
    expect(out.indexOf("not reconnecting")).toBeGreaterThan(out.indexOf('"code":4004'));
    expect(agentA.exited()).toBe(false);
    const again = await rawHello("jicofo", mine);
    expect(again.code).toBe(CloseCode.revoked);
    await auditHas((a) => a.kind === "agent-revoked" && a.node === "jicofo", "revocation audited");
    await auditHas(
      (a) => a.kind === "agent-refused" && a.result === String(CloseCode.revoked),
      "revoked hello",
    );
    const list = await rec.cli(["agents", "list", "--state", state], dir);
    expect(list.out).toMatch(/jicofo .* revoked/);
  });

  it("the agent trusts only the pinned CA and the coordinator's name: prosody's certificate of the same CA cannot impersonate it", async () => {
    // A server on loopback presenting auth.DOMAIN's certificate (same CA, another name).
    const server = https.createServer({
      cert: await readFile(path.join(state, "auth.crt"), "utf8"),
      key: await readFile(path.join(state, "auth.key"), "utf8"),
    });
    const wss = new WebSocketServer({ server });
    let hellos = 0;
    wss.on("connection", (ws) => ws.on("message", () => hellos++));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (server.address() as AddressInfo).port;
      // jicofo's state still holds its (revoked) enrollment: enough to try a TLS connection.
      const impostorUrl = `wss://127.0.0.1:${port}/agent`;
      const a = startAgent(rec, { node: "jicofo", url: impostorUrl, ...jicofo, label: "agent vs impostor" });
      await waitFor(
        () =>
          /"err":"Hostname\/IP does not match certificate's altnames[^"]*","url":"wss:[^"]*","msg":"coordinator link error"/.test(
            a.output(),
          ),
        { what: "TLS refused by the agent", timeoutMs: 15_000 },
      );
      expect(hellos).toBe(0);
      await a.stop();
    } finally {
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("plain ws:// is for loopback only, on both sides", async () => {
    const s = await sandbox("insecure");
    const a = startAgent(rec, { node: "web", url: "ws://192.0.2.1:7443/agent", ...s });
    expect(await a.exit).toBe(64);
    expect(a.output()).toMatch(/loopback coordinator only/);
    const r = await rec.cli(["serve", "--state", state, "--listen", "0.0.0.0:0", "--insecure"], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/insecure mode .* loopback only/);
  });
});
