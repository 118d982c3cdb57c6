import type { AuditEntry } from "../../admin/methods.js";
import { adminSocketPath, call } from "../admin.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";

const OPTIONS = { state: STRING, limit: STRING, follow: BOOLEAN, json: BOOLEAN };

export const events: Command = {
  name: "events",
  usage: `vmmeet events [SPEC] [--state DIR] [--limit N] [--follow] [--json]

Prints the latest entries of the coordinator's audit log (pushes, rollbacks, repairs and refusals reported by
agents), oldest first; --follow keeps printing new ones until interrupted.

Exit status: 0, 1 when no coordinator answers, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, OPTIONS);
    const limit = str(values.limit) ?? "50";
    if (!/^\d+$/.test(limit)) throw new UsageError("--limit: must be a number");
    const print = (ev: AuditEntry) => {
      io.out(
        values.json
          ? `${JSON.stringify(ev)}\n`
          : `${ev.at} ${ev.kind}${ev.node ? ` ${ev.node}` : ""}${ev.generation ? ` gen ${ev.generation}` : ""}: ${ev.message}\n`,
      );
    };
    await call(
      io,
      adminSocketPath(io, positionals[0], str(values.state)),
      "events",
      { limit: Number(limit), follow: values.follow === true },
      print,
    );
    return EXIT.ok;
  },
};
