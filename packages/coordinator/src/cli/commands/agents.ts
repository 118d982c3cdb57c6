import { call } from "../admin.js";
import { parse, str } from "../args.js";
import { type Command, EXIT } from "../io.js";
import { specPaths } from "../paths.js";

interface AgentRow {
  node: string;
  role: string;
  connected: boolean;
  lastSeen: string | null;
  agentVersion: string | null;
  applied: number;
}

export const agents: Command = {
  name: "agents",
  summary: "list the agents: node, role, connected or last seen, version, generation",
  usage: `vmmeet agents [list] [SPEC] [--state DIR] [--json]

Lists every node of the deployment and its agent: connected or when last seen, the agent's version and the
generation it applied.

Exit status: 0, 1 when no coordinator answers, 64 bad command line.`,
  async run(argv, io) {
    const args = argv[0] === "list" ? argv.slice(1) : argv;
    const { values, positionals } = parse(args, { state: { type: "string" }, json: { type: "boolean" } });
    const rows = (await call(
      io,
      `${specPaths(io.cwd, positionals[0], str(values.state)).state}/admin.sock`,
      "agents",
      {},
    )) as AgentRow[];
    if (values.json) {
      io.out(`${JSON.stringify(rows, null, 2)}\n`);
      return EXIT.ok;
    }
    io.out(`${"NODE".padEnd(10)} ${"ROLE".padEnd(7)} ${"LINK".padEnd(36)} ${"AGENT".padEnd(8)} GEN\n`);
    for (const r of rows) {
      io.out(
        `${r.node.padEnd(10)} ${r.role.padEnd(7)} ${(r.connected ? "connected" : `last seen ${r.lastSeen ?? "never"}`).padEnd(36)} ${(r.agentVersion ?? "-").padEnd(8)} ${r.applied}\n`,
      );
    }
    return EXIT.ok;
  },
};
