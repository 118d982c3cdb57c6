import { writeFile } from "node:fs/promises";
import path from "node:path";
import { renderTopologySvg } from "../../render/topology.js";
import { formatProblem, loadSpecFile } from "../../spec/load.js";
import { parse, str } from "../args.js";
import { type Command, EXIT } from "../io.js";
import { specPaths } from "../paths.js";

export const topology: Command = {
  name: "topology",
  usage: `vmmeet topology [SPEC] [--out FILE]

Validates SPEC (default ./vmmeet.yaml) and prints topology.svg on stdout, or writes it to FILE: the VMM host
with its egress and public address, each VM with its name, role, address and memory, every TCP and UDP flow
that pf lets through as an arrow labelled with its protocol and ports (hover an arrow for the pf.conf rules
behind it), and the brewery of jicofo and its bridges. Needs no secrets and no coordinator. 'vmmeet render'
writes the same picture as DIR/topology.svg.

Exit status: 0 written, 1 invalid spec or error, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { out: { type: "string", short: "o" } });
    const paths = specPaths(io, positionals[0], undefined);
    const res = await loadSpecFile(paths.spec);
    if (!res.ok) {
      for (const p of res.problems) io.err(`${formatProblem(p)}\n`);
      return EXIT.error;
    }
    const svg = renderTopologySvg(res.spec, { coordinatorPort: res.spec.host.coordinatorPort });
    const out = str(values.out);
    if (out === undefined) io.out(svg);
    else {
      const file = path.resolve(io.cwd, out);
      await writeFile(file, svg, { mode: 0o644 });
      io.err(`wrote ${file}\n`);
    }
    return EXIT.ok;
  },
};
