import type { PushEvent } from "../../admin/methods.js";
import { call, readSpecText, specRefused } from "../admin.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";
import { specPaths } from "../paths.js";

const OPTIONS = { state: STRING, timeout: STRING, "no-wait": BOOLEAN, json: BOOLEAN };

export const push: Command = {
  name: "push",
  usage: `vmmeet push [SPEC] [--state DIR] [--timeout SECONDS] [--no-wait] [--json]

Sends SPEC (default ./vmmeet.yaml) to the running coordinator, which validates and renders it, stores a new
generation and rolls it out: the VMM host, then xmpp until prosody is healthy, then jicofo and the bridges
until jicofo sees every bridge in its brewery and, beside them, web (nginx needs prosody only). A node that
fails its apply or its health gate stops the rollout and the last good generation is restored on the nodes
already changed. One line per node shows waiting, applying, restarting, gating, healthy, failed or
rolled-back. --json prints one JSON event per line.
--no-wait returns once the generation is stored. --timeout bounds the whole rollout (default 300 s: the Java
components are slow to start).

Exit status: 0 every node applied and passed its gate, 1 failed (rolled back) or refused, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, OPTIONS);
    const timeoutText = str(values.timeout) ?? "300";
    if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1)
      throw new UsageError("--timeout: must be a number of seconds");
    const paths = specPaths(io, positionals[0], str(values.state));
    const specText = await readSpecText(paths.spec);
    const json = values.json === true;
    const onEvent = (ev: PushEvent) => {
      if (json) io.out(`${JSON.stringify(ev)}\n`);
      else if (ev.kind === "node")
        io.out(`  ${(ev.node ?? "").padEnd(10)} ${(ev.phase ?? "").padEnd(11)} ${ev.message}\n`);
      else if (ev.kind !== "done") io.out(`${ev.message}\n`);
    };
    try {
      const res = await call(
        io,
        `${paths.state}/admin.sock`,
        "push",
        {
          specText,
          file: paths.spec,
          timeoutMs: Number(timeoutText) * 1000,
          noWait: values["no-wait"] === true,
        },
        onEvent,
      );
      if ("accepted" in res) {
        io.out(
          json
            ? `${JSON.stringify(res)}\n`
            : `generation ${res.generation} accepted; rolling out (vmmeet status --watch)\n`,
        );
        return EXIT.ok;
      }
      if (json) io.out(`${JSON.stringify({ kind: "result", ...res })}\n`);
      else io.out(`${res.ok ? "ok" : "FAILED"}: ${res.message}\n`);
      return res.ok ? EXIT.ok : EXIT.error;
    } catch (err) {
      return specRefused(io, err);
    }
  },
};
