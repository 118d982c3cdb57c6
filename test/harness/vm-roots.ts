// The simulated VMs' roots of the sandbox: a temporary root per node with the rcctl double (its calls
// recorded), an idle syslogd, pfctl, and by role the VMM host's doubles and VM setup, an idle coturn
// stand-in, or the simulated Jitsi services.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { makePfctl } from "../doubles/pfctl/index.js";
import { makeRcctl, runRcctl, writeRcScript } from "../doubles/rcctl/index.js";
import { makeSysctl } from "../doubles/sysctl/index.js";
import { makeVmctl } from "../doubles/vmctl/index.js";
import { makeVmd, writeVmdRcScript } from "../doubles/vmd/index.js";
import { installSimulatedVm } from "../simulators/index.js";
import { repoRoot } from "../validators/paths.js";
import type { NodeSandbox } from "./agents.js";
import { runVmmeet, type SpecNode } from "./vmmeet-cli.js";

/** Where the rcctl wrapper of makeNodeRoot records every call: one line of arguments per call. */
export const RCCTL_CALLS = "var/run/rcctl-calls.log";

/** An rc.d script for a service the sandbox only needs to exist: test/harness/idle.mjs NAME. */
function writeIdleRcScript(root: string, name: string): Promise<string> {
  return writeRcScript(root, name, {
    daemon: `${process.execPath} ${path.join(repoRoot(), "test/harness/idle.mjs")} ${name}`,
    timeout: 5,
  });
}

/**
 * A node's root (DIR/vms/NAME) with the rcctl double and an idle syslogd. The rcctl returned records each
 * call's arguments in ROOT/RCCTL_CALLS before running the double, so tests can tell which services a push
 * restarted or reloaded.
 */
export async function makeNodeRoot(dir: string, name: string): Promise<{ root: string; rcctl: string }> {
  const root = path.join(dir, "vms", name);
  await mkdir(root, { recursive: true });
  const double = await makeRcctl(root);
  const rcctl = path.join(root, "usr/sbin/rcctl-recorded");
  await mkdir(path.join(root, "var/run"), { recursive: true });
  await writeFile(
    rcctl,
    `#!/bin/sh
# records the call, then runs the rcctl test double
printf '%s\\n' "$*" >> '${path.join(root, RCCTL_CALLS)}'
exec '${double}' "$@"
`,
    { mode: 0o755 },
  );
  // syslogd exists on every OpenBSD system; the agent reloads it after adding a program block.
  await writeIdleRcScript(root, "syslogd");
  return { root, rcctl };
}

/**
 * The VMM host's vmctl, vmd and sysctl doubles and the paper's VM setup, done before vmmeet drives the host:
 * disk images (the template's, then copies) and vmd running with an empty vm.conf (rcctl enable vmd; rcctl
 * start vmd). Returns the agent arguments naming the doubles.
 */
export async function prepareHost(
  dir: string,
  root: string,
  rcctl: string,
  vms: string[],
): Promise<string[]> {
  const vmctl = await makeVmctl(root);
  const args = ["--vmctl", vmctl, "--vmd", await makeVmd(root), "--sysctl", await makeSysctl(root)];
  for (const vm of vms) {
    const made = await runVmmeet(dir, ["vm", "create", vm, "--vmctl", vmctl, "--root", root]);
    if (made.code !== 0) throw new Error(`vmmeet vm create ${vm}: ${made.stderr}`);
  }
  await mkdir(path.join(root, "etc"), { recursive: true });
  await writeFile(path.join(root, "etc/vm.conf"), "# vm.conf before vmmeet's first push\n");
  await writeVmdRcScript(root);
  for (const args of [
    ["enable", "vmd"],
    ["start", "vmd"],
  ]) {
    const r = await runRcctl(rcctl, args);
    if (r.code !== 0) throw new Error(`rcctl ${args.join(" ")} on the host: ${r.stdout}${r.stderr}`);
  }
  return args;
}

export interface NodeVm {
  /** The sandbox directory. */
  dir: string;
  /** Where the simulated services publish their ports (DIR/net). */
  netDir: string;
  node: SpecNode<NodeSandbox["role"]>;
  /** The node's root and rcctl, from makeNodeRoot. */
  root: string;
  rcctl: string;
  /** For the host: the VMs of the spec, whose disk images prepareHost makes. */
  vms: () => Promise<string[]>;
}

/**
 * What a node's VM holds besides the agent: pfctl everywhere; on the host its doubles and the VM setup
 * (prepareHost); on the turn node an idle coturn; on the others the site certificate's placeholders (web)
 * and the simulated services. Returns the agent arguments naming the node's tools.
 */
export async function prepareNodeVm(vm: NodeVm): Promise<string[]> {
  const { node: n, root, rcctl } = vm;
  const extra: string[] = ["--pfctl", await makePfctl(root)];
  if (n.role === "host") {
    extra.push(...(await prepareHost(vm.dir, root, rcctl, await vm.vms())));
  } else if (n.role === "turn") {
    // coturn is not simulated: an idle stand-in holds its rc.d name (the turn node has no probe and no
    // log rule; the agent only writes turnserver.conf and drives the service).
    await writeIdleRcScript(root, "turnserver");
  } else {
    if (n.role === "web") {
      // tls.mode files: the admin puts the site's certificate there (the nginx simulator does no TLS).
      for (const [file, what] of [
        ["etc/ssl/jitsi.fullchain.pem", "certificate"],
        ["etc/ssl/private/jitsi.key", "key"],
      ] as const) {
        await mkdir(path.dirname(path.join(root, file)), { recursive: true });
        await writeFile(
          path.join(root, file),
          `placeholder ${what} of the sandbox (the nginx simulator does no TLS)\n`,
        );
      }
    }
    const sim = await installSimulatedVm(root, n.role, {
      netDir: vm.netDir,
      rcctl,
      backoffMaxMs: 500,
      addresses: n.address ? [n.address] : [],
    });
    if (sim.prosodyctl) extra.push("--prosodyctl", sim.prosodyctl);
    if (n.address) extra.push("--port-map-dir", path.join(vm.netDir, n.address));
  }
  return extra;
}
