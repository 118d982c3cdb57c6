import type { PlanResult } from "../../admin/methods.js";
import { call, readSpecText, specRefused } from "../admin.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT } from "../io.js";
import { specPaths } from "../paths.js";

export const plan: Command = {
  name: "plan",
  usage: `vmmeet plan [SPEC] [--state DIR] [--json]

Asks the running coordinator to render SPEC (default ./vmmeet.yaml) and compare it with what every agent last
reported: a unified diff of each file that would change (secret values shown as <secret>), the services that
would restart or reload, the components on other nodes that would drop and reconnect by themselves (jicofo,
the bridges and nginx when prosody restarts; jicofo when a bridge does), and the setup actions that would run.

Exit status: 0 nothing would change, 2 something would, 1 error (invalid spec, no coordinator), 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { state: STRING, json: BOOLEAN });
    const paths = specPaths(io, positionals[0], str(values.state));
    const specText = await readSpecText(paths.spec);
    let res: PlanResult;
    try {
      res = await call(io, `${paths.state}/admin.sock`, "plan", { specText, file: paths.spec });
    } catch (err) {
      return specRefused(io, err);
    }
    if (values.json) {
      io.out(`${JSON.stringify(res, null, 2)}\n`);
      return res.changes ? EXIT.changes : EXIT.ok;
    }
    for (const p of res.plans) {
      const changed = p.files.filter((f) => f.change !== "unchanged");
      if (changed.length === 0 && p.actions.length === 0) {
        io.out(`${p.node}: no changes\n`);
        continue;
      }
      io.out(`${p.node}:${p.unknownBaseline ? " (never reported: every file is new)" : ""}\n`);
      for (const f of changed) {
        io.out(`  ${f.change.padEnd(6)} ${f.path}${f.secret ? " (holds secrets)" : ""}\n`);
        if (f.diff) io.out(`${f.diff.replace(/^/gm, "    ").replace(/\s+$/, "")}\n`);
      }
      if (p.restarts.length) io.out(`  restart: ${p.restarts.join(", ")}\n`);
      if (p.reloads.length) io.out(`  reload:  ${p.reloads.join(", ")}\n`);
      if (p.reconnects.length) io.out(`  reconnect (not restarted): ${p.reconnects.join(", ")}\n`);
      for (const a of p.actions) io.out(`  action:  ${a}\n`);
    }
    io.out(res.changes ? "plan: changes pending (exit 2)\n" : "plan: nothing to change\n");
    return res.changes ? EXIT.changes : EXIT.ok;
  },
};
