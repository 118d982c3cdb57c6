import { formatProblem, loadSpecFile } from "../../spec/load.js";
import { parse, str } from "../args.js";
import { type Command, EXIT } from "../io.js";
import { specPaths } from "../paths.js";

export const validate: Command = {
  name: "validate",
  summary: "check a spec and print every problem as 'path: message'",
  usage: `vmmeet validate [SPEC] [--state DIR] [--json]

Reads SPEC (default ./vmmeet.yaml), checks it against the spec schema and its cross-field rules and prints
every problem at once, one 'path: message (file:line)' line each. Warnings do not fail the check.

Exit status: 0 valid, 1 invalid, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { state: { type: "string" }, json: { type: "boolean" } });
    const { spec: file } = specPaths(io.cwd, positionals[0], str(values.state));
    const res = await loadSpecFile(file);
    if (values.json) {
      io.out(
        `${JSON.stringify(res.ok ? { ok: true, warnings: res.warnings } : { ok: false, problems: res.problems }, null, 2)}\n`,
      );
      return res.ok ? EXIT.ok : EXIT.error;
    }
    if (!res.ok) {
      for (const p of res.problems) io.err(`${formatProblem(p)}\n`);
      io.err(`${file}: ${res.problems.length} problem${res.problems.length === 1 ? "" : "s"}\n`);
      return EXIT.error;
    }
    for (const w of res.warnings) io.err(`warning: ${formatProblem(w)}\n`);
    io.out(`${file}: valid (${res.spec.nodes.length} VMs, release ${res.spec.jitsi.release})\n`);
    return EXIT.ok;
  },
};
