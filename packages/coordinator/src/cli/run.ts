// vmmeet: the coordinator's command line. Each command lives in commands/ and returns its exit code;
// runCli is imported by tests, main.ts is the executable.
import { type Command, EXIT, type Io, UsageError } from "./io.js";

/**
 * The commands, each loaded when it runs: a command's module brings its own dependencies (the renderers,
 * the daemon, zod's schemas), and `vmmeet push` or `status` should not pay for the others' at every start.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: CommandEntry[] = [
  {
    name: "init",
    summary: "write a commented spec of the paper's topology and generate secrets and the CA",
    load: async () => (await import("./commands/init.js")).init,
  },
  {
    name: "validate",
    summary: "check a spec and print every problem as 'path: message'",
    load: async () => (await import("./commands/validate.js")).validate,
  },
  {
    name: "render",
    summary: "write every node's files into a directory, without any agent",
    load: async () => (await import("./commands/render.js")).render,
  },
  {
    name: "topology",
    summary: "draw the deployment (VMs, pf flows, brewery) as SVG",
    load: async () => (await import("./commands/topology.js")).topology,
  },
  {
    name: "serve",
    summary: "run the coordinator daemon (agents' endpoint, admin socket, metrics)",
    load: async () => (await import("./commands/serve.js")).serve,
  },
  {
    name: "plan",
    summary: "show per node what a push would change (diffs, restarts, actions)",
    load: async () => (await import("./commands/plan.js")).plan,
  },
  {
    name: "push",
    summary: "validate, render, store a new generation and roll it out in order",
    load: async () => (await import("./commands/push.js")).push,
  },
  {
    name: "secrets",
    summary: "rotate the generated secrets (XMPP passwords, truststore password, TURN secret)",
    load: async () => (await import("./commands/secrets.js")).secrets,
  },
  {
    name: "status",
    summary: "per node: link, generation, services, health with ages, host metrics; the deployment verdict",
    load: async () => (await import("./commands/status.js")).status,
  },
  {
    name: "agents",
    summary: "list, enroll (join token) and revoke the agents",
    load: async () => (await import("./commands/agents.js")).agents,
  },
  {
    name: "events",
    summary: "recent events from all nodes and pushes (repairs, rollbacks, refusals); --follow",
    load: async () => (await import("./commands/events.js")).events,
  },
  {
    name: "vm",
    summary: "vm create NAME: the VM's disk image on the VMM host (template: vmctl create; others: a copy)",
    load: async () => (await import("./commands/vm.js")).vm,
  },
  {
    name: "schema",
    summary: "print the JSON Schema of the spec (for editors)",
    load: async () => (await import("./commands/schema.js")).schema,
  },
];

export const VERSION = "0.1.0";

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `vmmeet ${VERSION}: a compartmentalized Jitsi Meet on OpenBSD VMM from one declarative spec

Usage: vmmeet COMMAND [ARGS]   (vmmeet COMMAND --help for each)

${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

SPEC defaults to ./vmmeet.yaml and the state directory to .vmmeet/ beside it; on the VMM host (no
./vmmeet.yaml here, /etc/vmmeet/vmmeet.yaml installed) to /etc/vmmeet/vmmeet.yaml and /var/db/vmmeet.
A SPEC argument and --state override both. Manual: vmmeet(8), vmmeet.yaml(5).

Exit status: 0 success, 1 error (invalid spec, failed operation), 2 'plan' found changes, 64 bad command line.
`;
}

export async function runCli(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    const target = name === "help" ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.out(target ? `${(await target.load()).usage}\n` : mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    io.out(`${VERSION}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    io.err(`vmmeet: unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.usage;
  }
  const command = await entry.load();
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`${command.usage}\n`);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`vmmeet ${command.name}: ${err.message}\n\n${command.usage}\n`);
      return EXIT.usage;
    }
    io.err(`vmmeet ${command.name}: ${(err as Error).message}\n`);
    return EXIT.error;
  }
}
