import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { entryBytes } from "@vmmeet/node";
import { renderDeployment } from "../../render/index.js";
import { checkInvariants, formatViolations } from "../../render/invariants.js";
import { renderTopologySvg } from "../../render/topology.js";
import { loadOrCreateMaterial } from "../../secrets/index.js";
import { formatProblem, loadSpecFile } from "../../spec/load.js";
import { parse, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";
import { specPaths } from "../paths.js";

export const render: Command = {
  name: "render",
  usage: `vmmeet render [SPEC] --out DIR [--state DIR]

Validates SPEC (default ./vmmeet.yaml), loads or generates the secrets and CA in the state directory (default
.vmmeet/ beside the spec, /var/db/vmmeet on the host) and writes, for every node including the VMM host:
  DIR/NODE/<absolute path>   each file with its mode (e.g. DIR/xmpp/etc/prosody/prosody.cfg.lua)
  DIR/NODE/node.json         the node's services (name, flags, order), setup actions and files' owners
  DIR/topology.svg           the VMs, the flows pf lets through and the brewery ('vmmeet topology')
Secret values in node.json are replaced by "<redacted>"; the rendered files themselves hold the secrets and are
written with their rendered modes (0600/0640), DIR itself 0700. DIR is replaced if it holds an earlier render.
The rendered files are then checked against the cross-file invariants (the same values in several files); each
violation is printed on stderr as 'invariant: NAME: DETAIL' (the files stay written, for inspection).

Exit status: 0 written, 1 invalid spec or error, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, {
      out: { type: "string", short: "o" },
      state: { type: "string" },
    });
    const outArg = str(values.out);
    if (!outArg) throw new UsageError("--out DIR is required");
    const paths = specPaths(io, positionals[0], str(values.state));
    const res = await loadSpecFile(paths.spec);
    if (!res.ok) {
      for (const p of res.problems) io.err(`${formatProblem(p)}\n`);
      return EXIT.error;
    }
    const material = await loadOrCreateMaterial(paths.state, res.spec);
    const nodes = renderDeployment({ spec: res.spec, secrets: material.secrets, pki: material.pki });
    const out = path.resolve(io.cwd, outArg);
    await rm(out, { recursive: true, force: true });
    await mkdir(out, { recursive: true, mode: 0o700 });
    let count = 0;
    for (const [name, desired] of Object.entries(nodes)) {
      for (const f of desired.files) {
        const target = path.join(out, name, f.path);
        await mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
        await writeFile(target, entryBytes(f), {
          mode: Number.parseInt(f.mode, 8),
        });
        count += 1;
      }
      const summary = {
        node: desired.node,
        role: desired.role,
        services: desired.services,
        actions: desired.actions.map((a) =>
          a.kind === "prosody-user" ? { ...a, password: "<redacted>" } : a,
        ),
        files: desired.files.map(({ content: _c, ...meta }) => meta),
        health: desired.health,
      };
      await writeFile(path.join(out, name, "node.json"), `${JSON.stringify(summary, null, 2)}\n`, {
        mode: 0o644,
      });
    }
    const svg = renderTopologySvg(res.spec, { coordinatorPort: res.spec.host.coordinatorPort });
    await writeFile(path.join(out, "topology.svg"), svg, { mode: 0o644 });
    io.out(`rendered ${count} files for ${Object.keys(nodes).length} nodes and topology.svg into ${out}\n`);
    for (const line of formatViolations(checkInvariants(res.spec, nodes))) io.err(`${line}\n`);
    return EXIT.ok;
  },
};
