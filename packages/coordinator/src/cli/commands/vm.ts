// `vmmeet vm create NAME`: the disk image of one VM, made on the VMM host the way the paper does it
// (section VI.A "VM setup"): the template VM (the spec's first node, the one vm.conf's instances derive
// from) gets an empty image, `vmctl create -s 5G web.qcow2`, on which OpenBSD is then installed by hand;
// every other VM gets a copy of the template's image (`cp web.qcow2 xmpp.qcow2`), made while the template
// VM is stopped ("halt -p (so new sshd_keys per VM)"; a copy of a running VM's disk is not consistent).
//
// Explicit and local on purpose: creating or copying a disk is never part of an apply (a push must not
// clobber a VM's disk), it runs on the host itself rather than through the coordinator, and it never
// overwrites an image that exists.
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { copyFile, lstat, mkdir } from "node:fs/promises";
import path from "node:path";
import { diskPath } from "../../render/host.js";
import { formatProblem, loadSpecFile } from "../../spec/load.js";
import { parse, str } from "../args.js";
import { type Command, EXIT, type Io, UsageError } from "../io.js";
import { specPaths } from "../paths.js";

const USAGE = `vmmeet vm create NAME [SPEC] [--vmctl PATH] [--root DIR]

Creates the disk image of the VM NAME of SPEC (default ./vmmeet.yaml) in host.imageDir, as the paper does:
  - the template VM (the first of nodes:) gets a new image: vmctl create -s SIZE IMAGEDIR/NAME.qcow2, where
    SIZE is its vm.disk (default 5G); install OpenBSD on it, then stop it (vmctl stop NAME);
  - every other VM gets a copy of the template's image, which must exist, made while the template VM is
    stopped (a copy of a running VM's disk is not consistent).
An image that exists is never overwritten. Run it on the VMM host, as root; nothing goes through the
coordinator, and no apply ever creates an image. The host's agent starts the VM once vm.conf lists it.

Options:
  --vmctl PATH   vmctl(8) (default /usr/sbin/vmctl)
  --root DIR     prefix of host.imageDir (default /; a sandbox in tests)

Exit status: 0 created, 1 refused or failed, 64 bad command line.`;

interface Run {
  code: number;
  output: string;
}

function run(file: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.trim();
      if (!err) return resolve({ code: 0, output });
      const code = (err as NodeJS.ErrnoException).code;
      resolve({ code: typeof code === "number" ? code : 127, output: output || err.message });
    });
  });
}

async function exists(p: string): Promise<boolean> {
  try {
    await lstat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** Whether `vmctl status` lists NAME as running; false when vmd does not answer (then no VM runs). */
async function running(vmctl: string, name: string): Promise<boolean> {
  const r = await run(vmctl, ["status"]);
  if (r.code !== 0) return false;
  return r.output.split("\n").some((line) => {
    const f = line.trim().split(/\s+/);
    return f.at(-1) === name && f.includes("running");
  });
}

async function create(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { vmctl: { type: "string" }, root: { type: "string" } }, 2);
  const name = positionals[0];
  if (!name) throw new UsageError("vm create needs the NAME of a VM of the spec");
  const { spec: file } = specPaths(io, positionals[1], undefined);
  const res = await loadSpecFile(file);
  if (!res.ok) {
    for (const p of res.problems) io.err(`${formatProblem(p)}\n`);
    return EXIT.error;
  }
  const spec = res.spec;
  const node = spec.nodes.find((n) => n.name === name);
  const template = spec.nodes[0];
  if (!node || !template) {
    io.err(
      `vmmeet vm create: "${name}" is not a VM of ${file} (${spec.nodes.map((n) => n.name).join(", ")})\n`,
    );
    return EXIT.error;
  }
  const vmctl = str(values.vmctl) ?? "/usr/sbin/vmctl";
  const root = path.resolve(io.cwd, str(values.root) ?? "/");
  const onHost = (p: string) => path.join(root, p);
  const image = diskPath(spec, node);
  if (await exists(onHost(image))) {
    io.err(
      `vmmeet vm create: ${image} exists; an image is never overwritten (remove it yourself if you mean to)\n`,
    );
    return EXIT.error;
  }
  await mkdir(path.dirname(onHost(image)), { recursive: true, mode: 0o755 });
  if (node === template) {
    const r = await run(vmctl, ["create", "-s", node.vm.disk, onHost(image)]);
    if (r.code !== 0) {
      io.err(
        `vmmeet vm create: vmctl create -s ${node.vm.disk} ${image} failed (exit ${r.code}): ${r.output}\n`,
      );
      return EXIT.error;
    }
    io.out(
      `${image}: created (${node.vm.disk}) for the template VM ${name}; install OpenBSD on it (vmctl start with -r installXX.iso), then stop it before creating the other VMs\n`,
    );
    return EXIT.ok;
  }
  const source = diskPath(spec, template);
  if (!(await exists(onHost(source)))) {
    io.err(
      `vmmeet vm create: the template's image ${source} does not exist; create and install ${template.name} first (vmmeet vm create ${template.name})\n`,
    );
    return EXIT.error;
  }
  if (await running(vmctl, template.name)) {
    io.err(
      `vmmeet vm create: the template VM ${template.name} is running; stop it first (vmctl stop ${template.name}): a copy of a running VM's disk is not consistent\n`,
    );
    return EXIT.error;
  }
  // COPYFILE_EXCL: an image that appeared meanwhile is not overwritten either.
  await copyFile(onHost(source), onHost(image), constants.COPYFILE_EXCL);
  io.out(
    `${image}: copied from ${source} (the template ${template.name}); enroll its agent as ${name} (vmmeet agents token ${name}); the host's agent starts it once vm.conf lists it\n`,
  );
  return EXIT.ok;
}

export const vm: Command = {
  name: "vm",
  usage: USAGE,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === "create") return create(rest, io);
    throw new UsageError(sub === undefined ? "missing subcommand (create)" : `unknown subcommand "${sub}"`);
  },
};
