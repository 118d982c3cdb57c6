// The tests' lossy proxy (test/helpers/lossy-proxy.ts) itself: a link without faults must pass everything,
// the end of a connection included, or a test would blame vmmeet for the proxy's losses.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { prng } from "./helpers/fuzz.js";
import { type LossyProxy, lossyProxy } from "./helpers/lossy-proxy.js";

const open: { close(): unknown }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

/** An HTTP server that answers each request with `body` and closes the connection (Connection: close). */
async function closingServer(body: string): Promise<number> {
  const server = http.createServer((_req, res) => {
    res.setHeader("connection", "close");
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  open.push({ close: () => new Promise((r) => server.close(r)) });
  return (server.address() as AddressInfo).port;
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: "/", agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

async function proxyTo(port: number, latencyMs: number): Promise<LossyProxy> {
  const p = await lossyProxy(port, prng(1), { latencyMs, stallChance: 0, stallMaxMs: 0, cutChance: 0 });
  open.push(p);
  return p;
}

describe("the lossy proxy without faults", () => {
  it("passes an answer the server sends just before it closes the connection (no latency)", async () => {
    const p = await proxyTo(await closingServer("the answer\n"), 0);
    for (let i = 0; i < 20; i++) expect(await get(p.port)).toBe("the answer\n");
  });

  it("passes it behind its latency too: the end follows the bytes sent before it", async () => {
    const p = await proxyTo(await closingServer("x".repeat(200_000)), 50);
    expect(await get(p.port)).toHaveLength(200_000);
  });

  it("still cuts at once when told to", async () => {
    const p = await proxyTo(await closingServer("the answer\n"), 0);
    p.cutOnNext("to-coordinator");
    await expect(get(p.port)).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect(p.cuts).toBe(1);
  });
});
