// vmmeet: the coordinator's command line. Each command lives in commands/ and returns its exit code;
// runCli is imported by tests, main.ts is the executable.
import { agents } from "./commands/agents.js";
import { events } from "./commands/events.js";
import { init } from "./commands/init.js";
import { plan } from "./commands/plan.js";
import { push } from "./commands/push.js";
import { render } from "./commands/render.js";
import { schema } from "./commands/schema.js";
import { secrets } from "./commands/secrets.js";
import { serve } from "./commands/serve.js";
import { status } from "./commands/status.js";
import { topology } from "./commands/topology.js";
import { validate } from "./commands/validate.js";
import { vm } from "./commands/vm.js";
import { type Command, EXIT, type Io, UsageError } from "./io.js";

export const COMMANDS: Command[] = [
  init,
  validate,
  render,
  topology,
  serve,
  plan,
  push,
  secrets,
  status,
  agents,
  events,
  vm,
  schema,
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
    io.out(target ? `${target.usage}\n` : mainHelp());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === "--version") {
    io.out(`${VERSION}\n`);
    return EXIT.ok;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`vmmeet: unknown command "${name}"\n\n${mainHelp()}`);
    return EXIT.usage;
  }
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
