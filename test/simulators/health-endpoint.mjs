import { publish, unpublish } from "./simulated-network.mjs";

/** A minimal HTTP health endpoint (/about/health) on 127.0.0.1, published in NETDIR for each address. */
export async function healthServer({ port, healthy, onRequest, publishAs, netDir, addresses }) {
  const http = await import("node:http");
  const server = http.createServer((req, res) => {
    const url = (req.url ?? "/").split("?")[0];
    if (url !== "/about/health") {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found\n");
      return;
    }
    const r = healthy();
    onRequest?.(r);
    res.writeHead(r.ok ? 200 : 500, { "content-type": r.ok ? "application/json" : "text/plain" });
    res.end(r.ok ? "{}" : `${r.reason}\n`);
  });
  await new Promise((res, rej) => {
    server.once("error", rej);
    server.listen(port, "127.0.0.1", res);
  });
  const local = server.address().port;
  for (const a of addresses) publish(netDir, a, publishAs, local);
  return {
    server,
    port: local,
    close() {
      for (const a of addresses) unpublish(netDir, a, publishAs, local);
      server.close();
    },
  };
}
