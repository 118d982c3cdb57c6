#!/usr/bin/env node
// vmctl(8) TEST DOUBLE (our own code, not OpenBSD's vmctl) on a fake root given by VMCTL_DOUBLE_ROOT.
// Talks to the vmd stand-in through the shared state file (state.mjs) instead of /var/run/vmd.sock; every
// command but `create` needs that vmd running, as vmctl needs vmd's socket. See README.md.
//
//   vmctl status [NAME]     ID PID VCPUS MAXMEM CURMEM TTY OWNER STATE NAME table
//   vmctl start NAME        a VM of the loaded vm.conf whose first disk exists under ROOT
//   vmctl stop NAME
//   vmctl reload            vmd re-reads ROOT/etc/vm.conf (refused, config kept, when it does not parse)
//   vmctl create [-s SIZE] [-b BASE] FILE   a placeholder image file (never over an existing one)
import fs from "node:fs";
import path from "node:path";
import { parseSize } from "../../../packages/coordinator/dist/render/grammar/index.js";
import {
  applyConfig,
  fakeRoot,
  loadConfig,
  markRunning,
  readState,
  scaled,
  startProblem,
  stateDir,
  vmdAlive,
  withState,
} from "./state.mjs";

const USAGE =
  "usage:\tvmctl [-v] command [arg ...]\n" +
  "\tvmctl create [-b base | -i disk] [-s size] disk\n" +
  "\tvmctl reload\n" +
  "\tvmctl start [-cL] [-B device] [-b path] [-d disk] [-i count]\n" +
  "\t    [-m size] [-n switch] [-r path] [-t name] id | name\n" +
  "\tvmctl status [id]\n" +
  "\tvmctl stop [-fw] [id | -a]\n";

const ROOT = fakeRoot("vmctl", "VMCTL_DOUBLE_ROOT");
const err = (s) => process.stderr.write(s);
const out = (s) => process.stdout.write(s);

function needVmd() {
  if (!vmdAlive(readState(ROOT))) {
    err("vmctl: connect: /var/run/vmd.sock: No such file or directory\n");
    process.exit(1);
  }
}

function usage() {
  err(USAGE);
  process.exit(1);
}

async function main(argv) {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case "status":
    case "show": {
      needVmd();
      const st = readState(ROOT);
      const rows = st.config
        .map((d) => ({ d, vm: st.vms[d.name] }))
        .filter((r) => r.vm && (args[0] === undefined || args[0] === r.d.name || args[0] === String(r.vm.id)))
        .sort((a, b) => a.vm.id - b.vm.id);
      out(
        `${"ID".padStart(5)} ${"PID".padStart(5)} ${"VCPUS".padStart(5)} ${"MAXMEM".padStart(7)} ${"CURMEM".padStart(7)} ${"TTY".padStart(7)} ${"OWNER".padStart(12)} ${"STATE".padStart(8)}   NAME\n`,
      );
      for (const { d, vm } of rows) {
        const run = vm.state === "running";
        out(
          `${String(vm.id).padStart(5)} ${(run ? String(20000 + vm.id) : "-").padStart(5)} ${"1".padStart(5)} ${scaled(d.memory).padStart(7)} ${(run ? scaled(d.memory) : "-").padStart(7)} ${(run ? `ttyp${vm.id}` : "-").padStart(7)} ${"root".padStart(12)} ${vm.state.padStart(8)}   ${d.name}\n`,
        );
      }
      return 0;
    }
    case "start": {
      if (args.length > 1) {
        err("vmctl test double: start options are not emulated\n");
        return 3;
      }
      const name = args[0];
      if (!name) return usage();
      needVmd();
      return withState(ROOT, (st) => {
        const why = startProblem(ROOT, st, name);
        if (why) {
          err(`vmctl: start vm command failed: ${why}\n`);
          return 1;
        }
        const id = markRunning(st, name);
        err(`vmctl: started vm ${id} successfully, tty /dev/ttyp${id}\n`);
        return 0;
      });
    }
    case "stop": {
      const name = args.at(-1);
      if (!name || name.startsWith("-")) return usage();
      needVmd();
      return withState(ROOT, (st) => {
        const vm = st.vms[name];
        if (vm?.state !== "running") {
          err(`vmctl: stop vm command failed: ${vm ? "Invalid argument" : "No such file or directory"}\n`);
          return 1;
        }
        vm.state = "stopped";
        out(`stopping vm ${name}: requested to shutdown vm ${vm.id}\n`);
        return 0;
      });
    }
    case "reload": {
      if (args.length > 0) return usage();
      needVmd();
      const loaded = loadConfig(path.join(ROOT, "etc/vm.conf"));
      if (!loaded.ok) {
        // vmd logs these and keeps its configuration; the double answers with them to be useful.
        for (const e of loaded.errors) err(`${e}\n`);
        err("vmctl: reload command failed: Invalid argument\n");
        return 1;
      }
      return withState(ROOT, (st) => {
        applyConfig(st, loaded.config);
        return 0;
      });
    }
    case "create": {
      let size = null;
      let base = null;
      const rest = [...args];
      while (rest[0]?.startsWith("-")) {
        const o = rest.shift();
        if (o === "-s") size = rest.shift();
        else if (o === "-b") base = rest.shift();
        else return usage();
      }
      const file = rest[0];
      if (!file || rest.length !== 1 || (size === null && base === null)) return usage();
      if (size !== null && !parseSize(size)) {
        err(`vmctl: invalid size: ${size}\n`);
        return 1;
      }
      const abs = path.resolve(file);
      if (abs !== ROOT && !abs.startsWith(`${ROOT}/`)) {
        err(`vmctl test double: ${abs} is outside the fake root ${ROOT}; refusing\n`);
        return 3;
      }
      if (base !== null && !fs.existsSync(base)) {
        err(`vmctl: could not open base image ${base}: No such file or directory\n`);
        return 1;
      }
      try {
        // A placeholder, not a qcow2 image: the magic, then what was asked.
        fs.writeFileSync(abs, `QFI\u00fb vmctl-double ${JSON.stringify({ size, base })}\n`, { flag: "wx" });
      } catch (e) {
        err(`vmctl: create imagefile operation failed: ${e.code === "EEXIST" ? "File exists" : e.message}\n`);
        return 1;
      }
      fs.mkdirSync(stateDir(ROOT), { recursive: true });
      fs.appendFileSync(path.join(stateDir(ROOT), "history.log"), `create ${abs}\n`);
      err(`vmctl: ${abs.endsWith(".qcow2") ? "qcow2" : "raw"} imagefile created\n`);
      return 0;
    }
    default:
      return usage();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code ?? 0),
  (e) => {
    err(`vmctl test double: internal error: ${e?.stack ?? e}\n`);
    process.exit(3);
  },
);
