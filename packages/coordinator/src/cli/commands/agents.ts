import { parseTtl } from "../../enroll/store.js";
import { adminSocketPath, call } from "../admin.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";

export const agents: Command = {
  name: "agents",
  usage: `vmmeet agents [list] [SPEC] [--state DIR] [--json]
vmmeet agents token NODE [SPEC] [--ttl 1h] [--state DIR] [--json]
vmmeet agents revoke NODE [SPEC] [--state DIR] [--json]

list    every node of the deployment and its agent: connected or when last seen, the agent's version, the
        generation it applied, and its enrollment (enrolled with its certificate's end, a pending join
        token, revoked, or none).
token   accepts NODE in advance: prints a one-time join token bound to NODE, valid for --ttl (s, m, h or d;
        default 1h, at most 7d), and the CA hash the agent pins. On the VM, start the agent once with
        --join TOKEN --ca-hash HASH; it gets a client certificate for NODE and keeps it in its state
        directory. The token is shown only here: the coordinator keeps its hash.
revoke  revokes NODE's certificate and its pending tokens and disconnects it; the agent must join again
        with a new token.

Exit status: 0, 1 when no coordinator answers or it refuses, 64 bad command line.`,
  async run(argv, io) {
    const sub = argv[0];
    if (sub === "token" || sub === "revoke") {
      const { values, positionals } = parse(
        argv.slice(1),
        { state: STRING, json: BOOLEAN, ...(sub === "token" ? { ttl: STRING } : {}) },
        2,
      );
      const node = positionals[0];
      if (node === undefined || !/^[a-z][a-z0-9]{0,30}$/.test(node))
        throw new UsageError(`${sub} needs a NODE name (lower-case letters and digits)`);
      const socket = adminSocketPath(io, positionals[1], str(values.state));
      if (sub === "token") {
        const ttlText = str(values.ttl) ?? "1h";
        const ttlMs = parseTtl(ttlText);
        if (ttlMs === null || ttlMs < 1000) throw new UsageError("--ttl: a duration like 90s, 30m, 1h or 2d");
        const t = await call(io, socket, "agent-token", { node, ttlSeconds: Math.round(ttlMs / 1000) });
        if (values.json) {
          io.out(`${JSON.stringify(t, null, 2)}\n`);
          return EXIT.ok;
        }
        io.out(
          `join token for ${t.node} (id ${t.tokenId}; one use; expires ${t.expiresAt}):\n` +
            `  ${t.token}\n` +
            `CA hash:\n  ${t.caHash}\n\n` +
            `On the ${t.node} VM, start the agent once with:\n` +
            `  vmmeet-agent --node ${t.node} --coordinator wss://COORDINATOR:PORT/agent --join ${t.token} --ca-hash ${t.caHash}${t.role ? ` --role ${t.role}` : ""} --enroll-only\n`,
        );
        return EXIT.ok;
      }
      const r = await call(io, socket, "agent-revoke", { node });
      if (values.json) {
        io.out(`${JSON.stringify(r, null, 2)}\n`);
        return EXIT.ok;
      }
      io.out(
        `${r.revoked ? `revoked the certificate of ${r.node} (${r.fingerprint})` : `${r.node} had no certificate`}` +
          `${r.tokens ? `; withdrew ${r.tokens} pending join token(s)` : ""}` +
          `${r.wasConnected ? "; disconnected it" : ""}\n`,
      );
      return EXIT.ok;
    }
    const args = sub === "list" ? argv.slice(1) : argv;
    const { values, positionals } = parse(args, { state: STRING, json: BOOLEAN });
    const rows = await call(io, adminSocketPath(io, positionals[0], str(values.state)), "agents", {});
    if (values.json) {
      io.out(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT.ok;
    }
    io.out(
      `${"NODE".padEnd(10)} ${"ROLE".padEnd(7)} ${"LINK".padEnd(36)} ${"AGENT".padEnd(8)} ${"GEN".padEnd(5)} ENROLLMENT\n`,
    );
    for (const r of rows) {
      const enrollment =
        r.enrollment === "enrolled" && r.certificateUntil
          ? `enrolled (certificate until ${r.certificateUntil.slice(0, 10)})`
          : (r.enrollment ?? "-");
      io.out(
        `${r.node.padEnd(10)} ${r.role.padEnd(7)} ${(r.connected ? "connected" : `last seen ${r.lastSeen ?? "never"}`).padEnd(36)} ${(r.agentVersion ?? "-").padEnd(8)} ${String(r.applied).padEnd(5)} ${enrollment}\n`,
      );
    }
    return EXIT.ok;
  },
};
