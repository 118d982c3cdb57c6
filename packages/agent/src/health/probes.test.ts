import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { httpGet, probeComponent, tcpConnect } from "./probes.js";

// Real servers on loopback port 0: a health endpoint answering 200 or 500, one that never answers, and a
// port nobody listens on (a server opened and closed).
let server: http.Server;
let port: number;
let closedPort: number;
const hanging: http.ServerResponse[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url === "/about/health") {
      res.writeHead(200);
      res.end("{}");
    } else if (req.url === "/sick") {
      res.writeHead(500);
      res.end("No operational bridges available");
    } else {
      hanging.push(res);
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
  const tmp = net.createServer();
  await new Promise<void>((r) => tmp.listen(0, "127.0.0.1", r));
  closedPort = (tmp.address() as net.AddressInfo).port;
  await new Promise((r) => tmp.close(r));
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  await new Promise((r) => server.close(r));
});

describe("httpGet", () => {
  it("is ok for 2xx and keeps the status otherwise", async () => {
    expect(await httpGet(`http://127.0.0.1:${port}/about/health`)).toMatchObject({ ok: true, status: 200 });
    expect(await httpGet(`http://localhost:${port}/sick`)).toMatchObject({ ok: false, status: 500 });
  });

  it("reports a refused connection and a timeout without a status", async () => {
    expect(await httpGet(`http://127.0.0.1:${closedPort}/about/health`)).toMatchObject({
      ok: false,
      error: "ECONNREFUSED",
    });
    const r = await httpGet(`http://127.0.0.1:${port}/never`, { timeoutMs: 100 });
    expect(r).toMatchObject({ ok: false, error: "timeout after 100 ms" });
    expect(r.status).toBeUndefined();
  });

  it("probes loopback only", async () => {
    expect(await httpGet("http://192.0.2.1/about/health")).toMatchObject({
      ok: false,
      error: expect.stringContaining("loopback"),
    });
    expect(await httpGet("https://127.0.0.1/about/health")).toMatchObject({ ok: false });
  });

  it("maps the VM's port to where a simulated VM really listens", async () => {
    const mapPort = (p: number) => (p === 8888 ? port : undefined);
    expect(await httpGet("http://127.0.0.1:8888/about/health", { mapPort })).toMatchObject({
      ok: true,
      status: 200,
    });
    expect(await httpGet("http://127.0.0.1:8080/about/health", { mapPort })).toMatchObject({
      ok: false,
      error: "ECONNREFUSED",
    });
  });
});

describe("tcpConnect", () => {
  it("tells an open port from a closed one", async () => {
    expect(await tcpConnect(port)).toMatchObject({ ok: true });
    expect(await tcpConnect(closedPort)).toMatchObject({ ok: false, error: "ECONNREFUSED" });
  });
});

describe("probeComponent", () => {
  const probe = { service: "jicofo", http: "http://127.0.0.1:8888/about/health", ports: [8888, 5347] };
  const mapPort = (p: number) => (p === 8888 ? port : p === 5347 ? closedPort : undefined);

  it("checks the service, then its ports and endpoint", async () => {
    const obs = await probeComponent(probe, { check: async () => true, mapPort, now: () => 42 });
    expect(obs).toEqual([
      { kind: "check", at: 42, running: true },
      { kind: "port", at: 42, port: 8888, ok: true },
      { kind: "port", at: 42, port: 5347, ok: false, error: "ECONNREFUSED" },
      { kind: "http", at: 42, url: probe.http, ok: true, status: 200 },
    ]);
  });

  it("stamps each observation with when it was asked for, not when the answer came", async () => {
    let clock = 100;
    const obs = await probeComponent(
      { ...probe, http: undefined, ports: [] },
      {
        check: async () => {
          clock = 5000; // a slow rcctl: the service may have been restarted meanwhile
          return false;
        },
        mapPort,
        now: () => clock,
      },
    );
    expect(obs).toEqual([{ kind: "check", at: 100, running: false }]);
  });

  it("a stopped service gets no port or HTTP observations; a failing rcctl none at all", async () => {
    expect(await probeComponent(probe, { check: async () => false, mapPort, now: () => 1 })).toEqual([
      { kind: "check", at: 1, running: false },
    ]);
    const broken = async (): Promise<boolean> => {
      throw new Error("rcctl timed out");
    };
    expect(await probeComponent(probe, { check: broken, mapPort })).toEqual([]);
  });
});
