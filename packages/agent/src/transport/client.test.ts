import type { AddressInfo } from "node:net";
import { CloseCode, type CoordinatorToAgent, PROTOCOL_VERSION } from "@vmmeet/shared";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { type FakeCoordinator, fakeCoordinator } from "../../../../test/helpers/fake-coordinator.js";
import { jicofoConf, jicofoDesired } from "../../../../test/helpers/jicofo-desired.js";
import { waitFor } from "../../../../test/helpers/wait.js";
import { AgentTransport } from "./client.js";
import { agentEndpoint, explainHttpStatus } from "./endpoint.js";

const logger = pino({ level: "silent" });

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** A real ws server on port 0 that welcomes each hello unless told to misbehave; keeps invalid frames. */
async function server(
  behaviour: { welcome?: boolean; heartbeatMs?: number; port?: number } = {},
): Promise<FakeCoordinator> {
  const h = await fakeCoordinator({ ...behaviour, path: "", keepInvalid: true });
  open.push(h);
  return h;
}

function transport(url: string, extra: Partial<ConstructorParameters<typeof AgentTransport>[0]> = {}) {
  const frames: CoordinatorToAgent[] = [];
  let opens = 0;
  const t = new AgentTransport({
    url,
    node: "jicofo",
    role: "jicofo",
    agentVersion: "test",
    generation: () => 7,
    logger,
    backoff: { initialMs: 20, maxMs: 100, factor: 2, jitter: 0.5 },
    ...extra,
  });
  t.on("frame", (f) => frames.push(f));
  t.on("open", () => {
    opens += 1;
  });
  open.push({ close: () => t.stop() });
  return { t, frames, opens: () => opens };
}

describe("AgentTransport against a real ws server", () => {
  it("says hello first, opens on the welcome, and answers pings", async () => {
    const h = await server();
    // The VM's clock, 10 minutes ahead: its readings go out in the hello and in every pong.
    let vmNow = 1_800_000_000_000;
    const { t, frames, opens } = transport(h.url, { now: () => vmNow });
    t.start();
    await waitFor(() => t.state === "open", { what: "open" });
    expect(opens()).toBe(1);
    expect(h.frames[0]).toEqual({
      type: "hello",
      protocol: PROTOCOL_VERSION,
      node: "jicofo",
      role: "jicofo",
      agentVersion: "test",
      generation: 7,
      agentTime: 1_800_000_000_000,
    });
    vmNow += 5000;
    h.sockets[0]!.send(JSON.stringify({ type: "ping", id: "p1", sentAt: 1 }));
    const pong = await waitFor(() => h.frames.find((f) => (f as { type?: string }).type === "pong"), {
      what: "pong",
    });
    expect(pong).toEqual({ type: "pong", replyTo: "p1", sentAt: 1, agentTime: 1_800_000_005_000 });
    h.sockets[0]!.send(JSON.stringify({ type: "snapshot-request", id: "s1" }));
    await waitFor(() => frames.length === 1, { what: "frame delivered" });
    expect(frames[0]).toEqual({ type: "snapshot-request", id: "s1" });
  });

  it("reconnects after the server drops it and opens again (so the daemon sends a fresh snapshot)", async () => {
    const h = await server();
    const { t, opens } = transport(h.url);
    t.start();
    await waitFor(() => opens() === 1, { what: "first open" });
    h.sockets[0]!.terminate();
    await waitFor(() => opens() === 2, { what: "second open" });
    expect(h.frames.filter((f) => (f as { type?: string }).type === "hello")).toHaveLength(2);
    expect(t.reconnects).toBeGreaterThanOrEqual(1);
  });

  it("hands a desired state on once: its resend on the next link is answered with the apply's result", async () => {
    const h = await server();
    const { t, frames, opens } = transport(h.url);
    t.start();
    await waitFor(() => opens() === 1, { what: "first open" });
    const desired = {
      type: "desired",
      id: "cab12.7",
      generation: 8,
      desired: jicofoDesired([jicofoConf("jicofo {}\n")]),
    };
    h.sockets[0]!.send(JSON.stringify(desired));
    await waitFor(() => frames.length === 1, { what: "the desired state handed on" });
    // The link drops during the apply; its answer cannot go.
    h.sockets[0]!.terminate();
    await waitFor(() => t.state !== "open", { what: "link down" });
    const result = {
      type: "apply-result" as const,
      replyTo: "cab12.7",
      generation: 8,
      ok: true,
      unchanged: false,
      items: [{ kind: "service" as const, target: "jicofo", status: "restarted" as const }],
    };
    expect(t.send(result)).toBe(false);
    await waitFor(() => opens() === 2, { what: "second open" });
    h.sockets[1]!.send(JSON.stringify(desired));
    await waitFor(() => h.frames.some((f) => f.type === "apply-result"), { what: "the answer" });
    expect(h.frames.filter((f) => f.type === "apply-result")).toEqual([result]);
    expect(frames).toHaveLength(1);
    expect(t.repeatsAnswered).toBe(1);
  });

  it("declares a silent link dead after three heartbeats and reconnects", async () => {
    const h = await server({ heartbeatMs: 100 });
    const { t, opens } = transport(h.url);
    t.start();
    await waitFor(() => opens() === 1, { what: "open" });
    // The server never pings and never closes: a half-open link.
    await waitFor(() => opens() === 2, { what: "reconnected", timeoutMs: 5000 });
    expect(h.sockets.length).toBeGreaterThanOrEqual(2);
  });

  it("keeps retrying while the coordinator is away, then connects", async () => {
    const h = await server();
    const port = (h.wss.address() as AddressInfo).port;
    await new Promise((r) => h.wss.close(r));
    const { t, opens } = transport(`ws://127.0.0.1:${port}`);
    t.start();
    await waitFor(() => t.reconnects >= 3, { what: "a few failed attempts" });
    expect(t.state).toBe("connecting");
    await server({ port });
    await waitFor(() => opens() === 1, { what: "open after the coordinator came back" });
  });

  it("answers a garbage frame with an error frame and stays connected", async () => {
    const h = await server();
    const { t, frames } = transport(h.url);
    t.start();
    await waitFor(() => t.state === "open", { what: "open" });
    h.sockets[0]!.send("{this is not json");
    h.sockets[0]!.send(JSON.stringify({ type: "desired", id: "d1", generation: 1, desired: { node: "x" } }));
    await waitFor(() => h.frames.filter((f) => (f as { type?: string }).type === "error").length === 2, {
      what: "two errors",
    });
    const errs = h.frames.filter((f) => (f as { type?: string }).type === "error") as {
      code: string;
      replyTo?: string;
    }[];
    expect(errs[0]?.code).toBe("bad-frame");
    expect(errs[1]?.replyTo).toBe("d1");
    expect(frames).toHaveLength(0);
    expect(t.state).toBe("open");
  });

  it("stops retrying when the coordinator says the agent is revoked", async () => {
    const h = await server();
    const { t } = transport(h.url);
    t.start();
    await waitFor(() => t.state === "open", { what: "open" });
    h.sockets[0]!.close(CloseCode.revoked, "revoked");
    await waitFor(() => t.gaveUp, { what: "gave up" });
    expect(t.gaveUp).toMatch(/revoked/);
    expect(t.state).toBe("idle");
    expect(h.sockets).toHaveLength(1);
  });

  it("stop() is idempotent", async () => {
    const h = await server();
    const { t } = transport(h.url);
    t.start();
    await waitFor(() => t.state === "open", { what: "open" });
    await Promise.all([t.stop(), t.stop()]);
    await t.stop();
    expect(t.state).toBe("idle");
  });
});

describe("the coordinator URL", () => {
  it("means /agent when it has no path, and is kept as given otherwise", () => {
    expect(agentEndpoint("wss://100.64.2.2:7443")).toBe("wss://100.64.2.2:7443/agent");
    expect(agentEndpoint("wss://100.64.2.2:7443/")).toBe("wss://100.64.2.2:7443/agent");
    expect(agentEndpoint("wss://100.64.2.2:7443/agent")).toBe("wss://100.64.2.2:7443/agent");
    expect(agentEndpoint("ws://[::1]:7443/other")).toBe("ws://[::1]:7443/other");
  });

  it("explains an HTTP answer instead of a websocket upgrade in one log line per attempt", async () => {
    // the coordinator's agent server is ws's WebSocketServer with path /agent, which answers any other
    // path with 400
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1", path: "/agent" });
    await new Promise((r) => wss.once("listening", r));
    open.push({ close: () => new Promise((r) => wss.close(r)) });
    const port = (wss.address() as AddressInfo).port;
    const lines: { msg: string; url?: string }[] = [];
    const sink = pino({ level: "warn" }, { write: (l: string) => lines.push(JSON.parse(l)) });
    const { t } = transport(`ws://127.0.0.1:${port}/wrong`, { logger: sink });
    t.start();
    await waitFor(() => lines.filter((l) => /HTTP 400/.test(l.msg)).length >= 2, {
      what: "two refused attempts logged",
    });
    const explained = lines.filter((l) => /HTTP 400/.test(l.msg));
    expect(explained[0]?.msg).toBe(
      "coordinator answered HTTP 400 instead of a websocket upgrade: no websocket endpoint at this path: the coordinator serves agents at /agent (give wss://HOST:PORT or wss://HOST:PORT/agent)",
    );
    expect(lines.some((l) => /Unexpected server response/.test(JSON.stringify(l)))).toBe(false);
    expect(explainHttpStatus("Unexpected server response: 403")).toMatch(/HTTP 403 .*enroll again/);
    expect(explainHttpStatus("Unexpected server response: 502")).toMatch(/HTTP 502 .*server failed/);
    expect(explainHttpStatus("connect ECONNREFUSED 127.0.0.1:1")).toBeUndefined();
  });
});
