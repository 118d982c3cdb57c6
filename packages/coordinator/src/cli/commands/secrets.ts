import { ROTATE_NAMES } from "../../secrets/rotation.js";
import { call } from "../admin.js";
import { parse, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";
import { specPaths } from "../paths.js";

const NAMES = Object.keys(ROTATE_NAMES);

export const secrets: Command = {
  name: "secrets",
  usage: `vmmeet secrets rotate ${NAMES.join("|")}... | --all [--state DIR] [--timeout SECONDS]

Gives the named secrets new random values and pushes the spec in force with them, as one ordered change:
prosody's accounts first (the password of the existing focus and jvb users is changed), then jicofo and the
bridges with the new password or truststore, with the same health gates and recovery windows as a push.
  focus       focus@auth.DOMAIN's password (prosody, jicofo)
  jvb         jvb@auth.DOMAIN's password (prosody, every jvb)
  truststore  the password of the jicofo/jvb truststore (a new truststore file)
  turn        the TURN secret shared by prosody and coturn
No secret is printed. The previous values stay in the state directory until the push ends; if it fails, the
push rolls back and the previous values are in force again.

Exit status: 0 rotated, 1 failed (rolled back, previous values kept) or refused, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(
      argv,
      { state: { type: "string" }, timeout: { type: "string" }, all: { type: "boolean" } },
      1 + NAMES.length,
    );
    const [verb, ...names] = positionals;
    if (verb !== "rotate")
      throw new UsageError(`unknown subcommand ${JSON.stringify(verb ?? "")}: use rotate`);
    if (values.all === true && names.length > 0) throw new UsageError("give secret names or --all, not both");
    const chosen = values.all === true ? NAMES : names;
    if (chosen.length === 0)
      throw new UsageError(`name the secrets to rotate (${NAMES.join(", ")}) or --all`);
    const unknown = chosen.filter((n) => !NAMES.includes(n));
    if (unknown.length > 0)
      throw new UsageError(`unknown secret ${unknown.join(", ")}: the secrets are ${NAMES.join(", ")}`);
    const timeoutText = str(values.timeout) ?? "300";
    if (!/^\d+$/.test(timeoutText) || Number(timeoutText) < 1)
      throw new UsageError("--timeout: must be a number of seconds");
    const paths = specPaths(io, undefined, str(values.state));
    const res = await call(
      io,
      `${paths.state}/admin.sock`,
      "rotate",
      {
        secrets: [...new Set(chosen)].flatMap((n) => ROTATE_NAMES[n] ?? []),
        timeoutMs: Number(timeoutText) * 1000,
      },
      (ev) => {
        if (ev.kind === "node")
          io.out(`  ${(ev.node ?? "").padEnd(10)} ${(ev.phase ?? "").padEnd(11)} ${ev.message}\n`);
        else if (ev.kind !== "done") io.out(`${ev.message}\n`);
      },
    );
    io.out(
      res.ok
        ? `ok: ${chosen.join(", ")} rotated; ${res.message}\n`
        : `FAILED: ${res.message}; the previous ${chosen.join(", ")} values are in force again\n`,
    );
    return res.ok ? EXIT.ok : EXIT.error;
  },
};
