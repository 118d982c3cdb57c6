import { access, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { DomainName, Ipv4, KNOWN_RELEASES, RELEASES } from "@vmmeet/shared";
import { loadOrCreateMaterial } from "../../secrets/index.js";
import { specJsonSchema } from "../../spec/json-schema.js";
import { parseSpecText } from "../../spec/load.js";
import { specTemplate } from "../../spec/template.js";
import { parse, str } from "../args.js";
import { type Command, EXIT, UsageError } from "../io.js";
import { hostLayoutInstalled, hostPaths } from "../paths.js";

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

export const init: Command = {
  name: "init",
  usage: `vmmeet init [--dir DIR] [--domain NAME] [--public-address IP] [--release N] [--force]

Writes DIR/vmmeet.yaml (default DIR: the current directory), a commented spec of the paper's topology: web
100.64.1.3, xmpp 100.64.2.3, jicofo 100.64.3.3, jvb 100.64.4.3 and the VMM host as node "vmm"; and creates
DIR/.vmmeet/ (mode 0700) holding the generated XMPP passwords, truststore password, TURN secret and the
deployment CA. Secrets are never printed. An existing vmmeet.yaml is kept unless --force is given; existing
secrets and CA are always kept.
On the VMM host (the release installed: /etc/vmmeet exists) without --dir and without ./vmmeet.yaml, the
spec goes to /etc/vmmeet/vmmeet.yaml and the state to /var/db/vmmeet, where every other command and the
rc.d script vmmeetd look by default.

  --domain NAME          the public site and XMPP domain (default jts.fips.de, the paper's)
  --public-address IP    the VMM host's public address (default 87.253.170.146, the paper's)
  --release N            the Jitsi release on the VMs, one of ${KNOWN_RELEASES.join(", ")} (default
                         ${RELEASES.current}, the OpenBSD jicofo and jitsi-videobridge packages)

Exit status: 0 written, 1 error, 64 bad command line.`,
  async run(argv, io) {
    const { values } = parse(
      argv,
      {
        dir: { type: "string" },
        domain: { type: "string" },
        "public-address": { type: "string" },
        release: { type: "string" },
        force: { type: "boolean" },
      },
      0,
    );
    const dirArg = str(values.dir);
    const onHost =
      dirArg === undefined && !(await exists(path.join(io.cwd, "vmmeet.yaml"))) && hostLayoutInstalled(io);
    const dir = onHost ? path.dirname(hostPaths(io).spec) : path.resolve(io.cwd, dirArg ?? ".");
    const domain = DomainName.safeParse(str(values.domain) ?? "jts.fips.de");
    if (!domain.success) throw new UsageError(`--domain: ${domain.error.issues[0]?.message}`);
    const addr = Ipv4.safeParse(str(values["public-address"]) ?? "87.253.170.146");
    if (!addr.success) throw new UsageError(`--public-address: ${addr.error.issues[0]?.message}`);
    const releaseText = str(values.release) ?? String(RELEASES.current);
    if (!/^\d+$/.test(releaseText)) throw new UsageError("--release: must be a release number like 9646");
    const text = specTemplate({
      domain: domain.data,
      publicAddress: addr.data,
      release: Number(releaseText),
    });
    const file = path.join(dir, "vmmeet.yaml");
    // The template goes through the same validation as any spec: init never writes a spec validate rejects.
    const checked = parseSpecText(text, file);
    if (!checked.ok) {
      for (const p of checked.problems) io.err(`${p.path}: ${p.message}\n`);
      return EXIT.error;
    }
    if ((await exists(file)) && !values.force) {
      io.err(`${file} exists; keeping it (use --force to overwrite)\n`);
    } else {
      await mkdir(dir, { recursive: true });
      await writeFile(file, text, { mode: 0o644 });
      // The spec's first line points editors (YAML language server) at this schema.
      await writeFile(
        path.join(dir, "vmmeet.schema.json"),
        `${JSON.stringify(specJsonSchema(), null, 2)}\n`,
        { mode: 0o644 },
      );
      io.out(`wrote ${file} and vmmeet.schema.json\n`);
    }
    const stateDir = onHost ? hostPaths(io).state : path.join(dir, ".vmmeet");
    const material = await loadOrCreateMaterial(stateDir, checked.spec);
    io.out(
      material.created.length > 0
        ? `generated ${material.created.join(", ")} in ${stateDir} (mode 0700; secrets are not printed)\n`
        : `kept the existing secrets and CA in ${stateDir}\n`,
    );
    io.out(`deployment CA ${material.caFingerprint}\n`);
    io.out(
      `next: edit ${path.relative(io.cwd, file) || file}, then 'vmmeet validate' and 'vmmeet render --out DIR'\n`,
    );
    return EXIT.ok;
  },
};
