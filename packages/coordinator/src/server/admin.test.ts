// The admin channel on a real unix socket: params are checked against each method's schema before its
// handler runs, and the CLI's side checks every event and result against the method's schema.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AuditEntry } from "../admin/methods.js";
import { AdminError, type AdminHandlers, AdminServer, adminCall } from "./admin.js";

const logger = pino({ level: "silent" });
const unused = async (): Promise<never> => {
  throw new Error("not used by this test");
};

let dir: string;
let socket: string;
let server: AdminServer | null = null;
/** What the handlers were called with, after validation. */
let seen: unknown[] = [];

function handlers(over: Partial<AdminHandlers> = {}): AdminHandlers {
  return {
    plan: unused,
    push: async ({ params }) => {
      seen.push(params);
      return { accepted: true, generation: 7 };
    },
    rotate: unused,
    status: unused,
    agents: unused,
    "agent-token": async ({ params }) => {
      seen.push(params);
      return {
        node: params.node,
        token: "t",
        tokenId: "i",
        expiresAt: "2026-01-01T00:00:00Z",
        caHash: "h",
        role: null,
      };
    },
    "agent-revoke": unused,
    events: async ({ params }, emit) => {
      seen.push(params);
      emit({ at: "2026-01-01T00:00:00Z", kind: "push-done", by: "root", generation: 2, message: "done" });
      return { count: 1 };
    },
    ...over,
  };
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-admin-"));
  socket = path.join(dir, "admin.sock");
  seen = [];
});

afterEach(async () => {
  await server?.stop();
  server = null;
  await rm(dir, { recursive: true, force: true });
});

async function serve(h: AdminHandlers = handlers()): Promise<void> {
  server = new AdminServer(socket, h, logger);
  await server.start();
}

/** Sends a raw request line, as a caller that bypasses the typed call would, and returns the reply line. */
function raw(request: unknown): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(socket, () => sock.write(`${JSON.stringify(request)}\n`));
    let buf = "";
    sock.setEncoding("utf8");
    sock.on("data", (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        sock.destroy();
        resolve(JSON.parse(buf.slice(0, nl)));
      }
    });
    sock.on("error", reject);
  });
}

describe("admin params", () => {
  beforeEach(() => serve());

  it("fills in defaults and hands the handler validated params", async () => {
    const res = await adminCall(socket, "push", { specText: "x", file: "vmmeet.yaml" }, "tester");
    expect(res).toEqual({ accepted: true, generation: 7 });
    expect(seen).toEqual([{ specText: "x", file: "vmmeet.yaml", timeoutMs: 300_000, noWait: false }]);
  });

  it("names the method and the field of a bad param, and the handler never runs", async () => {
    expect(
      await raw({
        id: 1,
        method: "push",
        params: { specText: "x", file: "f", timeoutMs: "soon" },
        user: "t",
      }),
    ).toEqual({
      id: 1,
      error: { message: "push.timeoutMs: Invalid input: expected number, received string" },
    });
    expect(await raw({ id: 2, method: "push", params: { file: "f" } })).toEqual({
      id: 2,
      error: { message: "push.specText: Invalid input: expected string, received undefined" },
    });
    expect(await raw({ id: 3, method: "events", params: { limit: 5, folow: true } })).toEqual({
      id: 3,
      error: { message: "events.folow: not a parameter" },
    });
    const bad = adminCall(socket, "agent-token", { node: "Web 1" }, "tester");
    await expect(bad).rejects.toBeInstanceOf(AdminError);
    await expect(bad).rejects.toThrow(
      /^agent-token\.node: must be a node name \(lower-case letters and digits\)$/,
    );
    await expect(adminCall(socket, "agent-token", { node: "web", ttlSeconds: 10 ** 7 }, "t")).rejects.toThrow(
      /^agent-token\.ttlSeconds: the token lifetime must be 1 s to 168 h$/,
    );
    expect(seen).toEqual([]);
  });

  it("still answers an unknown method and a line without id or method", async () => {
    expect(await raw({ id: 4, method: "launch", params: {} })).toEqual({
      id: 4,
      error: { message: 'unknown admin method "launch"' },
    });
    expect(await raw({ method: "status" })).toEqual({
      id: null,
      error: { message: "bad admin request: request needs id and method" },
    });
  });

  it("streams the method's events, typed, before its result", async () => {
    const events: AuditEntry[] = [];
    const res = await adminCall(socket, "events", { limit: 3 }, "tester", (e) => events.push(e));
    expect(res).toEqual({ count: 1 });
    expect(events).toEqual([
      { at: "2026-01-01T00:00:00Z", kind: "push-done", by: "root", generation: 2, message: "done" },
    ]);
    expect(seen).toEqual([{ limit: 3, follow: false }]);
  });
});

describe("admin replies", () => {
  /** A daemon that answers every request with `lines` (what a coordinator of another version might send). */
  async function fakeDaemon(lines: unknown[]): Promise<net.Server> {
    const srv = net.createServer((sock) => {
      sock.once("data", () => {
        for (const l of lines) sock.write(`${JSON.stringify(l)}\n`);
      });
    });
    await new Promise<void>((resolve) => srv.listen(socket, resolve));
    return srv;
  }

  it("rejects a result that is not the method's result, naming the method and the field", async () => {
    const srv = await fakeDaemon([{ id: 1, result: { accepted: true, generation: "seven" } }]);
    try {
      await expect(adminCall(socket, "agent-revoke", { node: "web" }, "t")).rejects.toThrow(
        /^the coordinator's agent-revoke result does not match this vmmeet: agent-revoke\.node: /,
      );
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it("rejects an event of the wrong shape instead of handing it on", async () => {
    const srv = await fakeDaemon([
      { id: 1, event: { kind: "push-done" } },
      { id: 1, result: { count: 1 } },
    ]);
    const events: unknown[] = [];
    try {
      await expect(adminCall(socket, "events", {}, "t", (e) => events.push(e))).rejects.toThrow(
        "the coordinator's events event does not match this vmmeet: events.at: Invalid input: expected string, received undefined",
      );
      expect(events).toEqual([]);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });

  it("carries a refusal's details, and an invalid spec's problems as a list", async () => {
    const srv = await fakeDaemon([
      { id: 1, error: { message: "the spec is invalid", problems: ["nodes.0.name: too long"] } },
    ]);
    try {
      const err = await adminCall(socket, "plan", { specText: "", file: "f" }, "t").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AdminError);
      if (err instanceof AdminError) expect(err.problems).toEqual(["nodes.0.name: too long"]);
    } finally {
      await new Promise((r) => srv.close(r));
    }
  });
});
