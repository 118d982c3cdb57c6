// Shared state of the vmctl(8) and vmd(8) TEST DOUBLES (our own code, not OpenBSD's): one JSON file per fake
// root, ROOT/var/db/vmctl-double/state.json, changed under a lock by whichever double acts (vmctl, or the
// vmd stand-in started through the rcctl double). VMs are records, not processes: "running" means vmd
// would run it. See README.md in this folder.
import fs from "node:fs";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import {
  checkVmConf,
  parseSize,
  parseVmConf,
} from "../../../packages/coordinator/dist/render/grammar/index.js";

/** The fake root from an environment variable (or the rcctl double's daemon marker); never "/". */
export function fakeRoot(what, ...vars) {
  const name = vars.find((v) => process.env[v]);
  if (!name) {
    process.stderr.write(`${what} test double: ${vars[0]} is not set; refusing to run\n`);
    process.exit(3);
  }
  const real = fs.realpathSync(process.env[name]);
  if (real === "/") {
    process.stderr.write(`${what} test double: ${name} resolves to /; refusing to run\n`);
    process.exit(3);
  }
  return real;
}

export const stateDir = (root) => path.join(root, "var/db/vmctl-double");
const stateFile = (root) => path.join(stateDir(root), "state.json");

export function readState(root) {
  try {
    return JSON.parse(fs.readFileSync(stateFile(root), "utf8"));
  } catch {
    return { vmd: null, config: [], vms: {}, nextId: 1 };
  }
}

function writeState(root, st) {
  const tmp = `${stateFile(root)}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(st, null, 2)}\n`);
  fs.renameSync(tmp, stateFile(root));
}

/** Runs fn(state) under ROOT/var/db/vmctl-double/lock (mkdir is atomic) and saves what it changed. */
export async function withState(root, fn) {
  fs.mkdirSync(stateDir(root), { recursive: true });
  const lock = path.join(stateDir(root), "lock");
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if (e.code !== "EEXIST") throw e;
      if (Date.now() > deadline) throw new Error("vmctl test double: state lock held for 10 s");
      await delay(20);
    }
  }
  try {
    const st = readState(root);
    const out = await fn(st);
    writeState(root, st);
    return out;
  } finally {
    fs.rmdirSync(lock);
  }
}

export function vmdAlive(st) {
  if (!st.vmd?.pid) return false;
  try {
    process.kill(st.vmd.pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * vm.conf as vmd would load it: instances inherit their template's memory and enable (vm.conf(5): a VM
 * is started unless it says disable). Errors as "FILE:LINE: message" lines.
 */
export function loadConfig(file) {
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return {
      ok: false,
      errors: [`${file}: ${e.code === "ENOENT" ? "No such file or directory" : e.message}`],
    };
  }
  const check = checkVmConf(text);
  if (!check.ok) return { ok: false, errors: check.errors.map((p) => `${file}:${p.line}: ${p.message}`) };
  const { conf } = parseVmConf(text);
  const byName = new Map();
  const out = [];
  for (const vm of conf.vms) {
    const base = vm.instanceOf ? byName.get(vm.instanceOf) : undefined;
    const def = {
      name: vm.name,
      instanceOf: vm.instanceOf ?? null,
      enable: vm.enable ?? base?.enable ?? true,
      memory: vm.memory ?? base?.memory ?? "512M",
      disks: vm.disks.length > 0 ? vm.disks.map((d) => d.path) : (base?.disks ?? []),
    };
    byName.set(vm.name, def);
    out.push(def);
  }
  return { ok: true, config: out };
}

/** Takes a loaded config: VMs it names get an id (kept across reloads); running ones keep running. */
export function applyConfig(st, config) {
  st.config = config;
  for (const def of config) {
    if (!st.vms[def.name]) st.vms[def.name] = { id: st.nextId++, state: "stopped" };
  }
}

/** Why vmd could not start a VM now, or null: its first disk must exist under the fake root. */
export function startProblem(root, st, name) {
  const def = st.config.find((d) => d.name === name);
  if (!def) return "No such file or directory";
  if (st.vms[name]?.state === "running") return "Operation already in progress";
  const disk = def.disks[0];
  if (!disk || !fs.existsSync(path.join(root, disk))) return "No such file or directory";
  return null;
}

export function markRunning(st, name) {
  st.vms[name] = { ...(st.vms[name] ?? { id: st.nextId++ }), state: "running" };
  return st.vms[name].id;
}

/** vmctl's MAXMEM column, fmt_scaled(3) style: one decimal below 10 ("2.0G"), none above ("512M"). */
export function scaled(size) {
  let n = parseSize(size) ?? 0;
  const units = ["B", "K", "M", "G", "T"];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  return `${n < 10 ? n.toFixed(1) : Math.round(n)}${units[u]}`;
}
