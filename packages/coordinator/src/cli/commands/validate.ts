import { componentReleases, type Spec } from "@vmmeet/shared";
import { renderDeployment } from "../../render/index.js";
import { checkInvariants, formatViolations } from "../../render/invariants.js";
import type { Pki, Secrets } from "../../render/types.js";
import { formatProblem, formatWarning, loadSpecFile } from "../../spec/load.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT } from "../io.js";
import { specPaths } from "../paths.js";

export const validate: Command = {
  name: "validate",
  usage: `vmmeet validate [SPEC] [--state DIR] [--json]

Reads SPEC (default ./vmmeet.yaml), checks it against the spec schema and its cross-field rules and prints
every problem at once, one 'path: message (file:line)' line each. Warnings ('path: warning: message') do
not fail the check: a pairing of versions the release table does not know to work, for instance.
A valid spec is then rendered (with stand-in secrets: validate neither reads nor creates the state directory)
and the rendered files are checked against the cross-file invariants; each violation is printed as
'invariant: NAME: DETAIL'.

Exit status: 0 valid, 1 invalid or an invariant violated, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { state: STRING, json: BOOLEAN });
    const { spec: file } = specPaths(io, positionals[0], str(values.state));
    const res = await loadSpecFile(file);
    const violations = res.ok ? renderViolations(res.spec) : [];
    if (values.json) {
      io.out(
        `${JSON.stringify(res.ok ? { ok: violations.length === 0, warnings: res.warnings, invariants: violations } : { ok: false, problems: res.problems }, null, 2)}\n`,
      );
      return res.ok && violations.length === 0 ? EXIT.ok : EXIT.error;
    }
    if (!res.ok) {
      for (const p of res.problems) io.err(`${formatProblem(p)}\n`);
      io.err(`${file}: ${res.problems.length} problem${res.problems.length === 1 ? "" : "s"}\n`);
      return EXIT.error;
    }
    for (const w of res.warnings) io.err(`${formatWarning(w)}\n`);
    if (violations.length > 0) {
      for (const v of violations) io.err(`${v}\n`);
      io.err(`${file}: the rendered files break ${violations.length} cross-file invariant(s)\n`);
      return EXIT.error;
    }
    io.out(`${file}: valid (${res.spec.nodes.length} VMs, ${releaseText(res.spec)})\n`);
    return EXIT.ok;
  },
};

// Stand-ins for the generated material: the invariants compare values between rendered files, which the
// renderers take from one Secrets/Pki object, so distinct placeholders check the wiring without touching the
// state directory (and without generating a CA). `vmmeet render` checks the real material.
const STAND_IN_SECRETS: Secrets = {
  focusPassword: "standinFocusPassword0",
  jvbPassword: "standinJvbPassword000",
  truststorePassword: "standinTruststore0000",
  turnSecret: "standinTurnSecret0000",
};
const STAND_IN_PKI: Pki = {
  caCertPem: "-----BEGIN CERTIFICATE-----\nstand-in CA\n-----END CERTIFICATE-----\n",
  authCertPem: "-----BEGIN CERTIFICATE-----\nstand-in auth\n-----END CERTIFICATE-----\n",
  authKeyPem: "-----BEGIN PRIVATE KEY-----\nstand-in key\n-----END PRIVATE KEY-----\n",
  truststoreP12Base64: Buffer.from("stand-in truststore").toString("base64"),
};

/** The spec's rendered files checked against the cross-file invariants, as lines to print. */
function renderViolations(spec: Spec): string[] {
  try {
    const nodes = renderDeployment({ spec, secrets: STAND_IN_SECRETS, pki: STAND_IN_PKI });
    return formatViolations(checkInvariants(spec, nodes));
  } catch (e) {
    // Render-time problems the schema cannot catch name their spec path (renderer contract).
    return [`render: ${(e as Error).message}`];
  }
}

/** `release 9646`, or each component's release when they differ. */
function releaseText(spec: Spec): string {
  const r = componentReleases(spec.jitsi.release);
  const values = new Set(Object.values(r));
  if (values.size === 1) return `release ${r.jicofo}`;
  return `releases ${Object.entries(r)
    .map(([c, v]) => `${c} ${v}`)
    .join(", ")}`;
}
